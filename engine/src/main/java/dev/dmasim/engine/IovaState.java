package dev.dmasim.engine;

/**
 * {@code struct dma_iova_state} of the 2-step IOVA API: the IOVA range that {@code Device.iovaTryAlloc}
 * reserved ({@link #addr()}, bytes) and its size; bit 63 of the raw size records that some link was
 * bounced through swiotlb. The caller owns the state and keeps it until {@code iovaDestroy}/{@code iovaFree}.
 * Not thread-safe (one driver context per state, as in the kernel).
 */
public final class IovaState
{
    /** {@code DMA_IOVA_USE_SWIOTLB}: the top bit of the raw size. */
    public static final long USE_SWIOTLB = 1L << 63;

    private long addr;
    private long rawSize;
    private long linked;

    /** @return the DMA address of the range (including the first link's offset within its granule). */
    public long addr()
    {
        return addr;
    }

    /** @return the size in bytes requested at allocation (without the swiotlb flag). */
    public long size()
    {
        return rawSize & ~USE_SWIOTLB;
    }

    /** @return true if an allocation is held ({@code dma_use_iova}). */
    public boolean inUse()
    {
        return rawSize != 0;
    }

    /** @return true if some link was bounced through swiotlb. */
    public boolean usesSwiotlb()
    {
        return (rawSize & USE_SWIOTLB) != 0;
    }

    /** @return bytes currently linked (our own accounting, for the link/unlink balance check). */
    public long linkedBytes()
    {
        return linked;
    }

    /** Engine use. */
    public void set(final long addr, final long size)
    {
        this.addr = addr;
        this.rawSize = size;
        this.linked = 0;
    }

    /** Engine use: marks that a link was bounced. */
    public void markSwiotlb()
    {
        rawSize |= USE_SWIOTLB;
    }

    /** Engine use: adds {@code delta} (may be negative) to the linked byte count. */
    public void addLinked(final long delta)
    {
        linked += delta;
    }

    /** Engine use: forgets everything ({@code memset(state, 0)}). */
    public void clear()
    {
        addr = 0;
        rawSize = 0;
        linked = 0;
    }

    @Override
    public String toString()
    {
        return "IovaState[addr=0x" + Long.toHexString(addr) + ", size=" + size() + (usesSwiotlb() ? ", swiotlb" : "")
            + ", linked=" + linked + "]";
    }
}
