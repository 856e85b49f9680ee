package dev.dmasim.sim.iommu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.LongAdder;

/**
 * The IOMMU's translation cache: set-associative, {@code sets × ways} entries of one 4 KiB page each, tagged by
 * (domain id, IOVA page frame number) and holding a translation word in {@link PteDescriptor} layout (physical
 * page address, permission bits, the leaf level it came from, and {@link PteDescriptor#STALE}). Units: IOVAs and
 * sizes are bytes, {@code pfn}s are IOVA page numbers ({@code iova >>> 12}). Replacement is round-robin per set,
 * after any invalid way.
 * <p>
 * Like hardware, the IOTLB is only made coherent with the page tables by explicit invalidation
 * ({@link #invalidateRange}, {@link #invalidateDomain}, {@link #invalidateAll}). An unmap without invalidation
 * leaves the entries in place but marks them stale ({@link #markStale}); a later hit on a stale entry still
 * translates, which is the lazy-mode exposure window, and is counted in {@link #staleHits()}.
 * <p>
 * <b>Layout.</b> One {@code long[]}, one block of {@code 8 × ceil((2 + 2·ways) / 8)} longs per set (a multiple of
 * 64 bytes, so a set spans the fewest cache lines and writers of different sets rarely share one):
 * <pre>
 *   +0      sequence, 32 bits, wrapping (even: stable, odd: a writer holds the set)
 *   +1      round-robin cursor (written only under the set's lock)
 *   +2+2w   tag of way w:   bit 63 valid | domain id (bits 36..59) | IOVA pfn (bits 0..35); 0 = empty
 *   +3+2w   value of way w: PteDescriptor layout for the page (never negative)
 * </pre>
 * Besides the sets, one <i>range generation</i> per stripe of {@value #STRIPE_SETS} consecutive sets, each on its
 * own 128-byte block of a second {@code long[]}, and one 64-bit <i>tag filter</i> per set in a dense third
 * {@code long[]}: bit {@code hash(tag) & 63} is set for every tag the set may hold (a one-hash Bloom filter,
 * written only under the set's lock, never missing a present tag).
 * <p>
 * <b>Thread safety.</b> Any number of threads may {@link #lookup}, fill, invalidate and mark stale concurrently.
 * A device-side miss reads {@link #fillToken} before walking the page table and fills with
 * {@link #fillIfUnchanged}, which is what keeps a walk that raced with an unmap from re-inserting a dead
 * translation (see there).
 * <p>
 * <b>Invariants / ordering</b> (a per-set seqlock, as Linux's {@code seqcount_t}):
 * <ul>
 *   <li>Writers (fill, invalidate, mark stale) take a set by CAS of its sequence from even {@code s} to
 *       {@code s+1}, issue a {@link VarHandle#releaseFence()} (StoreStore: the odd sequence is visible before any
 *       data store), store tags and values with opaque stores, then publish {@code s+2} with a volatile store.
 *       An invalidation or stale marking of a page that is not in its set reads the set as a reader does and
 *       then moves the sequence from {@code s} to {@code s+2} with one CAS (no data store to publish; the CAS
 *       fails, and it retries, if any writer took the set meanwhile).</li>
 *   <li>An invalidation or stale marking of a <i>range</i> of pages (2 or more) first increments the range
 *       generation of every stripe the range's sets lie in (one atomic per stripe, not per page), then reads each
 *       page's tag filter (volatile) and, only where its bit is set, the set as a lookup does, and takes the set's
 *       lock only where the page is cached. A fill token holds the stripe's generation and the set's sequence; a
 *       fill takes the set's lock by CAS from the token's sequence, sets its tag's filter bit (volatile store) and
 *       only then re-reads the generation (volatile). So either that re-read precedes the increment in the
 *       synchronization order — then so do the fill's lock and filter store, and the range's filter read, which
 *       follows the increment, sees the bit; its read of the set waits for the unlock and sees (and marks or
 *       clears) the entry — or the re-read sees the increment and the fill is abandoned.
 *       The 32-bit sequence and generation halves of a token wrap: a fill is wrongly kept only if exactly 2^31
 *       writers (2^32 range operations) pass during its walk, the bound Linux's {@code seqcount_t} accepts.</li>
 *   <li>Readers load the sequence with a volatile load (retry while odd), load tag and value with opaque loads,
 *       issue a {@link VarHandle#acquireFence()} (LoadLoad: data loads complete before the re-check) and reload the
 *       sequence. If it changed, they retry. So a lookup never returns a torn (tag, value) pair: the value returned
 *       was written together with the tag it matched, by one writer critical section.</li>
 *   <li>An invalidation takes the lock of every set it touches and releases it with a volatile store; a lookup
 *       that starts after the invalidation returned reads that sequence (or a later one) with a volatile load, so
 *       it observes the cleared tags and cannot hit the invalidated entries.</li>
 *   <li>Lookups are wait-free in the absence of writers on the same set and allocation-free; writers are blocking
 *       per set (a critical section of a few dozen instructions, no allocation, no syscall).</li>
 * </ul>
 */
