package dev.dmasim.engine;

import java.util.Arrays;

/**
 * A reusable scatter-gather list, struct-of-arrays (no object per entry): for each entry {@code i} the CPU
 * side {@code phys(i)}/{@code length(i)} (bytes) set by the driver, and after mapping the DMA side
 * {@code dmaAddress(i)}/{@code dmaLength(i)} for the first {@code n} entries, where {@code n} is what
 * {@code Device.mapSg} returned (an IOMMU may merge entries, so {@code n <= nents}).
 *
 * <p>Not thread-safe: one driver context fills and maps a list at a time, as in the kernel.
 */
public final class ScatterList
{
    private final long[] phys;
    private final long[] length;
    private final long[] dmaAddress;
    private final long[] dmaLength;
    private int flags;

    /** The list was mapped entry by entry through swiotlb ({@code sg_dma_mark_swiotlb}). */
    public static final int FLAG_SWIOTLB = 1;

    /** @param capacity the most entries the list can hold. */
    public ScatterList(final int capacity)
    {
        if (capacity < 1)
        {
            throw new IllegalArgumentException("scatterlist capacity must be >= 1, was " + capacity);
        }
        phys = new long[capacity];
        length = new long[capacity];
        dmaAddress = new long[capacity];
        dmaLength = new long[capacity];
    }

    /** @return the most entries the list can hold. */
    public int capacity()
    {
        return phys.length;
    }

    /** Sets entry {@code i} to the CPU physical range {@code [phys, phys+length)}; clears its DMA side. */
    public ScatterList set(final int i, final long phys, final long length)
    {
        checkIndex(i);
        if (length <= 0 || length > 0xFFFF_FFFFL)
        {
            throw new IllegalArgumentException("scatterlist entry " + i + ": length must be 1..2^32-1 bytes, was "
                + length);
        }
        if (phys < 0)
        {
            throw new IllegalArgumentException("scatterlist entry " + i + ": negative physical address " + phys);
        }
        this.phys[i] = phys;
        this.length[i] = length;
        dmaAddress[i] = 0;
        dmaLength[i] = 0;
        return this;
    }

    /** @return entry {@code i}'s CPU physical address (bytes). */
    public long phys(final int i)
    {
        return phys[i];
    }

    /** @return entry {@code i}'s length (bytes). */
    public long length(final int i)
    {
        return length[i];
    }

    /** @return the DMA address of mapped segment {@code i}. */
    public long dmaAddress(final int i)
    {
        return dmaAddress[i];
    }

    /** @return the DMA length (bytes) of mapped segment {@code i}; 0 past the last mapped segment. */
    public long dmaLength(final int i)
    {
        return dmaLength[i];
    }

    /** Engine use: sets the DMA side of segment {@code i}. */
    public void setDma(final int i, final long dmaAddress, final long dmaLength)
    {
        this.dmaAddress[i] = dmaAddress;
        this.dmaLength[i] = dmaLength;
    }

    /** Engine use: rewrites the CPU side of entry {@code i} (the IOMMU path aligns and later restores it). */
    public void setCpu(final int i, final long phys, final long length)
    {
        this.phys[i] = phys;
        this.length[i] = length;
    }

    /** @return the list flags ({@link #FLAG_SWIOTLB}). */
    public int flags()
    {
        return flags;
    }

    /** Engine use: sets the list flags. */
    public void flags(final int flags)
    {
        this.flags = flags;
    }

    /** Clears the DMA side of entries {@code 0..nents-1} and the flags. */
    public void clearDma(final int nents)
    {
        Arrays.fill(dmaAddress, 0, nents, 0L);
        Arrays.fill(dmaLength, 0, nents, 0L);
        flags = 0;
    }

    private void checkIndex(final int i)
    {
        if (i < 0 || i >= phys.length)
        {
            throw new IndexOutOfBoundsException("scatterlist index " + i + " outside 0.." + (phys.length - 1));
        }
    }
}
