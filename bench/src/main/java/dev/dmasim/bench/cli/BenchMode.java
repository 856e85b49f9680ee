package dev.dmasim.bench.cli;

import dev.dmasim.engine.IommuMode;

import java.util.Locale;

/**
 * The ways a benchmark cell maps: the four {@link IommuMode}s, plus {@link #SWIOTLB}: dma-direct with every streaming
 * mapping forced through the swiotlb bounce pool ({@code swiotlb=force}, as in confidential-computing guests).
 */
public enum BenchMode
{
    /** dma-direct: bus address = physical address. */
    NONE(IommuMode.NONE, false),
    /** an identity IOMMU domain; dma-direct. */
    PASSTHROUGH(IommuMode.PASSTHROUGH, false),
    /** dma-iommu, one IOTLB invalidation per unmap. */
    STRICT(IommuMode.STRICT, false),
    /** dma-iommu with per-CPU flush queues. */
    LAZY(IommuMode.LAZY, false),
    /** dma-direct with {@code swiotlb=force}: every mapping bounces. */
    SWIOTLB(IommuMode.NONE, true);

    private final IommuMode iommu;
    private final boolean forceBounce;

    BenchMode(final IommuMode iommu, final boolean forceBounce)
    {
        this.iommu = iommu;
        this.forceBounce = forceBounce;
    }

    /** @return the IOMMU mode of the device. */
    public IommuMode iommu()
    {
        return iommu;
    }

    /** @return true if the swiotlb pool is forced. */
    public boolean forceBounce()
    {
        return forceBounce;
    }

    /** @return the lower-case name used on the command line and in reports. */
    public String label()
    {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @return the mode of an IOMMU mode plus the force-bounce flag (forced dma-direct is {@link #SWIOTLB}). */
    public static BenchMode of(final IommuMode mode, final boolean forceBounce)
    {
        if (forceBounce && (mode == IommuMode.NONE || mode == IommuMode.PASSTHROUGH))
        {
            return SWIOTLB;
        }
        return switch (mode)
        {
            case NONE -> NONE;
            case PASSTHROUGH -> PASSTHROUGH;
            case STRICT -> STRICT;
            case LAZY -> LAZY;
        };
    }

    /**
     * @return the mode named {@code s}: none, passthrough, strict, lazy, or swiotlb (also swiotlb-forced, bounce);
     * case-insensitive. @throws IllegalArgumentException naming the accepted values.
     */
    public static BenchMode parse(final String s)
    {
        final String t = s.trim().toLowerCase(Locale.ROOT);
        return switch (t)
        {
            case "none", "direct" -> NONE;
            case "passthrough", "pt" -> PASSTHROUGH;
            case "strict" -> STRICT;
            case "lazy" -> LAZY;
            case "swiotlb", "swiotlb-forced", "bounce" -> SWIOTLB;
            default -> throw new IllegalArgumentException(
                "unknown mode '" + s + "': expected none, passthrough, strict, lazy or swiotlb");
        };
    }
}