public final class Iotlb
{
    /** Returned by {@link #lookup} on a miss (translation words are never negative). */
    public static final long MISS = -1L;
    /** Largest domain id a tag can hold. */
    public static final int MAX_DOMAIN_ID = (1 << 24) - 1;
    /** Default number of sets. */
    public static final int DEFAULT_SETS = 256;
    /** Default associativity. */
    public static final int DEFAULT_WAYS = 8;

    private static final VarHandle ARRAY = MethodHandles.arrayElementVarHandle(long[].class);
    private static final long TAG_VALID = 1L << 63;
    private static final int DOMAIN_SHIFT = 36;
    private static final long PFN_MASK = (1L << DOMAIN_SHIFT) - 1;
    private static final int SEQ = 0;
    private static final int CURSOR = 1;
    private static final int WAYS_BASE = 2;
    private static final long SEQ_MASK = 0xFFFF_FFFFL;
    /** Sets per range-generation stripe (a power of two). */
    private static final int STRIPE_SETS = 16;
    private static final int STRIPE_SHIFT = 4;
    /** Longs between two range generations (128 bytes: no two on one cache line or adjacent-line pair). */
    private static final int GEN_STRIDE = 16;

    private final int sets;
    private final int ways;
    private final int setMask;
    private final int setStride;
    private final long[] words;
    /** Range generation of stripe k at {@code (k + 1) * GEN_STRIDE}; only ever incremented (getAndAdd). */
    private final long[] gens;
    private final int stripeMask;
    /** Tag filter of each set (see the class comment); written only under the set's lock, volatile stores. */
    private final long[] filters;

    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();
    private final LongAdder staleHits = new LongAdder();
    private final LongAdder fills = new LongAdder();
    private final LongAdder fillsAbandoned = new LongAdder();
    private final LongAdder invalidationCommands = new LongAdder();
    private final LongAdder entriesInvalidated = new LongAdder();

    /**
     * @param sets number of sets, a power of two in 1..65536.
     * @param ways associativity, 1..64.
     */
    public Iotlb(final int sets, final int ways)
    {
        if (sets < 1 || sets > 65536 || Integer.bitCount(sets) != 1)
        {
            throw new IllegalArgumentException("IOTLB sets must be a power of two in 1..65536, got " + sets);
        }
        if (ways < 1 || ways > 64)
        {
            throw new IllegalArgumentException("IOTLB ways must be in 1..64, got " + ways);
        }
        this.sets = sets;
        this.ways = ways;
        this.setMask = sets - 1;
        this.setStride = ((WAYS_BASE + 2 * ways + 7) / 8) * 8;
        this.words = new long[sets * setStride];
        final int stripes = Math.max(1, sets >>> STRIPE_SHIFT);
        this.stripeMask = stripes - 1;
        this.gens = new long[(stripes + 1) * GEN_STRIDE];
        this.filters = new long[sets];
    }

