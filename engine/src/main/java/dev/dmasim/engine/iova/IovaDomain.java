package dev.dmasim.engine.iova;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.ToLongFunction;

/**
 * The kernel's {@code struct iova_domain} ({@code drivers/iommu/iova.c}): an IOVA allocator over pfns of
 * {@code granule} bytes, with the per-CPU range caches ("rcache": magazines plus a depot) in front of it.
 *
 * <p>Units: every {@code pfn}, {@code size} and {@code limitPfn} is in pfns of {@code granule} bytes (IOVA
 * {@code >> log2(granule)}); {@code limitPfn} is inclusive, as in {@code alloc_iova()}. Failure is the
 * sentinel 0 (pfn 0 is never handed out because {@code startPfn >= 1}).
 *
 * <p><b>Placement</b> equals the mainline rbtree allocator's exactly: top-down first fit below
 * {@code cached32_node} (when {@code limitPfn + 1 <= dma_32bit_pfn}) or {@code cached_node}, {@code pfn_lo}
 * aligned to {@code roundup_pow_of_two(size)} when size-aligned, one retry from the limit down to just above
 * the cached node, the {@code max32_alloc_size} fast-fail (set on every failure, reset when a range starting
 * below 4 GiB is freed) and the cached-node updates on insert and delete. Only the search differs: the
 * kernel walks the ranges linearly, {@link IovaTree} finds the same answer in O(log n), and in O(1) when it
 * lies in the free run just below the cached node (where the kernel's walk stops at once).
 *
 * <p><b>rcache</b> as the kernel since v6.7: one cache per order 0..5 ({@code 1 << order} pfns); per CPU a
 * {@code loaded} and a {@code prev} magazine of {@link #IOVA_MAG_SIZE} pfns; an unbounded LIFO depot of full
 * magazines per order, trimmed one magazine at a time while it holds more magazines than CPUs. The kernel
 * trims from delayed work every 100 ms; here the trim runs on the free slow path (a magazine pushed to the
 * depot) when at least {@link #depotTrimIntervalNanos()} passed since the last trim of that cache, and on
 * demand with {@link #trimDepot()}.
 *
 * <h2>Thread-safety, invariants and ordering</h2>
 * Thread-safe. Three kinds of lock, always taken in this order, none held while waiting for another thread
 * except by nesting in this order: per-(CPU, order) slot lock, then the per-order depot monitor, then the
 * tree monitor (the kernel's {@code cpu_rcache->lock}, {@code rcache->lock}, {@code iova_rbtree_lock}).
 * <ul>
 * <li>A slot's {@code loaded}/{@code prev} arrays and their counts are read and written only while its
 * lock is held. The lock is one CAS to acquire (volatile semantics) and one release store to release, so
 * every write by one holder happens-before every read by the next holder: a slot shared by two threads stays
 * consistent, and an uncontended rcache hit costs one CAS plus one release store.</li>
 * <li>A magazine is owned by exactly one place at a time: a slot (as loaded or prev), the depot, or the
 * spare pool; it moves between a slot and the depot only while both the slot lock and the depot monitor are
 * held, so ownership transfers are published by the monitor.</li>
 * <li>A pfn is either live (handed out), cached (in exactly one magazine) or free in the tree; cached pfns
 * are still allocated ranges in the tree, as in the kernel.</li>
 * <li>Statistics counters of a slot are plain fields written under its lock; {@link #rcacheHits()} and the
 * like read them without the lock (benign race: a snapshot may be a few operations stale).</li>
 * </ul>
 * The rcache fast path allocates nothing; the depot path allocates a magazine only when the spare pool is
 * empty.
 */
public final class IovaDomain
{
    /** log2 of the largest cached range size plus one: sizes 1, 2, 4, 8, 16, 32 pfns are cached. */
    public static final int IOVA_RANGE_CACHE_MAX_SIZE = 6;
    /** pfns per magazine (the kernel's 1024-byte magazine). */
    public static final int IOVA_MAG_SIZE = 127;
    /** The kernel's depot trim period, 100 ms. */
    public static final long IOVA_DEPOT_DELAY_NANOS = 100_000_000L;
    /** The anchor node's pfn: above every usable pfn. */
    static final long ANCHOR_PFN = Long.MAX_VALUE;

