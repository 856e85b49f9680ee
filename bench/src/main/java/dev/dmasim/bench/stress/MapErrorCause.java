package dev.dmasim.bench.stress;

/** Why a mapping returned {@code DMA_MAPPING_ERROR} (or 0 / a negative errno) where the run allows it. */
public enum MapErrorCause
{
    /** A bounce was needed and the swiotlb pool had no room (the kernel's "swiotlb buffer is full"). */
    SWIOTLB_FULL("swiotlb full"),
    /** The IOVA space (or its 32-bit part) was exhausted. */
    IOVA_EXHAUSTED("IOVA space exhausted"),
    /** An untrusted device cannot map MMIO that is not granule-aligned (bouncing MMIO is impossible): required. */
    UNTRUSTED_UNALIGNED_MMIO("untrusted unaligned MMIO (required error)"),
    /** {@code iovaTryAlloc} refused without an IOMMU (required: use the streaming API). */
    NO_IOMMU_FOR_IOVA("iovaTryAlloc without an IOMMU (required refusal)");

    private final String label;

    MapErrorCause(final String label)
    {
        this.label = label;
    }

    /** @return the text printed in summaries. */
    public String label()
    {
        return label;
    }
}