    /** @return the number of sets. */
    public int sets()
    {
        return sets;
    }

    /** @return the associativity. */
    public int ways()
    {
        return ways;
    }

    /** @return total entries ({@code sets × ways}). */
    public int capacity()
    {
        return sets * ways;
    }

    /**
     * Looks up the translation of IOVA page {@code pfn} in {@code domainId}. Counts a hit or a miss, and a stale
     * hit when the entry carries {@link PteDescriptor#STALE}. Allocation-free.
     *
     * @return the cached translation word (never negative), or {@link #MISS}.
     */
    public long lookup(final int domainId, final long pfn)
    {
        final long tag = tag(domainId, pfn);
        final long[] w = words;
        final int base = setBase(domainId, pfn);
        final int end = base + WAYS_BASE + 2 * ways;
        long found;
        while (true)
        {
            final long s1 = (long)ARRAY.getVolatile(w, base + SEQ);
            if ((s1 & 1) != 0)
            {
                Thread.onSpinWait();
                continue;
            }
            found = MISS;
            for (int i = base + WAYS_BASE; i < end; i += 2)
            {
                if ((long)ARRAY.getOpaque(w, i) == tag)
                {
                    found = (long)ARRAY.getOpaque(w, i + 1);
                    break;
                }
            }
            VarHandle.acquireFence();
            if ((long)ARRAY.getOpaque(w, base + SEQ) == s1)
            {
                break;
            }
        }
        if (found == MISS)
        {
            misses.increment();
        }
        else
        {
            hits.increment();
            if ((found & PteDescriptor.STALE) != 0)
            {
                staleHits.increment();
            }
        }
        return found;
    }

    /**
     * Looks up without counting anything (for tests and debugging).
     *
     * @return the cached translation word, or {@link #MISS}.
     */
    public long peek(final int domainId, final long pfn)
    {
        final long tag = tag(domainId, pfn);
        final long[] w = words;
        final int base = setBase(domainId, pfn);
        final int end = base + WAYS_BASE + 2 * ways;
        while (true)
        {
            final long s1 = (long)ARRAY.getVolatile(w, base + SEQ);
            if ((s1 & 1) != 0)
            {
                Thread.onSpinWait();
                continue;
            }
            long found = MISS;
            for (int i = base + WAYS_BASE; i < end; i += 2)
            {
                if ((long)ARRAY.getOpaque(w, i) == tag)
                {
                    found = (long)ARRAY.getOpaque(w, i + 1);
                    break;
                }
            }
            VarHandle.acquireFence();
            if ((long)ARRAY.getOpaque(w, base + SEQ) == s1)
            {
                return found;
            }
        }
    }

    /**
     * Reads the fill token of IOVA page {@code pfn} of {@code domainId}: call it <i>before</i> walking the page
     * table and pass it to {@link #fillIfUnchanged}. Allocation-free.
     *
     * @return an opaque token: the range generation of the page's stripe (high 32 bits) and its set's current
     * even sequence (low 32 bits), both read with volatile loads.
     */
    public long fillToken(final int domainId, final long pfn)
    {
        final int set = setNo(domainId, pfn);
        final long gen = (long)ARRAY.getVolatile(gens, genIndex(set));
        final int base = set * setStride;
        while (true)
        {
            final long s = (long)ARRAY.getVolatile(words, base + SEQ);
            if ((s & 1) == 0)
            {
                return gen << 32 | s;
            }
            Thread.onSpinWait();
        }
    }

