/**
 * Traces in the kernel's ftrace text format, and their replay.
 *
 * <ul>
 *   <li><b>Output.</b> {@link dev.dmasim.engine.trace.TraceSink} (a file or any {@link java.lang.Appendable}),
 *       installed with {@code DmaEngine.builder().trace(sink)} or {@code engine.trace(sink)}. The engine emits the
 *       events of {@code include/trace/events/dma.h} ({@code dma_map_phys}, {@code dma_unmap_phys},
 *       {@code dma_map_sg}, {@code dma_map_sg_err}, {@code dma_unmap_sg}, {@code dma_sync_single_for_cpu/device},
 *       {@code dma_sync_sg_for_cpu/device}, {@code dma_alloc}, {@code dma_free}, {@code dma_alloc_pages},
 *       {@code dma_free_pages}) with their {@code TP_printk} formats, and from the dma-iommu path the
 *       {@code iommu:map}, {@code iommu:unmap} and {@code iommu:io_page_fault} events of
 *       {@code include/trace/events/iommu.h}, so a dmasim trace can be compared line by line with a real
 *       kernel's. Off by default: one field read per API call.</li>
 *   <li><b>Parsing.</b> {@link dev.dmasim.engine.trace.TraceParser}: {@code /sys/kernel/tracing/trace},
 *       {@code trace-cmd report} or dmasim output, including truncated {@code dma_map_sg} arrays; malformed lines
 *       are kept with their line numbers.</li>
 *   <li><b>Replay.</b> {@link dev.dmasim.engine.trace.TraceReplay} replays a parsed trace on a simulated machine of
 *       any configuration and returns a {@link dev.dmasim.engine.trace.ReplayReport} ({@code dmasim replay}).</li>
 *   <li><b>JFR.</b> {@code dev.dmasim.engine.trace.jfr}: events {@code dmasim.Map}, {@code dmasim.Unmap},
 *       {@code dmasim.IommuFault}, disabled unless a recording enables them.</li>
 * </ul>
 */
package dev.dmasim.engine.trace;
