/**
 * dmasim's DMA checkers beyond dma-debug: missing syncs (with the CPU cache model), buffer ownership, use after
 * unmap and the lazy-IOTLB exposure window. {@link dev.dmasim.engine.check.DmaChecks} is reached through
 * {@code DmaEngine.checks()}; findings are {@link dev.dmasim.engine.check.CheckReport}s.
 */
package dev.dmasim.engine.check;