    /**
     * Caches {@code value} for IOVA page {@code pfn} of {@code domainId} only if no writer (an invalidation, a
     * stale marking, another fill) has touched the set since {@code token} was read; otherwise caches nothing
     * (counted in {@link #fillsAbandoned()}): a cache may always decline to cache.
     * <p>
     * This closes the walk/invalidate race: an unmap clears the PTE and then marks stale or invalidates. For one
     * page it moves the set's sequence: if after the token was read, this fill's CAS fails and it is abandoned; if
     * before, the token's volatile load happens-after it, so the walk saw the cleared PTE and there was nothing to
     * fill. For a range it increments the stripe's generation before reading the sets: if after the token was
     * read, this fill sees it (re-read once it holds the set) and is abandoned, unless it took the set before the
     * increment, in which case the range's read of the set sees the entry and marks or clears it; if before, the
     * walk saw the cleared PTE. Hence no entry filled from a pre-invalidation walk survives an invalidation, and
     * no stale entry escapes {@link #markStale}.
     *
     * @param token the result of {@link #fillToken} read before the walk.
     * @param value a translation word (non-negative; {@link PteDescriptor} layout for the page).
     * @return true if the entry was written.
     */
    public boolean fillIfUnchanged(final int domainId, final long pfn, final long value, final long token)
    {
        checkValue(value);
        final int set = setNo(domainId, pfn);
        final int base = set * setStride;
        final long seq = token & SEQ_MASK;
        if ((seq & 1) != 0 || !ARRAY.compareAndSet(words, base + SEQ, seq, seq + 1))
        {
            fillsAbandoned.increment();
            return false;
        }
        VarHandle.releaseFence(); // StoreStore: odd sequence before any data store
        final long tag = tag(domainId, pfn);
        // Filter bit (volatile store), then the generation (volatile load), both after the CAS that took the set:
        // see the class comment, range case. Never reorder these three.
        ARRAY.setVolatile(filters, set, (long)ARRAY.getOpaque(filters, set) | filterBit(tag));
        if ((int)(long)ARRAY.getVolatile(gens, genIndex(set)) != (int)(token >>> 32))
        {
            refilter(set, base); // drop the bit again unless the tag is there anyway
            unlock(base, seq); // a range invalidation or marking began after the token: the walk may predate it
            fillsAbandoned.increment();
            return false;
        }
        writeEntry(set, base, tag, value);
        unlock(base, seq);
        fills.increment();
        return true;
    }

    /**
     * Caches {@code value} for IOVA page {@code pfn} of {@code domainId} unconditionally (for tests and embedders
     * that manage coherence themselves).
     *
     * @param value a translation word (non-negative; {@link PteDescriptor} layout for the page).
     */
    public void fill(final int domainId, final long pfn, final long value)
    {
        checkValue(value);
        final int set = setNo(domainId, pfn);
        final int base = set * setStride;
        final long seq = lock(base);
        final long tag = tag(domainId, pfn);
        ARRAY.setVolatile(filters, set, (long)ARRAY.getOpaque(filters, set) | filterBit(tag));
        writeEntry(set, base, tag, value);
        unlock(base, seq);
        fills.increment();
    }

    /**
     * Writes an entry into its set, which the caller has locked and whose filter already has the tag's bit: same
     * tag, else an empty way, else round-robin (then the filter is recomputed without the evicted tag).
     */
    private void writeEntry(final int set, final int base, final long tag, final long value)
    {
        final long[] w = words;
        final int end = base + WAYS_BASE + 2 * ways;
        int victim = -1;
        for (int i = base + WAYS_BASE; i < end; i += 2)
        {
            final long t = (long)ARRAY.getOpaque(w, i);
            if (t == tag)
            {
                victim = i;
                break;
            }
            if (t == 0L && victim < 0)
            {
                victim = i;
            }
        }
        if (victim < 0)
        {
            final int cursor = (int)(long)ARRAY.getOpaque(w, base + CURSOR);
            victim = base + WAYS_BASE + 2 * cursor;
            ARRAY.setOpaque(w, base + CURSOR, (long)(cursor + 1 == ways ? 0 : cursor + 1));
        }
        final long evicted = (long)ARRAY.getOpaque(w, victim);
        ARRAY.setOpaque(w, victim, tag);
        ARRAY.setOpaque(w, victim + 1, value);
        if (evicted != 0L && evicted != tag)
        {
            refilter(set, base);
        }
    }

