/**
 * dmasim's model of the Linux DMA-mapping layer: dma-direct, swiotlb, dma-iommu, the IOVA allocator,
 * the 2-step IOVA API and dma-debug. Embedders use {@code dev.dmasim.engine} only.
 */
@SuppressWarnings("module") // the qualified export below names the bench module, built after this one
module dev.dmasim.engine {
    requires transitive dev.dmasim.sim;
    requires org.jctools.core;
    requires transitive jdk.jfr; // the JFR event classes of trace.jfr extend jdk.jfr.Event
    exports dev.dmasim.engine;
    exports dev.dmasim.engine.debug;
    exports dev.dmasim.engine.check;
    exports dev.dmasim.engine.cpu;
    // Types returned by the public API: DmaEngine.cpu() (CpuBinding.bind, DESIGN §4) and DmaEngine.swiotlb().
    exports dev.dmasim.engine.swiotlb;
    exports dev.dmasim.engine.trace;
    exports dev.dmasim.engine.trace.jfr;
    // JMH benchmarks of the internals (dmasim's own bench module only)
    exports dev.dmasim.engine.iova to dev.dmasim.bench;
}
