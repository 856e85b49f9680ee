package dev.dmasim.sim.mem;

/**
 * Linux memory zones on x86-64, by physical address: DMA below 16 MiB, DMA32 below 4 GiB, NORMAL above.
 * An allocation for a zone falls back to the zones below it (NORMAL → DMA32 → DMA), never above.
 */
public enum Zone
{
    DMA(0L, 16L << 20),
    DMA32(16L << 20, 4L << 30),
    NORMAL(4L << 30, Long.MAX_VALUE);

    private final long start;
    private final long end;

    Zone(final long start, final long end)
    {
        this.start = start;
        this.end = end;
    }

    /** @return the first physical address of the zone (bytes). */
    public long start()
    {
        return start;
    }

    /** @return the physical address just past the zone (bytes, exclusive). */
    public long end()
    {
        return end;
    }

    /** @return the zone that holds physical address {@code phys}. */
    public static Zone of(final long phys)
    {
        return phys < DMA.end ? DMA : phys < DMA32.end ? DMA32 : NORMAL;
    }
}