    /** Recomputes the filter of a set the caller has locked from the tags it holds. */
    private void refilter(final int set, final int base)
    {
        final long[] w = words;
        long f = 0L;
        for (int i = base + WAYS_BASE, end = base + WAYS_BASE + 2 * ways; i < end; i += 2)
        {
            final long t = (long)ARRAY.getOpaque(w, i);
            if (t != 0L)
            {
                f |= filterBit(t);
            }
        }
        ARRAY.setVolatile(filters, set, f);
    }

    /** @return the filter bit of {@code tag} (one bit of 64, from a multiplicative hash of domain and pfn). */
    private static long filterBit(final long tag)
    {
        return 1L << (int)((tag * 0x9E3779B97F4A7C15L) >>> 58);
    }

    /**
     * Marks the entries of {@code domainId} for the pages of {@code [iova, iova+size)} stale, leaving them in place
     * (what an unmap without invalidation does to a real IOTLB). Not an invalidation command: not counted.
     *
     * @return entries marked.
     */
    public long markStale(final int domainId, final long iova, final long size)
    {
        return forRange(domainId, iova, size, false);
    }

    /**
     * Invalidation command for the pages of {@code [iova, iova+size)} in {@code domainId} (bytes; rounded out to
     * whole pages). Counted as one command.
     *
     * @return entries invalidated.
     */
    public long invalidateRange(final int domainId, final long iova, final long size)
    {
        invalidationCommands.increment();
        final long n = forRange(domainId, iova, size, true);
        entriesInvalidated.add(n);
        return n;
    }

    /**
     * Invalidation command for every entry of {@code domainId}. Counted as one command.
     *
     * @return entries invalidated.
     */
    public long invalidateDomain(final int domainId)
    {
        invalidationCommands.increment();
        final long n = scan(domainId, 0, PFN_MASK, true, true);
        entriesInvalidated.add(n);
        return n;
    }

    /**
     * Invalidation command for every entry. Counted as one command.
     *
     * @return entries invalidated.
     */
    public long invalidateAll()
    {
        invalidationCommands.increment();
        final long n = scan(-1, 0, PFN_MASK, true, false);
        entriesInvalidated.add(n);
        return n;
    }

    /** @return lookups that hit (stale hits included). */
    public long hits()
    {
        return hits.sum();
    }

    /** @return lookups that missed. */
    public long misses()
    {
        return misses.sum();
    }

    /** @return hits on entries marked {@link PteDescriptor#STALE}: translations used after their unmap. */
    public long staleHits()
    {
        return staleHits.sum();
    }

    /** @return entries written by {@link #fill}. */
    public long fills()
    {
        return fills.sum();
    }

    /** @return fills declined by {@link #fillIfUnchanged} because the set changed during the walk. */
    public long fillsAbandoned()
    {
        return fillsAbandoned.sum();
    }

    /** @return invalidation commands (range, domain and all). */
    public long invalidationCommands()
    {
        return invalidationCommands.sum();
    }

    /** @return entries removed by invalidation commands. */
    public long entriesInvalidated()
    {
        return entriesInvalidated.sum();
    }

    /** @return valid entries right now (a racy snapshot; walks every set). */
    public long occupancy()
    {
        long n = 0;
        for (int s = 0; s < sets; s++)
        {
            final int base = s * setStride;
            for (int i = base + WAYS_BASE, end = base + WAYS_BASE + 2 * ways; i < end; i += 2)
            {
                if ((long)ARRAY.getOpaque(words, i) != 0L)
                {
                    n++;
                }
            }
        }
        return n;
    }