    private final long granule;
    private final int shift;
    private final long startPfn;
    private final long dma32BitPfn;
    private final int cpus;

    private final Object treeLock = new Object();
    private final IovaTree tree;
    private int anchor;
    private int cachedNode;
    private int cached32Node;
    private long max32AllocSize;
    private long treeAllocs;
    private long treeAllocFailures;
    private long treeFrees;

    private final Rcache[] rcaches = new Rcache[IOVA_RANGE_CACHE_MAX_SIZE];
    private final CpuRcache[] slots;
    private volatile long depotTrimIntervalNanos = IOVA_DEPOT_DELAY_NANOS;

    /**
     * @param granule  bytes per pfn, a power of two (the IOMMU's smallest page size).
     * @param startPfn lowest pfn handed out, at least 1.
     * @param cpus     number of CPUs (per-CPU magazine slots), at least 1.
     */
    public IovaDomain(final long granule, final long startPfn, final int cpus)
    {
        if (granule <= 0 || Long.bitCount(granule) != 1 || granule > (1L << 32))
        {
            throw new IllegalArgumentException("granule must be a power of two <= 4 GiB, was " + granule);
        }
        if (startPfn < 1)
        {
            throw new IllegalArgumentException("startPfn must be >= 1, was " + startPfn);
        }
        if (cpus < 1)
        {
            throw new IllegalArgumentException("cpus must be >= 1, was " + cpus);
        }
        this.granule = granule;
        this.shift = Long.numberOfTrailingZeros(granule);
        this.startPfn = startPfn;
        this.dma32BitPfn = 1L << (32 - shift);
        this.cpus = cpus;
        this.tree = new IovaTree(64);
        initTree();
        for (int i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; i++)
        {
            rcaches[i] = new Rcache();
        }
        slots = new CpuRcache[cpus * IOVA_RANGE_CACHE_MAX_SIZE];
        for (int i = 0; i < slots.length; i++)
        {
            slots[i] = new CpuRcache();
        }
    }

    private void initTree()
    {
        tree.clear();
        anchor = tree.insert(ANCHOR_PFN, ANCHOR_PFN);
        cachedNode = anchor;
        cached32Node = anchor;
        max32AllocSize = dma32BitPfn;
    }

    /** @return bytes per pfn. */
    public long granule()
    {
        return granule;
    }

    /** @return log2(granule). */
    public int shift()
    {
        return shift;
    }

    /** @return the lowest pfn handed out. */
    public long startPfn()
    {
        return startPfn;
    }

    /** @return the first pfn at or above 4 GiB ({@code dma_32bit_pfn}). */
    public long dma32BitPfn()
    {
        return dma32BitPfn;
    }

    /** @return the number of CPU slots. */
    public int cpus()
    {
        return cpus;
    }

    // ------------------------------------------------------------------------------------------ tree API

    /**
     * {@code alloc_iova()}: allocates {@code size} pfns at or below {@code limitPfn} from the tree.
     *
     * @param size        pfns, at least 1.
     * @param limitPfn    highest pfn the range may cover (inclusive).
     * @param sizeAligned align the start to {@code roundup_pow_of_two(size)}.
     * @return the first pfn of the range, or 0 on failure.
     */
    public long allocIova(final long size, final long limitPfn, final boolean sizeAligned)
    {
        if (size < 1)
        {
            throw new IllegalArgumentException("size must be >= 1 pfn, was " + size);
        }
        final long limitExclusive = Math.min(limitPfn, ANCHOR_PFN - 1) + 1;
        synchronized (treeLock)
        {
            return allocLocked(size, limitExclusive, sizeAligned);
        }
    }

