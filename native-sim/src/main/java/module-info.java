/**
 * dmasim's simulated hardware: physical address space (RAM and MMIO), page-frame allocator,
 * IOMMU with I/O page tables in simulated RAM and an IOTLB, bus-master devices, CPU cache model.
 * Knows nothing of Linux policy.
 */
@SuppressWarnings("requires-transitive-automatic") // Agrona has no module-info (an automatic module)
module dev.dmasim.sim {
    requires transitive org.agrona;
    exports dev.dmasim.sim.mem;
    exports dev.dmasim.sim.cache;
    exports dev.dmasim.sim.iommu;
    exports dev.dmasim.sim.bus;
}
