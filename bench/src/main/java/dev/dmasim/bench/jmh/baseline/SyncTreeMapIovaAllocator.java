package dev.dmasim.bench.jmh.baseline;

import java.util.Map;
import java.util.TreeMap;

/**
 * The straightforward IOVA allocator a first implementation would write: one {@code synchronized} monitor
 * around a {@link TreeMap} of allocated ranges ({@code lo -> hi}, inclusive pfns), top-down first fit below a
 * limit, walking down from the limit over the ranges until a gap fits. Boxed keys and values, as such code
 * has. The baseline of the IOVA benchmarks; not used by the engine. Thread-safe (one lock).
 */
public final class SyncTreeMapIovaAllocator
{
    private final TreeMap<Long, Long> ranges = new TreeMap<>();
    private final long startPfn;

    /** @param startPfn the lowest pfn handed out, at least 1 (0 means failure). */
    public SyncTreeMapIovaAllocator(final long startPfn)
    {
        this.startPfn = startPfn;
    }

    /**
     * Allocates {@code size} pfns ending at or below {@code limitPfn}, the highest fit (first fit from the top).
     *
     * @return the first pfn, or 0 if nothing fits.
     */
    public synchronized long alloc(final long size, final long limitPfn)
    {
        long top = limitPfn; // highest usable pfn of the current gap
        Map.Entry<Long, Long> e = ranges.floorEntry(limitPfn);
        while (true)
        {
            final long gapLo = e == null ? startPfn : e.getValue() + 1;
            if (top - size + 1 >= gapLo && top >= gapLo)
            {
                final long lo = top - size + 1;
                ranges.put(lo, top);
                return lo;
            }
            if (e == null)
            {
                return 0;
            }
            top = e.getKey() - 1;
            e = ranges.lowerEntry(e.getKey());
        }
    }

    /** Frees the range starting at {@code pfn}. @return false if none starts there. */
    public synchronized boolean free(final long pfn)
    {
        return ranges.remove(pfn) != null;
    }

    /** Marks {@code [lo, hi]} allocated (for building a layout; no overlap check). */
    public synchronized void reserve(final long lo, final long hi)
    {
        ranges.put(lo, hi);
    }

    /** @return allocated ranges. */
    public synchronized int size()
    {
        return ranges.size();
    }
}
