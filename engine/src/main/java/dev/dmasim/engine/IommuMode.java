package dev.dmasim.engine;

/**
 * How a device reaches memory, like the kernel's default-domain choice.
 * <ul>
 * <li>{@link #NONE}: no IOMMU; dma-direct (with swiotlb bouncing where needed).</li>
 * <li>{@link #PASSTHROUGH}: an IOMMU with an identity domain ({@code iommu.passthrough=1}); dma-direct.</li>
 * <li>{@link #STRICT}: a DMA domain ({@code iommu.strict=1}); every unmap invalidates the IOTLB before the
 * IOVA is reused.</li>
 * <li>{@link #LAZY}: a DMA-FQ domain ({@code iommu.strict=0}); unmaps are queued per CPU and invalidated in
 * batches (256 entries or 10 ms), so a device may reach freed pages until the flush.</li>
 * </ul>
 */
public enum IommuMode
{
    NONE, PASSTHROUGH, STRICT, LAZY;

    /** @return the mode named {@code s} (case-insensitive), e.g. {@code "lazy"}. */
    public static IommuMode parse(final String s)
    {
        for (final IommuMode m : values())
        {
            if (m.name().equalsIgnoreCase(s))
            {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown IOMMU mode '" + s + "': expected none, passthrough, strict or lazy");
    }

    /** @return true if devices in this mode are mapped by dma-iommu (STRICT or LAZY). */
    public boolean translated()
    {
        return this == STRICT || this == LAZY;
    }
}
