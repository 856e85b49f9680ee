package dev.dmasim.engine.debug;

/** The kind of API call that created or released a dma-debug entry, with the kernel's {@code type2name}. */
public enum MappingType
{
    /** {@code dma_map_single}; only used by the single-range sync hooks today. */
    SINGLE("single"),
    /** {@code dma_map_sg}: one entry per mapped segment. */
    SCATTER_GATHER("scatter-gather"),
    /** {@code dma_alloc_coherent}. */
    COHERENT("coherent"),
    /** {@code dma_alloc_pages} / {@code dma_alloc_noncoherent}. */
    NONCOHERENT("noncoherent"),
    /** {@code dma_map_phys} (and its wrappers {@code dma_map_page}, {@code dma_map_resource}). */
    PHY("phy");

    private final String kernelName;

    MappingType(final String kernelName)
    {
        this.kernelName = kernelName;
    }

    /** @return the name dma-debug prints, e.g. {@code "scatter-gather"}. */
    public String kernelName()
    {
        return kernelName;
    }
}
