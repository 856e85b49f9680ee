/**
 * Baselines: a synchronized first-fit IOVA allocator over a {@link java.util.TreeMap}, raw
 * {@code MemorySegment.copy}, dma-direct map+unmap, {@link java.util.concurrent.ArrayBlockingQueue} offer+poll.
 */
package dev.dmasim.bench.jmh.baseline;