    private long allocLocked(final long size, final long limitExclusive, final boolean sizeAligned)
    {
        if (limitExclusive <= dma32BitPfn && size >= max32AllocSize)
        {
            treeAllocFailures++;
            return 0;
        }
        final int cached = limitExclusive <= dma32BitPfn ? cached32Node : cachedNode;
        final int alignOrder = sizeAligned ? 64 - Long.numberOfLeadingZeros(size - 1) : 0;
        // the cached node's own gap first: the kernel's walk starts right there
        long pfn = tree.search(
            size, alignOrder, sizeAligned, startPfn, Math.min(limitExclusive, tree.lo(cached)), cached);
        if (pfn < 0)
        {
            final long retryPfn = tree.hi(cached);
            if (retryPfn < limitExclusive)
            {
                pfn = tree.search(size, alignOrder, sizeAligned, retryPfn + 1, limitExclusive, IovaTree.NIL);
            }
            if (pfn < 0)
            {
                max32AllocSize = size;
                treeAllocFailures++;
                return 0;
            }
        }
        final int node = tree.insertBelow(tree.fitNode(), pfn, pfn + size - 1);
        if (pfn + size - 1 < dma32BitPfn)
        {
            cached32Node = node;
        }
        else
        {
            cachedNode = node;
        }
        treeAllocs++;
        return pfn;
    }

    /**
     * {@code free_iova()}: frees the tree range that contains {@code pfn}.
     *
     * @return false if no range contains it.
     */
    public boolean freeIova(final long pfn)
    {
        synchronized (treeLock)
        {
            return freeLocked(pfn);
        }
    }

    private boolean freeLocked(final long pfn)
    {
        final int node = tree.find(pfn);
        if (node == IovaTree.NIL || node == anchor)
        {
            return false;
        }
        final int next = tree.successor(node);
        final long lo = tree.lo(node);
        final long hi = tree.hi(node);
        if (node == cached32Node || (hi < dma32BitPfn && lo >= tree.lo(cached32Node)))
        {
            cached32Node = next;
        }
        if (lo < dma32BitPfn)
        {
            max32AllocSize = dma32BitPfn;
        }
        if (lo >= tree.lo(cachedNode))
        {
            cachedNode = next;
        }
        tree.remove(node);
        treeFrees++;
        return true;
    }

    /**
     * {@code reserve_iova()}: marks {@code [pfnLo, pfnHi]} allocated. Like the kernel, an overlapped range is
     * extended down and the remainder above it inserted as new ranges; cached nodes are not updated.
     *
     * @return false if the range is nonsensical (lo &gt; hi, negative, or reaching the anchor).
     */
    public boolean reserveIova(final long pfnLo, final long pfnHi)
    {
        if (pfnLo < 0 || pfnHi < pfnLo || pfnHi >= (-1L >>> shift) || pfnHi >= ANCHOR_PFN)
        {
            return false;
        }
        synchronized (treeLock)
        {
            long lo = pfnLo;
            boolean overlap = false;
            for (int node = tree.ceilingByHi(lo); node != IovaTree.NIL; node = tree.successor(node))
            {
                if (lo <= tree.hi(node) && pfnHi >= tree.lo(node))
                {
                    if (lo < tree.lo(node))
                    {
                        tree.lowerLo(node, lo);
                    }
                    if (pfnHi > tree.hi(node))
                    {
                        lo = tree.hi(node) + 1;
                    }
                    if (lo >= tree.lo(node) && pfnHi <= tree.hi(node))
                    {
                        return true;
                    }
                    overlap = true;
                }
                else if (overlap || tree.lo(node) > pfnHi)
                {
                    break;
                }
            }
            tree.insert(lo, pfnHi);
            return true;
        }
    }

    /** {@code find_iova()}: @return the first pfn of the range containing {@code pfn}, or -1. */
    public long findIova(final long pfn)
    {
        synchronized (treeLock)
        {
            final int node = tree.find(pfn);
            return node == IovaTree.NIL || node == anchor ? -1 : tree.lo(node);
        }
    }

    /** @return the last pfn of the range containing {@code pfn}, or -1. */
    public long findIovaHi(final long pfn)
    {
        synchronized (treeLock)
        {
            final int node = tree.find(pfn);
            return node == IovaTree.NIL || node == anchor ? -1 : tree.hi(node);
        }
    }

    // ------------------------------------------------------------------------------------------ fast API

