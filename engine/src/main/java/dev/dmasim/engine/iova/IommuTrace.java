package dev.dmasim.engine.iova;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code iommu:map} / {@code iommu:unmap} events of one ftrace text trace ({@code include/trace/events/iommu.h}),
 * struct-of-arrays, in trace order. Addresses and sizes are bytes. Built by {@link IommuTraceParser}; immutable
 * and thread-safe once built.
 */
public final class IommuTrace
{
    /** Event kind of a {@code map} line. */
    public static final int MAP = 0;
    /** Event kind of an {@code unmap} line. */
    public static final int UNMAP = 1;

    private final int count;
    private final int[] kind;
    private final int[] cpu;
    private final long[] timestampNanos;
    private final long[] iova;
    private final long[] iovaEnd;
    private final long[] paddr;
    private final long[] size;

    IommuTrace(
        final int count,
        final int[] kind,
        final int[] cpu,
        final long[] timestampNanos,
        final long[] iova,
        final long[] iovaEnd,
        final long[] paddr,
        final long[] size)
    {
        this.count = count;
        this.kind = Arrays.copyOf(kind, count);
        this.cpu = Arrays.copyOf(cpu, count);
        this.timestampNanos = Arrays.copyOf(timestampNanos, count);
        this.iova = Arrays.copyOf(iova, count);
        this.iovaEnd = Arrays.copyOf(iovaEnd, count);
        this.paddr = Arrays.copyOf(paddr, count);
        this.size = Arrays.copyOf(size, count);
    }

    /** @return number of events. */
    public int count()
    {
        return count;
    }

    /** @return {@link #MAP} or {@link #UNMAP}. */
    public int kind(final int i)
    {
        return kind[i];
    }

    /** @return the CPU column of event {@code i}. */
    public int cpu(final int i)
    {
        return cpu[i];
    }

    /** @return the timestamp of event {@code i}, nanoseconds. */
    public long timestampNanos(final int i)
    {
        return timestampNanos[i];
    }

    /** @return first IOVA byte of event {@code i}. */
    public long iova(final int i)
    {
        return iova[i];
    }

    /** @return IOVA end (exclusive, bytes) of event {@code i}. */
    public long iovaEnd(final int i)
    {
        return iovaEnd[i];
    }

    /** @return physical address of a map event, -1 for unmap. */
    public long paddr(final int i)
    {
        return paddr[i];
    }

    /** @return the {@code size=} field (bytes). */
    public long size(final int i)
    {
        return size[i];
    }

    /** @return number of map events. */
    public int maps()
    {
        int n = 0;
        for (int i = 0; i < count; i++)
        {
            n += kind[i] == MAP ? 1 : 0;
        }
        return n;
    }

    /** @return number of unmap events. */
    public int unmaps()
    {
        return count - maps();
    }

    /**
     * Recovers the IOVA allocations and frees behind the events: an allocation is the set of map events that
     * one later unmap covers (allocated at its first map, freed at the unmap); map events never unmapped are
     * grouped into runs of consecutive map events of one CPU at ascending contiguous IOVAs (an sg list).
     */
    public IovaOps toIovaOps()
    {
        final int[] allocFirstEvent = new int[count];
        final long[] allocIova = new long[count];
        final long[] allocLength = new long[count];
        final int[] allocCpu = new int[count];
        final int[] allocFreeEvent = new int[count];
        int allocs = 0;
        int unmatched = 0;
        final TreeMap<Long, Integer> live = new TreeMap<>();
        final int[] prevMapOnCpu = new int[count];
        final Map<Integer, Integer> lastMapByCpu = new java.util.HashMap<>();
        for (int i = 0; i < count; i++)
        {
            if (kind[i] == MAP)
            {
                final Integer last = lastMapByCpu.put(cpu[i], i);
                prevMapOnCpu[i] = last == null ? -1 : last;
                live.put(iova[i], i);
                continue;
            }
            final Map<Long, Integer> covered = live.subMap(iova[i], true, iovaEnd[i], false);
            if (covered.isEmpty())
            {
                unmatched++;
                continue;
            }
            int first = Integer.MAX_VALUE;
            for (final int e : covered.values())
            {
                first = Math.min(first, e);
            }
            covered.clear();
            allocFirstEvent[allocs] = first;
            allocIova[allocs] = iova[i];
            allocLength[allocs] = iovaEnd[i] - iova[i];
            allocCpu[allocs] = cpu[first];
            allocFreeEvent[allocs] = i;
            allocs++;
        }
        final int[] rest = live.values().stream().mapToInt(Integer::intValue).sorted().toArray();
        final boolean[] joined = new boolean[count];
        for (int r = rest.length - 1; r >= 0; r--)
        {
            final int e = rest[r];
            final int p = prevMapOnCpu[e];
            if (p >= 0 && Arrays.binarySearch(rest, p) >= 0 && iova[e] == iovaEnd[p])
            {
                joined[e] = true;
            }
        }
        for (int r = 0; r < rest.length; r++)
        {
            final int e = rest[r];
            if (joined[e])
            {
                continue;
            }
            long end = iovaEnd[e];
            int next = e;
            for (int q = r + 1; q < rest.length; q++)
            {
                if (joined[rest[q]] && prevMapOnCpu[rest[q]] == next)
                {
                    end = iovaEnd[rest[q]];
                    next = rest[q];
                }
            }
            allocFirstEvent[allocs] = e;
            allocIova[allocs] = iova[e];
            allocLength[allocs] = end - iova[e];
            allocCpu[allocs] = cpu[e];
            allocFreeEvent[allocs] = -1;
            allocs++;
        }
        return IovaOps.build(count, allocs, allocFirstEvent, allocIova, allocLength, allocCpu, allocFreeEvent, unmatched);
    }
}
