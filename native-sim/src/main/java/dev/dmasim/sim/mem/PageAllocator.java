package dev.dmasim.sim.mem;

/**
 * Page-frame allocator over the RAM of a {@link PhysicalMemory}: 4 KiB pages, power-of-two blocks of
 * {@code 1 << order} pages, orders 0..{@link #MAX_ORDER}. Addresses are physical byte addresses, sizes
 * are orders. Implementations are thread-safe.
 */
public interface PageAllocator
{
    /** log2 of the page size. */
    int PAGE_SHIFT = 12;
    /** The page size in bytes. */
    long PAGE_SIZE = 1L << PAGE_SHIFT;
    /** The largest order (a block of 1024 pages, 4 MiB). */
    int MAX_ORDER = 10;
    /** Returned by {@link #allocPages} when the zone and its fallbacks are exhausted. */
    long NO_PAGE = -1L;

    /**
     * Allocates a naturally aligned block of {@code 1 << order} pages from {@code zone}, falling back to lower
     * zones as Linux does. The block's contents are whatever was there before (not zeroed).
     *
     * @return the block's physical address, or {@link #NO_PAGE}.
     * @throws IllegalArgumentException if order is outside 0..MAX_ORDER or zone is null.
     */
    long allocPages(int order, Zone zone);

    /**
     * Returns a block obtained from {@link #allocPages} with the same order.
     *
     * @throws IllegalArgumentException (changing nothing) for a double free, an address this allocator never
     *                                  handed out, or an order different from the allocation's.
     */
    void freePages(long phys, int order);

    /** @return free pages (4 KiB units) in {@code zone}; a snapshot. */
    long freePageCount(Zone zone);

    /** @return pages (4 KiB units) managed in {@code zone}. */
    long totalPageCount(Zone zone);

    /** @return free pages (4 KiB units) in all zones; a snapshot. */
    default long freePageCount()
    {
        long n = 0;
        for (final Zone z : Zone.values())
        {
            n += freePageCount(z);
        }
        return n;
    }
}
