/**
 * The physical address space (RAM and MMIO regions) and the page-frame allocator.
 * <ul>
 *   <li>{@link dev.dmasim.sim.mem.PhysicalMemory} — the CPU/bus view of physical memory; implemented by
 *       {@link dev.dmasim.sim.mem.PhysAddressSpace}: sparse RAM in lazily allocated chunks of one shared
 *       arena, MMIO regions dispatching to {@link dev.dmasim.sim.mem.MmioHandler}s, holes that decode to
 *       {@link dev.dmasim.sim.mem.MemTx#DECODE_ERROR}.</li>
 *   <li>{@link dev.dmasim.sim.mem.PageAllocator} — page frames by order and {@link dev.dmasim.sim.mem.Zone};
 *       implemented by {@link dev.dmasim.sim.mem.BuddyPageAllocator}.</li>
 * </ul>
 * Units: addresses, sizes and offsets are bytes unless a name says pages or order. Every public type here is
 * thread-safe except the builders.
 */
package dev.dmasim.sim.mem;
