/**
 * dma-debug ({@code CONFIG_DMA_API_DEBUG}): the engine records every mapping and allocation in
 * {@link dev.dmasim.engine.debug.DmaDebug} and checks each unmap, free and sync against it, reporting misuse
 * as {@link dev.dmasim.engine.debug.DebugReport}s with the kernel's message texts.
 */
package dev.dmasim.engine.debug;
