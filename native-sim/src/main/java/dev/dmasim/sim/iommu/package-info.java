/** The IOMMU hardware: domains, I/O page tables stored in simulated RAM, the IOTLB, the fault ring. */
package dev.dmasim.sim.iommu;
