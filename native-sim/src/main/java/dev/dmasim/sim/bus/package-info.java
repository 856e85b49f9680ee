/** Bus-master devices: the device side of DMA (dmaRead, dmaWrite, translate). */
package dev.dmasim.sim.bus;