    private long forRange(final int domainId, final long iova, final long size, final boolean invalidate)
    {
        if (size <= 0)
        {
            return 0;
        }
        checkDomain(domainId);
        final long first = (iova >>> 12) & PFN_MASK;
        final long last = Math.min(PFN_MASK, (iova + size - 1) >>> 12);
        if (last < first)
        {
            return 0;
        }
        if (last - first >= capacity())
        {
            return scan(domainId, first, last, invalidate, true);
        }
        if (first == last)
        {
            return updateTag(setBase(domainId, first), tag(domainId, first), invalidate);
        }
        // A range: one generation increment per stripe (abandons every fill whose token predates it, unless the
        // fill already holds its set, see the class comment), then a read-only probe per page; only pages that
        // are cached take their set's lock.
        bumpStripes(setNo(domainId, first), last - first + 1);
        long n = 0;
        for (long pfn = first; pfn <= last; pfn++)
        {
            final int set = setNo(domainId, pfn);
            final long tag = tag(domainId, pfn);
            if (((long)ARRAY.getVolatile(filters, set) & filterBit(tag)) != 0 && cached(set * setStride, tag))
            {
                n += lockedUpdate(set, tag, invalidate);
            }
        }
        return n;
    }

    /** Increments the range generation of every stripe holding one of {@code pages} sets from {@code set0}. */
    private void bumpStripes(final int set0, final long pages)
    {
        final long[] g = gens;
        final int stripes = stripeMask + 1;
        final int first = set0 >>> STRIPE_SHIFT;
        final long count = pages >= sets ? stripes :
            Math.min(stripes, ((set0 + pages - 1) >>> STRIPE_SHIFT) - first + 1);
        for (int k = 0; k < count; k++)
        {
            ARRAY.getAndAdd(g, ((first + k) & stripeMask) * GEN_STRIDE + GEN_STRIDE, 1L);
        }
    }

    /** @return true if a way of the set holds {@code tag}: a consistent read of the set, as {@link #lookup}. */
    private boolean cached(final int base, final long tag)
    {
        final long[] w = words;
        final int end = base + WAYS_BASE + 2 * ways;
        while (true)
        {
            final long s = (long)ARRAY.getVolatile(w, base + SEQ);
            if ((s & 1) != 0)
            {
                Thread.onSpinWait();
                continue;
            }
            boolean found = false;
            for (int i = base + WAYS_BASE; i < end; i += 2)
            {
                if ((long)ARRAY.getOpaque(w, i) == tag)
                {
                    found = true;
                    break;
                }
            }
            VarHandle.acquireFence(); // LoadLoad: the tag loads complete before the re-check
            if ((long)ARRAY.getOpaque(w, base + SEQ) == s)
            {
                return found;
            }
        }
    }

    private int updateTag(final int base, final long tag, final boolean invalidate)
    {
        final long[] w = words;
        final int end = base + WAYS_BASE + 2 * ways;
        // Fast path, the common case of an unmap: the page is not cached. Read the set like a lookup does and, if
        // no way holds the tag, move the sequence from s straight to s+2 with one CAS. Success means no writer
        // held the set between our read of s and the CAS (the sequence only grows), so the set had no entry to
        // update; moving the sequence still abandons every fill whose token was read before (as lock + unlock).
        probe:
        while (true)
        {
            final long s = (long)ARRAY.getVolatile(w, base + SEQ);
            if ((s & 1) != 0)
            {
                Thread.onSpinWait();
                continue;
            }
            for (int i = base + WAYS_BASE; i < end; i += 2)
            {
                if ((long)ARRAY.getOpaque(w, i) == tag)
                {
                    break probe;
                }
            }
            VarHandle.acquireFence(); // LoadLoad: the tag loads complete before the CAS reads the sequence
            if (ARRAY.compareAndSet(w, base + SEQ, s, (s + 2) & SEQ_MASK))
            {
                return 0;
            }
        }
        return lockedUpdate(base / setStride, tag, invalidate);
    }

