package dev.dmasim.engine;

/**
 * {@code DMA_ATTR_*} flags as {@code long} bits at the kernel's positions; combine with {@code |}.
 */
public final class DmaAttrs
{
    /** No attributes. */
    public static final long NONE = 0L;
    /** Reads and writes may be reordered; ignored, as on most platforms. */
    public static final long WEAK_ORDERING = 1L << 1;
    /** Allocation only: write-combining CPU mapping. */
    public static final long WRITE_COMBINE = 1L << 2;
    /** Allocation only: no kernel virtual mapping. */
    public static final long NO_KERNEL_MAPPING = 1L << 4;
    /** Skip CPU cache maintenance and the swiotlb copy-back at unmap; the caller syncs. */
    public static final long SKIP_CPU_SYNC = 1L << 5;
    /** IOMMU allocation must be physically contiguous. */
    public static final long FORCE_CONTIGUOUS = 1L << 6;
    /** Hint: build IOMMU allocations from order-0 pages. */
    public static final long ALLOC_SINGLE_PAGES = 1L << 7;
    /** Suppress allocation-failure reports such as "swiotlb buffer is full". */
    public static final long NO_WARN = 1L << 8;
    /** Privileged (supervisor) IOMMU mapping. */
    public static final long PRIVILEGED = 1L << 9;
    /** The physical address is MMIO, not RAM: never bounced, never cache-maintained, IOMMU_MMIO prot. */
    public static final long MMIO = 1L << 10;
    /** The driver promises the CPU never dirties a cacheline of the buffer while mapped (dma-debug only). */
    public static final long CPU_CACHE_CLEAN = 1L << 11;
    /** Fail the mapping unless the device is cache-coherent; never bounce. */
    public static final long REQUIRE_COHERENT = 1L << 12;

    private DmaAttrs()
    {
    }

    /** @return true if every bit of {@code flag} is set in {@code attrs}. */
    public static boolean has(final long attrs, final long flag)
    {
        return (attrs & flag) == flag;
    }
}