    /**
     * {@code alloc_iova_fast()}: sizes below 32 pfns are rounded up to a power of two; then the CPU's rcache,
     * then the tree (size-aligned); if that fails and {@code flushRcache}, every CPU's magazines and the depot
     * go back to the tree and the tree is tried once more.
     *
     * @param size        pfns, at least 1.
     * @param limitPfn    highest pfn the range may cover (inclusive).
     * @param flushRcache flush the caches and retry once on failure.
     * @param cpu         the caller's CPU slot, 0..cpus-1.
     * @return the first pfn, or 0 on failure.
     */
    public long allocIovaFast(final long size, final long limitPfn, final boolean flushRcache, final int cpu)
    {
        long pages = size;
        if (pages < 1)
        {
            throw new IllegalArgumentException("size must be >= 1 pfn, was " + size);
        }
        if (pages < (1L << (IOVA_RANGE_CACHE_MAX_SIZE - 1)))
        {
            pages = roundUpPow2(pages);
        }
        final long limit = Math.min(limitPfn, ANCHOR_PFN - 1);
        final int order = orderBase2(pages);
        if (order < IOVA_RANGE_CACHE_MAX_SIZE && limit + 1 - pages >= 0)
        {
            final long pfn = rcacheGet(slot(cpu, order), rcaches[order], limit + 1 - pages);
            if (pfn != 0)
            {
                return pfn;
            }
        }
        long pfn = allocIova(pages, limit, true);
        if (pfn == 0 && flushRcache)
        {
            flushRcaches();
            pfn = allocIova(pages, limit, true);
        }
        return pfn;
    }

    /**
     * {@code free_iova_fast()}: puts the range into the CPU's rcache, or frees it in the tree if it is too
     * large to cache.
     *
     * @param pfn  first pfn, as returned by {@link #allocIovaFast}.
     * @param size pfns, as passed to {@link #allocIovaFast} (rounded or not: the order is the same).
     * @param cpu  the caller's CPU slot, 0..cpus-1.
     */
    public void freeIovaFast(final long pfn, final long size, final int cpu)
    {
        final int order = size < 1 ? 0 : orderBase2(size);
        if (order < IOVA_RANGE_CACHE_MAX_SIZE && rcacheInsert(slot(cpu, order), rcaches[order], pfn))
        {
            return;
        }
        freeIova(pfn);
    }