    /** Marks stale or clears the ways of the set holding {@code tag}, under the set's lock. @return ways updated. */
    private int lockedUpdate(final int set, final long tag, final boolean invalidate)
    {
        final int base = set * setStride;
        final long[] w = words;
        final int end = base + WAYS_BASE + 2 * ways;
        final long seq = lock(base);
        int n = 0;
        for (int i = base + WAYS_BASE; i < end; i += 2)
        {
            if ((long)ARRAY.getOpaque(w, i) == tag)
            {
                if (invalidate)
                {
                    ARRAY.setOpaque(w, i, 0L);
                    ARRAY.setOpaque(w, i + 1, 0L);
                }
                else
                {
                    ARRAY.setOpaque(w, i + 1, (long)ARRAY.getOpaque(w, i + 1) | PteDescriptor.STALE);
                }
                n++;
            }
        }
        if (invalidate && n > 0)
        {
            refilter(set, base);
        }
        unlock(base, seq);
        return n;
    }

    private long scan(
        final int domainId, final long firstPfn, final long lastPfn, final boolean invalidate, final boolean byDomain)
    {
        final long[] w = words;
        long n = 0;
        for (int s = 0; s < sets; s++)
        {
            final int base = s * setStride;
            final int end = base + WAYS_BASE + 2 * ways;
            final long seq = lock(base);
            final long before = n;
            for (int i = base + WAYS_BASE; i < end; i += 2)
            {
                final long t = (long)ARRAY.getOpaque(w, i);
                if (t == 0L)
                {
                    continue;
                }
                final long pfn = t & PFN_MASK;
                if (byDomain && (int)((t >>> DOMAIN_SHIFT) & MAX_DOMAIN_ID) != domainId ||
                    pfn < firstPfn || pfn > lastPfn)
                {
                    continue;
                }
                if (invalidate)
                {
                    ARRAY.setOpaque(w, i, 0L);
                    ARRAY.setOpaque(w, i + 1, 0L);
                }
                else
                {
                    ARRAY.setOpaque(w, i + 1, (long)ARRAY.getOpaque(w, i + 1) | PteDescriptor.STALE);
                }
                n++;
            }
            if (invalidate && n != before)
            {
                refilter(s, base);
            }
            unlock(base, seq);
        }
        return n;
    }

    private long lock(final int base)
    {
        final long[] w = words;
        while (true)
        {
            final long s = (long)ARRAY.getVolatile(w, base + SEQ);
            if ((s & 1) == 0 && ARRAY.compareAndSet(w, base + SEQ, s, s + 1))
            {
                VarHandle.releaseFence(); // StoreStore: odd sequence before any data store
                return s;
            }
            Thread.onSpinWait();
        }
    }

    private void unlock(final int base, final long lockedFrom)
    {
        ARRAY.setVolatile(words, base + SEQ, (lockedFrom + 2) & SEQ_MASK);
    }

    private int setBase(final int domainId, final long pfn)
    {
        return setNo(domainId, pfn) * setStride;
    }

    private int setNo(final int domainId, final long pfn)
    {
        // consecutive pages of a domain go to consecutive sets; domains are spread by a Fibonacci multiplier
        final long mix = pfn + (domainId * 0x9E3779B1L >>> 7);
        return (int)mix & setMask;
    }

    /** @return the index in {@link #gens} of the range generation of {@code set}'s stripe. */
    private int genIndex(final int set)
    {
        return ((set >>> STRIPE_SHIFT) & stripeMask) * GEN_STRIDE + GEN_STRIDE;
    }

    private static long tag(final int domainId, final long pfn)
    {
        return TAG_VALID | ((long)domainId << DOMAIN_SHIFT) | (pfn & PFN_MASK);
    }

    private static void checkValue(final long value)
    {
        if (value < 0)
        {
            throw new IllegalArgumentException("IOTLB value must not be negative: 0x" + Long.toHexString(value));
        }
    }

    private static void checkDomain(final int domainId)
    {
        if (domainId < 0 || domainId > MAX_DOMAIN_ID)
        {
            throw new IllegalArgumentException("domain id out of range: " + domainId);
        }
    }
}
