/** The physical address space (RAM and MMIO regions) and the page-frame allocator. */
package dev.dmasim.sim.mem;