    /**
     * {@code free_cpu_cached_iovas()} for every CPU then {@code free_global_cached_iovas()}: every cached pfn
     * goes back to the tree, in the kernel's order (CPU, order, loaded then prev, index order; then each
     * depot, newest magazine first).
     */
    public void flushRcaches()
    {
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            for (int order = 0; order < IOVA_RANGE_CACHE_MAX_SIZE; order++)
            {
                final CpuRcache s = slot(cpu, order);
                s.lock();
                try
                {
                    freeMagazinePfns(s.loaded);
                    freeMagazinePfns(s.prev);
                }
                finally
                {
                    s.unlock();
                }
            }
        }
        for (final Rcache rc : rcaches)
        {
            synchronized (rc)
            {
                while (rc.depotSize > 0)
                {
                    final long[] mag = rc.depot[--rc.depotSize];
                    rc.depot[rc.depotSize] = null;
                    freeMagazinePfns(mag);
                    rc.recycle(mag);
                }
            }
        }
    }

    /**
     * Trims every depot down to at most {@code cpus} magazines, one magazine at a time, freeing their pfns
     * to the tree (what the kernel's depot work does over successive 100 ms periods).
     *
     * @return the number of magazines trimmed.
     */
    public int trimDepot()
    {
        int trimmed = 0;
        for (final Rcache rc : rcaches)
        {
            while (trimOne(rc))
            {
                trimmed++;
            }
        }
        return trimmed;
    }

    /** @param nanos minimum time between automatic depot trims of one cache; 0 or less disables them. */
    public void depotTrimIntervalNanos(final long nanos)
    {
        depotTrimIntervalNanos = nanos;
    }

    /** @return minimum time between automatic depot trims of one cache. */
    public long depotTrimIntervalNanos()
    {
        return depotTrimIntervalNanos;
    }

    /**
     * {@code put_iova_domain()}: every cached pfn back to the tree, then every range freed. The domain is
     * empty and usable again afterwards.
     */
    public void putDomain()
    {
        flushRcaches();
        synchronized (treeLock)
        {
            initTree();
        }
    }

    /** Same as {@link #putDomain()}. */
    public void destroy()
    {
        putDomain();
    }

    // ------------------------------------------------------------------------------------------ rcache

    private CpuRcache slot(final int cpu, final int order)
    {
        if (cpu < 0 || cpu >= cpus)
        {
            throw new IllegalArgumentException("cpu " + cpu + " is not in 0.." + (cpus - 1));
        }
        return slots[cpu * IOVA_RANGE_CACHE_MAX_SIZE + order];
    }

    private static long rcacheGet(final CpuRcache s, final Rcache rc, final long popLimit)
    {
        long pfn = 0;
        s.lock();
        try
        {
            boolean hasPfn = true;
            if (s.loaded[0] == 0)
            {
                if (s.prev[0] != 0)
                {
                    s.swap();
                }
                else
                {
                    synchronized (rc)
                    {
                        if (rc.depotSize > 0)
                        {
                            rc.recycle(s.loaded);
                            s.loaded = rc.depot[--rc.depotSize];
                            rc.depot[rc.depotSize] = null;
                            rc.depotPops++;
                        }
                        else
                        {
                            hasPfn = false;
                        }
                    }
                }
            }
            if (hasPfn)
            {
                pfn = magazinePop(s.loaded, popLimit);
            }
            if (pfn != 0)
            {
                s.hits++;
            }
            else
            {
                s.misses++;
            }
        }
        finally
        {
            s.unlock();
        }
        return pfn;
    }

    private boolean rcacheInsert(final CpuRcache s, final Rcache rc, final long pfn)
    {
        boolean pushedToDepot = false;
        s.lock();
        try
        {
            if (s.loaded[0] == IOVA_MAG_SIZE)
            {
                if (s.prev[0] != IOVA_MAG_SIZE)
                {
                    s.swap();
                }
                else
                {
                    synchronized (rc)
                    {
                        rc.push(s.loaded);
                        s.loaded = rc.takeSpare();
                    }
                    pushedToDepot = true;
                }
            }
            final long[] mag = s.loaded;
            final int n = (int)mag[0] + 1;
            mag[n] = pfn;
            mag[0] = n;
        }
        finally
        {
            s.unlock();
        }
        if (pushedToDepot)
        {
            maybeTrim(rc);
        }
        return true;
    }

    /** The kernel's pop: the highest-index pfn {@code <= limit}, the last entry moved into its slot. */
    static long magazinePop(final long[] mag, final long limit)
    {
        final int n = (int)mag[0];
        int i = n;
        while (mag[i] > limit)
        {
            if (i == 1)
            {
                return 0;
            }
            i--;
        }
        final long pfn = mag[i];
        mag[i] = mag[n];
        mag[0] = n - 1;
        return pfn;
    }

    private void maybeTrim(final Rcache rc)
    {
        final long interval = depotTrimIntervalNanos;
        if (interval <= 0)
        {
            return;
        }
        final long now = System.nanoTime();
        synchronized (rc)
        {
            if (now - rc.lastTrimNanos < interval)
            {
                return;
            }
            rc.lastTrimNanos = now;
        }
        trimOne(rc);
    }

    private boolean trimOne(final Rcache rc)
    {
        final long[] mag;
        synchronized (rc)
        {
            if (rc.depotSize <= cpus)
            {
                return false;
            }
            mag = rc.depot[--rc.depotSize];
            rc.depot[rc.depotSize] = null;
            rc.depotTrims++;
        }
        freeMagazinePfns(mag);
        synchronized (rc)
        {
            rc.recycle(mag);
        }
        return true;
    }

    private void freeMagazinePfns(final long[] mag)
    {
        final int n = (int)mag[0];
        if (n == 0)
        {
            return;
        }
        synchronized (treeLock)
        {
            for (int i = 1; i <= n; i++)
            {
                freeLocked(mag[i]);
            }
        }
        mag[0] = 0;
    }

    private static long roundUpPow2(final long v)
    {
        return v <= 1 ? 1 : Long.highestOneBit(v - 1) << 1;
    }

    /** {@code order_base_2()}: ceil(log2(v)), 0 for v = 1. */
    static int orderBase2(final long v)
    {
        return v <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(v - 1);
    }

    // ------------------------------------------------------------------------------------------ stats

    /** @return rcache allocations served from a magazine. */
    public long rcacheHits()
    {
        long sum = 0;
        for (final CpuRcache s : slots)
        {
            sum += s.hits;
        }
        return sum;
    }

    /** @return rcache lookups (cacheable sizes) that fell through to the tree. */
    public long rcacheMisses()
    {
        long sum = 0;
        for (final CpuRcache s : slots)
        {
            sum += s.misses;
        }
        return sum;
    }

    /** @return full magazines pushed to a depot. */
    public long depotPushes()
    {
        return sumRcaches(rc -> rc.depotPushes);
    }

    /** @return magazines a CPU took from a depot. */
    public long depotPops()
    {
        return sumRcaches(rc -> rc.depotPops);
    }

    /** @return magazines trimmed from a depot back to the tree. */
    public long depotTrims()
    {
        return sumRcaches(rc -> rc.depotTrims);
    }

    /** Sums one depot counter over every rcache, each read under its lock (a statistics path). */
    private long sumRcaches(final ToLongFunction<Rcache> counter)
    {
        long sum = 0;
        for (final Rcache rc : rcaches)
        {
            synchronized (rc)
            {
                sum += counter.applyAsLong(rc);
            }
        }
        return sum;
    }

    /** @return magazines now in the depot of cache {@code order} (0..5). */
    public int depotSize(final int order)
    {
        final Rcache rc = rcaches[order];
        synchronized (rc)
        {
            return rc.depotSize;
        }
    }

    /** @return pfns in CPU {@code cpu}'s loaded magazine of cache {@code order}. */
    public int loadedCount(final int cpu, final int order)
    {
        final CpuRcache s = slot(cpu, order);
        s.lock();
        try
        {
            return (int)s.loaded[0];
        }
        finally
        {
            s.unlock();
        }
    }

    /** @return pfns in CPU {@code cpu}'s prev magazine of cache {@code order}. */
    public int prevCount(final int cpu, final int order)
    {
        final CpuRcache s = slot(cpu, order);
        s.lock();
        try
        {
            return (int)s.prev[0];
        }
        finally
        {
            s.unlock();
        }
    }

    /** @return ranges held by the caches (magazines and depots); each is still allocated in the tree. */
    public long cachedIovas()
    {
        long sum = 0;
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            for (int order = 0; order < IOVA_RANGE_CACHE_MAX_SIZE; order++)
            {
                sum += loadedCount(cpu, order) + prevCount(cpu, order);
            }
        }
        for (int order = 0; order < IOVA_RANGE_CACHE_MAX_SIZE; order++)
        {
            sum += (long)depotSize(order) * IOVA_MAG_SIZE;
        }
        return sum;
    }

    /** @return successful tree allocations. */
    public long treeAllocs()
    {
        synchronized (treeLock)
        {
            return treeAllocs;
        }
    }

    /** @return failed tree allocations (including the max32 fast-fail). */
    public long treeAllocFailures()
    {
        synchronized (treeLock)
        {
            return treeAllocFailures;
        }
    }

    /** @return ranges freed in the tree. */
    public long treeFrees()
    {
        synchronized (treeLock)
        {
            return treeFrees;
        }
    }

    /** @return tree nodes visited by every search, insert, delete and lookup so far. */
    public long nodeVisits()
    {
        synchronized (treeLock)
        {
            return tree.visits();
        }
    }

    /** @return ranges allocated in the tree (live, cached or reserved), not counting the anchor. */
    public int liveRanges()
    {
        synchronized (treeLock)
        {
            return tree.size() - 1;
        }
    }

    /** @return the current {@code max32_alloc_size}, in pfns. */
    public long max32AllocSize()
    {
        synchronized (treeLock)
        {
            return max32AllocSize;
        }
    }

    /** @return bytes of tree node storage per node ({@value IovaTree#BYTES_PER_NODE}). */
    public static int treeBytesPerNode()
    {
        return IovaTree.BYTES_PER_NODE;
    }

    /** @return tree bytes (allocated node arrays, including growth slack) per live range. */
    public double bytesPerLiveIova()
    {
        synchronized (treeLock)
        {
            return (double)(tree.capacity() + 1) * IovaTree.BYTES_PER_NODE / Math.max(1, tree.size() - 1);
        }
    }

    /** Test hook: verifies the tree's order, balance and augmentation. @return the node count. */
    int verifyTree()
    {
        synchronized (treeLock)
        {
            return tree.verify();
        }
    }

    // ------------------------------------------------------------------------------------------ types

    /**
     * Per-order state shared by all CPUs, guarded by its own monitor (the kernel's {@code rcache->lock}). A
     * brief lock rather than a JCTools queue: the depot must stay LIFO for the kernel's placement (a
     * magazine pushed last is the one handed back and the one trimmed), the MPMC queues are FIFO, and a CPU
     * touches the depot at most once per {@link #IOVA_MAG_SIZE} operations, so the monitor is off the fast
     * path and uncontended in practice.
     */
    private static final class Rcache
    {
        long[][] depot = new long[8][];
        int depotSize;
        long[][] spares = new long[8][];
        int spareCount;
        long lastTrimNanos = System.nanoTime();
        long depotPushes;
        long depotPops;
        long depotTrims;

        void push(final long[] mag)
        {
            if (depotSize == depot.length)
            {
                depot = java.util.Arrays.copyOf(depot, depotSize * 2);
            }
            depot[depotSize++] = mag;
            depotPushes++;
        }

        long[] takeSpare()
        {
            if (spareCount > 0)
            {
                final long[] mag = spares[--spareCount];
                spares[spareCount] = null;
                return mag;
            }
            return newMagazine();
        }

        void recycle(final long[] mag)
        {
            mag[0] = 0;
            if (spareCount < spares.length)
            {
                spares[spareCount++] = mag;
            }
        }
    }

    /** A magazine: {@code [0]} = count, {@code [1..count]} = pfns (1024 bytes of payload, as the kernel's). */
    static long[] newMagazine()
    {
        return new long[IOVA_MAG_SIZE + 1];
    }

    abstract static class SlotPadBefore
    {
        long p01, p02, p03, p04, p05, p06, p07;
    }

    abstract static class SlotFields extends SlotPadBefore
    {
        volatile int lockWord;
        long[] loaded = newMagazine();
        long[] prev = newMagazine();
        long hits;
        long misses;
    }

    /**
     * One CPU's magazines for one order ({@code struct iova_cpu_rcache}), padded against false sharing with
     * the neighbouring slots. Guarded by a test-and-test-and-set spin lock: one CAS to take it uncontended,
     * a release store to drop it; a waiter yields after a short spin (threads sharing a CPU slot may be
     * descheduled while holding it, unlike the kernel's preemption-disabled holders).
     */
    static final class CpuRcache extends SlotFields
    {
        private static final VarHandle LOCK;

        static
        {
            try
            {
                LOCK = MethodHandles.lookup().findVarHandle(SlotFields.class, "lockWord", int.class);
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new ExceptionInInitializerError(ex);
            }
        }

        long p11, p12, p13, p14, p15, p16, p17;

        void lock()
        {
            if (!LOCK.compareAndSet(this, 0, 1))
            {
                lockSlow();
            }
        }

        private void lockSlow()
        {
            int spins = 0;
            while (true)
            {
                if ((int)LOCK.getOpaque(this) == 0 && LOCK.compareAndSet(this, 0, 1))
                {
                    return;
                }
                if (++spins < 64)
                {
                    Thread.onSpinWait();
                }
                else
                {
                    Thread.yield();
                }
            }
        }

        void unlock()
        {
            LOCK.setRelease(this, 0);
        }

        void swap()
        {
            final long[] t = loaded;
            loaded = prev;
            prev = t;
        }
    }
}
