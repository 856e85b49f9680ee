package dev.dmasim.bench.stress;

import java.util.Map;
import java.util.TreeMap;

/**
 * The live DMA address ranges of one device, as the stress threads hold them: a sorted map of disjoint
 * half-open ranges {@code [start, end)} (bytes). {@link #add} refuses a range that overlaps a live one and
 * returns that one, which is the "two live mappings overlap" violation.
 *
 * <p><b>Threading.</b> Every method holds the instance's monitor: check-then-insert must be atomic, or two
 * overlapping mappings added at once would each miss the other. The critical sections are a few tree steps.
 */
final class DmaRanges
{
    /** One live range and the mapping that holds it. */
    static final class Range
    {
        final long start;
        final long end;
        final Object owner;

        Range(final long start, final long end, final Object owner)
        {
            this.start = start;
            this.end = end;
            this.owner = owner;
        }

        @Override
        public String toString()
        {
            return "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ") held by " + owner;
        }
    }

    private final TreeMap<Long, Range> byStart = new TreeMap<>();

    /** @return null when added, else the live range {@code r} overlaps (and {@code r} is not added). */
    synchronized Range add(final Range r)
    {
        // Live ranges are disjoint, so if any overlaps [start, end) the one starting last below end does.
        final Map.Entry<Long, Range> e = byStart.floorEntry(r.end - 1);
        if (e != null && e.getValue().end > r.start)
        {
            return e.getValue();
        }
        byStart.put(r.start, r);
        return null;
    }

    /** @return true if {@code r} was live and is now removed. */
    synchronized boolean remove(final Range r)
    {
        return byStart.remove(r.start, r);
    }

    /** @return the live range containing {@code addr}, or null. */
    synchronized Range find(final long addr)
    {
        final Map.Entry<Long, Range> e = byStart.floorEntry(addr);
        return e != null && e.getValue().end > addr ? e.getValue() : null;
    }

    /** @return live ranges. */
    synchronized int size()
    {
        return byStart.size();
    }
}
