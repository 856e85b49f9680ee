/**
 * The CPU cache model for non-coherent devices: {@link dev.dmasim.sim.cache.CpuCache} (the maintenance
 * operations the DMA layer issues), {@link dev.dmasim.sim.cache.WriteBackCache} (a write-back set-associative
 * cache of 64-byte lines), {@link dev.dmasim.sim.cache.CpuView} (CPU loads and stores through it) and
 * {@link dev.dmasim.sim.cache.CoherentView} (the snooping data path of coherent bus masters); without a cache,
 * {@link dev.dmasim.sim.cache.ObservedMemory} is a CPU view that only tells a
 * {@link dev.dmasim.sim.cache.CpuAccessObserver} about each access.
 */
package dev.dmasim.sim.cache;
