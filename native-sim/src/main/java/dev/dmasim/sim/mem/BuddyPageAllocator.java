package dev.dmasim.sim.mem;

import org.agrona.collections.Long2LongHashMap;

import java.util.ArrayList;
import java.util.List;

/**
 * Binary buddy page-frame allocator over the RAM regions of a {@link PhysicalMemory}, as Linux's
 * {@code mm/page_alloc.c}: 4 KiB pages, blocks of {@code 1 << order} pages for orders 0..{@link #MAX_ORDER},
 * every block naturally aligned (a block of order k starts at a multiple of {@code 4 KiB << k}), freed blocks
 * merged with their buddy as long as the buddy is free too.
 * <p>
 * Units: addresses are physical <b>bytes</b>; counts are <b>pages</b> (4 KiB); block keys inside the free
 * lists are block numbers ({@code phys >>> (PAGE_SHIFT + order)}).
 *
 * <h2>Zones and fallback</h2>
 * Pages are split into {@link Zone#DMA} (&lt; 16 MiB), {@link Zone#DMA32} (&lt; 4 GiB) and {@link Zone#NORMAL}.
 * Zone boundaries are multiples of the largest block, so no block straddles two zones. An allocation for a
 * zone tries that zone and then the lower ones (NORMAL → DMA32 → DMA, DMA32 → DMA, DMA only DMA).
 *
 * <h2>Placement (deterministic)</h2>
 * Within a zone the smallest order that has a free block wins, and within an order the lowest address: the
 * block is split down to the requested order keeping the lower half, the upper halves going back to the free
 * lists. The same call sequence therefore yields the same addresses. Physical page 0, non-RAM addresses and
 * {@link Builder#reserve reserved} ranges are never handed out.
 *
 * <h2>Memory</h2>
 * Each free list is a {@link SparseLongSet} (a 64-ary bitmap trie of block numbers) and live allocations are
 * an Agrona {@link Long2LongHashMap} (address → order); the initial state is the maximal naturally aligned
 * blocks of each free range. Memory is thus proportional to the free blocks and live allocations, not to
 * RAM size: 1 TiB of RAM starts as 256 Ki order-10 blocks, about 0.1 MB of bitmaps.
 *
 * <h2>Thread-safety</h2>
 * Thread-safe: each zone has its own lock (an allocation is a slow path), held for the whole of one
 * allocation or free; a free locks only the zone that holds the block. Counters are read under the lock and
 * are a snapshot.
 */
public final class BuddyPageAllocator implements PageAllocator
{
    private static final long MISSING = -1L;
    private static final Zone[] ZONES = Zone.values();

    private final ZoneArea[] areas;

    private BuddyPageAllocator(final List<long[]> freeRanges)
    {
        areas = new ZoneArea[ZONES.length];
        for (final Zone z : ZONES)
        {
            areas[z.ordinal()] = new ZoneArea(z);
        }
        for (final long[] range : freeRanges)
        {
            addRange(range[0], range[1]);
        }
    }

    /** @return an allocator managing every RAM page of {@code mem} except page 0. */
    public static BuddyPageAllocator of(final PhysicalMemory mem)
    {
        return builder(mem).build();
    }

    /** @return a builder over the RAM regions of {@code mem}. */
    public static Builder builder(final PhysicalMemory mem)
    {
        return new Builder(mem);
    }

    /** {@inheritDoc} */
    @Override
    public long allocPages(final int order, final Zone zone)
    {
        checkOrder("allocPages", order);
        if (zone == null)
        {
            throw new IllegalArgumentException("allocPages: zone is null");
        }
        for (int z = zone.ordinal(); z >= 0; z--)
        {
            final long phys = areas[z].alloc(order);
            if (phys != NO_PAGE)
            {
                return phys;
            }
        }
        return NO_PAGE;
    }

    /** {@inheritDoc} */
    @Override
    public void freePages(final long phys, final int order)
    {
        checkOrder("freePages", order);
        if (phys < 0 || (phys & (PAGE_SIZE - 1)) != 0)
        {
            throw new IllegalArgumentException(String.format(
                "freePages: 0x%x is not a page-aligned physical address, never handed out", phys));
        }
        areas[Zone.of(phys).ordinal()].free(phys, order);
    }

    /** {@inheritDoc} */
    @Override
    public long freePageCount(final Zone zone)
    {
        return areas[zone.ordinal()].freePages();
    }

    /** {@inheritDoc} */
    @Override
    public long totalPageCount(final Zone zone)
    {
        return areas[zone.ordinal()].totalPages;
    }

    /** @return pages managed in all zones. */
    public long totalPageCount()
    {
        long n = 0;
        for (final ZoneArea a : areas)
        {
            n += a.totalPages;
        }
        return n;
    }

