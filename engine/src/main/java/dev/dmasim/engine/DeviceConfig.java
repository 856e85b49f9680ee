package dev.dmasim.engine;

import java.util.regex.Pattern;

/**
 * What a device is, before it is attached: its PCI requester id, DMA addressing width, coherency, trust,
 * and the DMA parameters a driver would set ({@code dma_set_min_align_mask}, {@code dma_set_max_seg_size},
 * {@code dma_set_seg_boundary}). Sizes and masks are bytes. Immutable: every setter returns a copy.
 */
public record DeviceConfig(String bdf, String driver, int dmaBits, boolean coherent, boolean untrusted,
    long minAlignMask, long maxSegSize, long segBoundary, IommuMode iommu, long busDmaLimit, long dmaOffset)
{
    private static final Pattern BDF = Pattern.compile("[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\\.[0-7]");

    /** The kernel's default max segment size, 64 KiB. */
    public static final long DEFAULT_MAX_SEG_SIZE = 64L << 10;

    public DeviceConfig
    {
        if (bdf == null || !BDF.matcher(bdf).matches())
        {
            throw new IllegalArgumentException("device name must be a PCI BDF like 0000:03:00.0, was " + bdf);
        }
        if (driver == null || driver.isEmpty())
        {
            throw new IllegalArgumentException(bdf + ": driver name must not be empty");
        }
        if (dmaBits < 12 || dmaBits > 64)
        {
            throw new IllegalArgumentException(bdf + ": dmaBits must be 12..64, was " + dmaBits);
        }
        if (minAlignMask < 0 || (minAlignMask & (minAlignMask + 1)) != 0)
        {
            throw new IllegalArgumentException(bdf + ": minAlignMask must be 2^n-1, was 0x" + Long.toHexString(minAlignMask));
        }
        if (maxSegSize <= 0 || maxSegSize > 0xFFFF_FFFFL)
        {
            throw new IllegalArgumentException(bdf + ": maxSegSize must be 1..2^32-1 bytes, was " + maxSegSize);
        }
        if (segBoundary != -1L && (segBoundary < 0xFFF || (segBoundary & (segBoundary + 1)) != 0))
        {
            throw new IllegalArgumentException(bdf + ": segBoundary must be 2^n-1 >= 0xfff, was 0x" + Long.toHexString(segBoundary));
        }
        if (busDmaLimit < 0)
        {
            throw new IllegalArgumentException(bdf + ": busDmaLimit must be >= 0 (0 = none), was " + busDmaLimit);
        }
    }

    /** A coherent, trusted PCI device with a 64-bit DMA mask, using the engine's default IOMMU mode. */
    public static DeviceConfig pci(final String bdf)
    {
        return new DeviceConfig(bdf, "dmasim", 64, true, false, 0, DEFAULT_MAX_SEG_SIZE, -1L, null, 0, 0);
    }

    /** @return a copy whose DMA mask (streaming and coherent) is {@code bits} wide; also the bus address width. */
    public DeviceConfig dmaBits(final int bits)
    {
        return new DeviceConfig(bdf, driver, bits, coherent, untrusted, minAlignMask, maxSegSize, segBoundary, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy with the driver name dma-debug prints. */
    public DeviceConfig driver(final String name)
    {
        return new DeviceConfig(bdf, name, dmaBits, coherent, untrusted, minAlignMask, maxSegSize, segBoundary, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy that is (or is not) cache-coherent. */
    public DeviceConfig coherent(final boolean on)
    {
        return new DeviceConfig(bdf, driver, dmaBits, on, untrusted, minAlignMask, maxSegSize, segBoundary, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy that is (or is not) untrusted (external, Thunderbolt): strict IOMMU, sub-granule bounce. */
    public DeviceConfig untrusted(final boolean on)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, on, minAlignMask, maxSegSize, segBoundary, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy with {@code dma_set_min_align_mask(mask)} (NVMe: 0xfff). */
    public DeviceConfig minAlignMask(final long mask)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, untrusted, mask, maxSegSize, segBoundary, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy with {@code dma_set_max_seg_size(bytes)}. */
    public DeviceConfig maxSegSize(final long bytes)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, untrusted, minAlignMask, bytes, segBoundary, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy with {@code dma_set_seg_boundary(mask)} (-1 = none). */
    public DeviceConfig segBoundary(final long mask)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, untrusted, minAlignMask, maxSegSize, mask, iommu,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy that overrides the engine's default IOMMU mode for this device. */
    public DeviceConfig iommu(final IommuMode mode)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, untrusted, minAlignMask, maxSegSize, segBoundary, mode,
            busDmaLimit, dmaOffset);
    }

    /** @return a copy with a bus DMA limit ({@code bus_dma_limit}, an inclusive address; 0 = none). */
    public DeviceConfig busDmaLimit(final long limit)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, untrusted, minAlignMask, maxSegSize, segBoundary, iommu,
            limit, dmaOffset);
    }

    /**
     * @return a copy whose bus sees RAM at {@code dma = phys + offset} (a one-entry {@code dma_range_map},
     * {@code dma_direct_set_offset}); RAM only (MMIO stays at its physical address); dma-direct ({@code IommuMode.NONE})
     * only: {@code DmaEngine.attach} rejects it in the other modes.
     */
    public DeviceConfig dmaOffset(final long offset)
    {
        return new DeviceConfig(bdf, driver, dmaBits, coherent, untrusted, minAlignMask, maxSegSize, segBoundary, iommu,
            busDmaLimit, offset);
    }
}
