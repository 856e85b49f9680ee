/**
 * dmasim's model of the Linux DMA-mapping layer: dma-direct, swiotlb, dma-iommu, the IOVA allocator,
 * the 2-step IOVA API and dma-debug. Embedders use {@code dev.dmasim.engine} only.
 */
module dev.dmasim.engine {
    requires transitive dev.dmasim.sim;
    requires org.jctools.core;
    exports dev.dmasim.engine;
    exports dev.dmasim.engine.debug;
    exports dev.dmasim.engine.check;
    exports dev.dmasim.engine.cpu;
}
