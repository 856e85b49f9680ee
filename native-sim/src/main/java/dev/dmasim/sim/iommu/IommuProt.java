package dev.dmasim.sim.iommu;

/**
 * Protection flags for {@link IoPageTable#map} and {@link IommuDomain#map}, at the Linux {@code IOMMU_*} bit
 * positions ({@code include/linux/iommu.h}). At least one of {@link #READ} or {@link #WRITE} is required.
 */
public final class IommuProt
{
    /** Device may read ({@code IOMMU_READ}). */
    public static final int READ = 1;
    /** Device may write ({@code IOMMU_WRITE}). */
    public static final int WRITE = 1 << 1;
    /** Cache-coherent ({@code IOMMU_CACHE}); accepted and ignored. */
    public static final int CACHE = 1 << 2;
    /** No instruction fetch ({@code IOMMU_NOEXEC}); accepted and ignored. */
    public static final int NOEXEC = 1 << 3;
    /** Device memory, not cacheable ({@code IOMMU_MMIO}). */
    public static final int MMIO = 1 << 4;
    /** Privileged-only ({@code IOMMU_PRIV}); recorded in the PTE, not enforced. */
    public static final int PRIV = 1 << 5;
    /** Every bit {@code map} accepts. */
    public static final int ALL = READ | WRITE | CACHE | NOEXEC | MMIO | PRIV;

    private IommuProt()
    {
    }

    /** @return the PTE attribute bits ({@link PteDescriptor#ATTR_MASK}) for {@code prot}. */
    public static long toPteAttrs(final int prot)
    {
        return ((prot & READ) != 0 ? PteDescriptor.READ : 0) |
            ((prot & WRITE) != 0 ? PteDescriptor.WRITE : 0) |
            ((prot & MMIO) != 0 ? PteDescriptor.MMIO : 0) |
            ((prot & PRIV) != 0 ? PteDescriptor.PRIV : 0);
    }
}