    /** @return the order {@code phys} was allocated with, or -1 if it is not the start of a live block. */
    public int allocatedOrder(final long phys)
    {
        if (phys < 0)
        {
            return -1;
        }
        return areas[Zone.of(phys).ordinal()].allocatedOrder(phys);
    }

    /** @return the number of free blocks of {@code order} in {@code zone} (a snapshot, like /proc/buddyinfo). */
    public long freeBlockCount(final Zone zone, final int order)
    {
        checkOrder("freeBlockCount", order);
        return areas[zone.ordinal()].freeBlocks(order);
    }

    /** @return the number of live (allocated, not yet freed) blocks. */
    public long liveBlockCount()
    {
        long n = 0;
        for (final ZoneArea a : areas)
        {
            n += a.liveBlocks();
        }
        return n;
    }

    /**
     * @return one line per zone: total and free pages and the free blocks per order 0..10
     * ({@code /proc/buddyinfo} style), used by {@code dmasim info}.
     */
    public String describe()
    {
        final StringBuilder sb = new StringBuilder();
        sb.append(String.format("%-7s %12s %12s  free blocks by order 0..%d%n", "zone", "total pages",
            "free pages", MAX_ORDER));
        for (final ZoneArea a : areas)
        {
            sb.append(String.format("%-7s %12d %12d ", a.zone, a.totalPages, a.freePages()));
            for (int k = 0; k <= MAX_ORDER; k++)
            {
                sb.append(' ').append(a.freeBlocks(k));
            }
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    @Override
    public String toString()
    {
        final StringBuilder sb = new StringBuilder("BuddyPageAllocator{");
        for (final ZoneArea a : areas)
        {
            sb.append(a.zone).append(": ").append(a.freePages()).append('/').append(a.totalPages).append(" free, ");
        }
        sb.setLength(sb.length() - 2);
        return sb.append(" pages}").toString();
    }

    /** Seeds the free lists with the maximal naturally aligned blocks of {@code [start, end)} (page-aligned). */
    private void addRange(final long start, final long end)
    {
        long a = start;
        while (a < end)
        {
            final long pfn = a >>> PAGE_SHIFT;
            final long pages = (end - a) >>> PAGE_SHIFT;
            final int align = pfn == 0 ? MAX_ORDER : Long.numberOfTrailingZeros(pfn);
            final int fit = 63 - Long.numberOfLeadingZeros(pages);
            final int order = Math.min(MAX_ORDER, Math.min(align, fit));
            areas[Zone.of(a).ordinal()].seed(a, order);
            a += PAGE_SIZE << order;
        }
    }

    private static void checkOrder(final String op, final int order)
    {
        if (order < 0 || order > MAX_ORDER)
        {
            throw new IllegalArgumentException(op + ": order " + order + " outside 0.." + MAX_ORDER);
        }
    }

    /** One zone: free lists per order, live allocations, counters; all guarded by the area's monitor. */
    private static final class ZoneArea
    {
        final Zone zone;
        final SparseLongSet[] freeLists = new SparseLongSet[MAX_ORDER + 1];
        /** Live allocations: block address → order. */
        final Long2LongHashMap live = new Long2LongHashMap(MISSING);
        /** Written during construction only (published by the allocator's final field). */
        long totalPages;
        long freePages;

        ZoneArea(final Zone zone)
        {
            this.zone = zone;
            for (int k = 0; k <= MAX_ORDER; k++)
            {
                freeLists[k] = new SparseLongSet();
            }
        }

        void seed(final long phys, final int order)
        {
            freeLists[order].add(phys >>> (PAGE_SHIFT + order));
            totalPages += 1L << order;
            freePages += 1L << order;
        }

        synchronized long freePages()
        {
            return freePages;
        }

        synchronized long freeBlocks(final int order)
        {
            return freeLists[order].size();
        }

        synchronized long liveBlocks()
        {
            return live.size();
        }

        synchronized int allocatedOrder(final long phys)
        {
            return (int)live.get(phys);
        }

        synchronized long alloc(final int order)
        {
            for (int k = order; k <= MAX_ORDER; k++)
            {
                final SparseLongSet list = freeLists[k];
                if (!list.isEmpty())
                {
                    final long block = list.first();
                    list.remove(block);
                    final long phys = block << (PAGE_SHIFT + k);
                    for (int j = k - 1; j >= order; j--)
                    {
                        // keep the lower half, free the upper half (the buddy) at order j
                        freeLists[j].add(((phys + (PAGE_SIZE << j)) >>> (PAGE_SHIFT + j)));
                    }
                    live.put(phys, order);
                    freePages -= 1L << order;
                    return phys;
                }
            }
            return NO_PAGE;
        }

        synchronized void free(final long phys, final int order)
        {
            final long allocated = live.get(phys);
            if (allocated != order)
            {
                throw badFree(phys, order, allocated);
            }
            live.remove(phys);
            long block = phys;
            int k = order;
            while (k < MAX_ORDER)
            {
                final long buddy = block ^ (PAGE_SIZE << k);
                if (!freeLists[k].remove(buddy >>> (PAGE_SHIFT + k)))
                {
                    break;
                }
                block = Math.min(block, buddy);
                k++;
            }
            freeLists[k].add(block >>> (PAGE_SHIFT + k));
            freePages += 1L << order;
        }

        /** Builds the message for a rejected free; changes nothing. Caller holds the monitor. */
        private IllegalArgumentException badFree(final long phys, final int order, final long allocated)
        {
            if (allocated != MISSING)
            {
                return new IllegalArgumentException(String.format(
                    "freePages: wrong order for 0x%x: allocated with order %d, freed with order %d",
                    phys, allocated, order));
            }
            for (int k = 0; k <= MAX_ORDER; k++)
            {
                final long block = phys >>> (PAGE_SHIFT + k);
                if (freeLists[k].contains(block))
                {
                    return new IllegalArgumentException(String.format(
                        "freePages: double free of 0x%x (order %d): it lies in the free block [0x%x, +%d pages) " +
                            "of order %d", phys, order, block << (PAGE_SHIFT + k), 1L << k, k));
                }
            }
            for (int k = 1; k <= MAX_ORDER; k++)
            {
                final long base = phys & -(PAGE_SIZE << k);
                final long o = live.get(base);
                if (o >= k)
                {
                    return new IllegalArgumentException(String.format(
                        "freePages: 0x%x was never handed out: it is inside the live block 0x%x of order %d",
                        phys, base, o));
                }
            }
            return new IllegalArgumentException(String.format(
                "freePages: 0x%x (order %d) was never handed out: not a page managed by this allocator in zone %s " +
                    "(page 0, reserved, a hole, MMIO or beyond RAM)", phys, order, zone));
        }
    }

    /**
     * Builds a {@link BuddyPageAllocator}: every RAM page of the memory except page 0 and the reserved ranges.
     * Not thread-safe.
     */
    public static final class Builder
    {
        private final PhysicalMemory mem;
        private final List<long[]> reserved = new ArrayList<>();

        private Builder(final PhysicalMemory mem)
        {
            if (mem == null)
            {
                throw new IllegalArgumentException("memory is null");
            }
            this.mem = mem;
        }

        /**
         * Excludes {@code [base, base+size)} (bytes; widened to whole pages) from the allocator, e.g. the
         * swiotlb pool or firmware tables. Ranges may overlap each other and need not be RAM.
         */
        public Builder reserve(final long base, final long size)
        {
            if (base < 0 || size < 0 || base > Long.MAX_VALUE - size - PAGE_SIZE)
            {
                throw new IllegalArgumentException(String.format(
                    "reserve: bad range base=0x%x size=0x%x", base, size));
            }
            if (size > 0)
            {
                final long start = base & -PAGE_SIZE;
                final long end = (base + size + PAGE_SIZE - 1) & -PAGE_SIZE;
                reserved.add(new long[] { start, end });
            }
            return this;
        }

        /** @return the allocator, all managed pages free. */
        public BuddyPageAllocator build()
        {
            // RAM ranges, adjacent RAM regions merged (regions() is sorted).
            final List<long[]> ram = new ArrayList<>();
            for (final PhysicalMemory.MemRegion r : mem.regions())
            {
                if (r.kind() != PhysicalMemory.MemRegion.Kind.RAM)
                {
                    continue;
                }
                final long start = (r.base() + PAGE_SIZE - 1) & -PAGE_SIZE;
                final long end = r.end() & -PAGE_SIZE;
                if (start >= end)
                {
                    continue;
                }
                if (!ram.isEmpty() && ram.getLast()[1] == start)
                {
                    ram.getLast()[1] = end;
                }
                else
                {
                    ram.add(new long[] { start, end });
                }
            }
            final List<long[]> holes = new ArrayList<>(reserved);
            holes.add(new long[] { 0, PAGE_SIZE }); // page 0 is never handed out
            holes.sort((a, b) -> Long.compare(a[0], b[0]));
            final List<long[]> free = new ArrayList<>();
            for (final long[] r : ram)
            {
                long cursor = r[0];
                for (final long[] h : holes)
                {
                    if (h[1] <= cursor || h[0] >= r[1])
                    {
                        continue;
                    }
                    if (h[0] > cursor)
                    {
                        free.add(new long[] { cursor, h[0] });
                    }
                    cursor = Math.max(cursor, h[1]);
                }
                if (cursor < r[1])
                {
                    free.add(new long[] { cursor, r[1] });
                }
            }
            return new BuddyPageAllocator(free);
        }
    }
}
