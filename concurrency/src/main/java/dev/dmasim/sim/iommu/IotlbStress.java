package dev.dmasim.sim.iommu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link Iotlb}, the IOMMU's translation cache: a per-set seqlock (see the class comment there
 * for the pairing table). Every test but the range ones (1 set, 8 ways) uses a 1-set, 1-way IOTLB, so all entries
 * collide in one set and every fill evicts the previous entry, which maximises the interleavings of writers and
 * readers.
 * <p>
 * Invariants under test:
 * <ul>
 *   <li>{@link Iotlb#lookup} never returns a torn entry (the tag of one translation with the value of another)
 *       and, once it has seen a writer's eviction, sees that writer's new entry too
 *       ({@link FillThenLookup});</li>
 *   <li>a lookup that starts after {@link Iotlb#invalidateRange} returned never hits the invalidated entry
 *       ({@link InvalidateThenLookup});</li>
 *   <li>{@link Iotlb#fillIfUnchanged} with a token read before a page-table walk that raced with an unmap never
 *       re-inserts the translation the unmap's invalidation removed ({@link WalkRacesUnmap});</li>
 *   <li>in lazy mode, where the unmap only {@link Iotlb#markStale marks} the entries, such a fill never leaves an
 *       unmapped page cached <i>without</i> the STALE bit, so every later use of it is counted in
 *       {@link Iotlb#staleHits()} (DESIGN §6, "modelled and counted, not hidden") ({@link WalkRacesLazyUnmap});</li>
 *   <li>the same two properties when the unmap covers a <i>range</i> of pages, which takes the other protocol:
 *       one increment of the stripe's range generation, then a tag-filter read and a set read per page, the set's
 *       lock only for a cached page ({@link WalkRacesRangeUnmap}, {@link WalkRacesLazyRangeUnmap}).</li>
 * </ul>
 * Results are codes, not raw words: {@link #MISS} 0, translation A 1, translation B 2, anything else 3.
 */
public final class IotlbStress
{
    static final int DOMAIN = 1;
    static final long PFN_A = 0x10;
    static final long PFN_B = 0x20;
    /** Translation words of pages A and B (PteDescriptor layout: valid, read, write, level 3). */
    static final long VALUE_A = PteDescriptor.leaf(0xA000, PteDescriptor.READ | PteDescriptor.WRITE, 3);
    static final long VALUE_B = PteDescriptor.leaf(0xB000, PteDescriptor.READ | PteDescriptor.WRITE, 3);

    /** Range tests: 4 pages from A in a 1-set, 8-way IOTLB (a range below capacity takes the range path). */
    static final int RANGE_PAGES = 4;
    static final int RANGE_WAYS = 8;

    static final int MISS = 0;
    static final int A = 1;
    static final int B = 2;
    static final int OTHER = 3;

    private IotlbStress()
    {
    }

    static int code(final long word)
    {
        if (word == Iotlb.MISS)
        {
            return MISS;
        }
        if (word == VALUE_A)
        {
            return A;
        }
        return word == VALUE_B ? B : OTHER;
    }

    /**
     * {@link Iotlb#fill} racing {@link Iotlb#lookup}: the set holds A; the writer fills B, which evicts A (same
     * way). The reader looks up A, then B. Result: (code of lookup A, code of lookup B).
     */
    @JCStressTest
    @Description("Iotlb.fill vs Iotlb.lookup: a filled translation read by another thread is never torn")
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "both lookups before the fill: A cached, B not yet")
    @Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "lookup A before the fill, lookup B after it")
    @Outcome(id = "0, 2", expect = ACCEPTABLE, desc = "both lookups after the fill: A evicted, B cached")
    @Outcome(id = "0, 0", expect = FORBIDDEN,
        desc = "saw A evicted but not B: the fill's unlock (volatile store) did not publish its entry")
    @Outcome(id = {"2, .*", ".*, 1", "3, .*", ".*, 3"}, expect = FORBIDDEN,
        desc = "torn entry: tag of one translation with the value of another (or a half-written way)")
    @Outcome(expect = FORBIDDEN, desc = "any other result breaks the seqlock")
    @State
    public static class FillThenLookup
    {
        final Iotlb iotlb = new Iotlb(1, 1);

        public FillThenLookup()
        {
            iotlb.fill(DOMAIN, PFN_A, VALUE_A);
        }

        /** The device that walked B and caches it: evicts A (one way). */
        @Actor
        public void writer()
        {
            iotlb.fill(DOMAIN, PFN_B, VALUE_B);
        }

        /** Another device translating A then B. */
        @Actor
        public void reader(final II_Result r)
        {
            r.r1 = code(iotlb.lookup(DOMAIN, PFN_A));
            r.r2 = code(iotlb.lookup(DOMAIN, PFN_B));
        }
    }

    /**
     * {@link Iotlb#invalidateRange} then a lookup that starts afterwards, in real time (Dekker-style): the unmap
     * thread invalidates A and then reads a flag; the device thread sets the flag and then looks A up. If the
     * unmap thread read the flag as 0, the flag store (and so the whole lookup) came after the invalidation had
     * returned. Result: (flag seen by the unmap thread, code of the lookup).
     */
    @JCStressTest
    @Description("Iotlb.invalidateRange vs Iotlb.lookup: a lookup started after the invalidation returned misses")
    @Outcome(id = {"1, 0", "1, 1"}, expect = ACCEPTABLE,
        desc = "the lookup overlapped the invalidation (or ran before it): either answer is allowed")
    @Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "the lookup started after the invalidation: miss")
    @Outcome(id = "0, 1", expect = FORBIDDEN,
        desc = "a lookup that started after invalidateRange returned hit the invalidated entry " +
            "(the set's volatile unlock / volatile sequence load pairing is broken)")
    @Outcome(expect = FORBIDDEN, desc = "any other result (a torn or foreign value)")
    @State
    public static class InvalidateThenLookup
    {
        static final VarHandle FLAG;

        static
        {
            try
            {
                FLAG = MethodHandles.lookup().findVarHandle(InvalidateThenLookup.class, "flag", int.class);
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new ExceptionInInitializerError(ex);
            }
        }

        final Iotlb iotlb = new Iotlb(1, 1);
        volatile int flag;

        public InvalidateThenLookup()
        {
            iotlb.fill(DOMAIN, PFN_A, VALUE_A);
        }

        /** The unmap path: invalidate A, then look at the flag (volatile). */
        @Actor
        public void unmapper(final II_Result r)
        {
            iotlb.invalidateRange(DOMAIN, PFN_A << 12, 4096);
            r.r1 = (int)FLAG.getVolatile(this);
        }

        /** The device: raise the flag (volatile), then translate A. */
        @Actor
        public void device(final II_Result r)
        {
            FLAG.setVolatile(this, 1);
            r.r2 = code(iotlb.lookup(DOMAIN, PFN_A));
        }
    }

    /**
     * {@link Iotlb#fillIfUnchanged}: the walk-races-unmap case, modelled exactly as
     * {@code IommuDomain.translate} (miss: {@link Iotlb#fillToken}, acquire load of the PTE, fill with the token)
     * against {@code IommuDomain.unmap} + {@code Iommu.invalidateRange} (CAS the PTE to 0, then invalidate).
     * The PTE is a field with the access modes {@link IoPageTable} uses on simulated RAM (getAcquire /
     * compareAndSet). Result: (device: 1 filled, 0 fill abandoned, 2 walk saw the PTE cleared; IOTLB code for A
     * after both finished).
     */
    @JCStressTest
    @Description("Iotlb.fillIfUnchanged vs unmap + invalidateRange: a stale walk never re-inserts a removed entry")
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "the walk and fill ran before the invalidation, which removed A")
    @Outcome(id = "0, 0", expect = ACCEPTABLE,
        desc = "the walk saw the old PTE, but the invalidation moved the set's sequence: fill abandoned")
    @Outcome(id = "2, 0", expect = ACCEPTABLE, desc = "the walk saw the cleared PTE: nothing to fill (fault)")
    @Outcome(id = ".*, 1", expect = FORBIDDEN,
        desc = "the unmapped translation is cached after unmap + invalidation returned: a fill from a " +
            "pre-invalidation walk survived (token check broken)")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class WalkRacesUnmap
    {
        final Iotlb iotlb = new Iotlb(1, 1);
        /** The leaf PTE of page A; 0 once unmapped. */
        final PteCell pte = new PteCell(VALUE_A);

        /** The device's miss path ({@code IommuDomain.translate}). */
        @Actor
        public void device(final II_Result r)
        {
            r.r1 = walkAndFill(iotlb, pte);
        }

        /** The strict-mode unmap: clear the PTE, then invalidate the IOTLB. */
        @Actor
        public void unmapper()
        {
            pte.clear(VALUE_A);
            iotlb.invalidateRange(DOMAIN, PFN_A << 12, 4096);
        }

        /** After both: is the translation of A still cached? */
        @Arbiter
        public void arbiter(final II_Result r)
        {
            r.r2 = iotlb.peek(DOMAIN, PFN_A) == Iotlb.MISS ? 0 : 1;
        }
    }

    /**
     * {@link Iotlb#fillIfUnchanged} vs a lazy-mode unmap ({@code IommuDomain.unmap}: CAS the PTE to 0, then
     * {@link Iotlb#markStale}, no invalidation). Result: (device: 1 filled, 0 abandoned, 2 walk saw the PTE
     * cleared; after both: 0 not cached, 1 cached and marked STALE, 2 cached and NOT marked stale).
     */
    @JCStressTest
    @Description("Iotlb.fillIfUnchanged vs unmap + markStale: an unmapped page is never cached without STALE")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "filled before the unmap marked the entry stale: stale hits count")
    @Outcome(id = {"0, 0", "2, 0"}, expect = ACCEPTABLE,
        desc = "fill abandoned (the marking moved the sequence) or the walk saw the cleared PTE: not cached")
    @Outcome(id = ".*, 2", expect = FORBIDDEN,
        desc = "an unmapped page is cached without STALE: its later uses would not be counted as stale hits")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class WalkRacesLazyUnmap
    {
        final Iotlb iotlb = new Iotlb(1, 1);
        /** The leaf PTE of page A; 0 once unmapped. */
        final PteCell pte = new PteCell(VALUE_A);

        /** The device's miss path ({@code IommuDomain.translate}). */
        @Actor
        public void device(final II_Result r)
        {
            r.r1 = walkAndFill(iotlb, pte);
        }

        /** The lazy-mode unmap: clear the PTE, mark the cached entries stale (the flush queue invalidates later). */
        @Actor
        public void unmapper()
        {
            pte.clear(VALUE_A);
            iotlb.markStale(DOMAIN, PFN_A << 12, 4096);
        }

        /** After both: not cached, cached stale, or cached as if still mapped. */
        @Arbiter
        public void arbiter(final II_Result r)
        {
            final long v = iotlb.peek(DOMAIN, PFN_A);
            r.r2 = v == Iotlb.MISS ? 0 : (v & PteDescriptor.STALE) != 0 ? 1 : 2;
        }
    }

    /**
     * {@link #WalkRacesUnmap} with a 4-page strict unmap ({@code [A, A+3]}, in a 1-set 8-way IOTLB: a range below
     * the capacity, not a full scan): {@link Iotlb#invalidateRange} of a range
     * bumps the stripe's range generation and reads each page's filter and set instead of moving every set's
     * sequence. Breaking the order (generation re-read before the set is taken, or the filter bit stored after it;
     * or the range reading filters before its increment) lets a pre-unmap walk cache A after the invalidation.
     */
    @JCStressTest
    @Description("Iotlb.fillIfUnchanged vs unmap + invalidateRange of 4 pages (range generation path)")
    @Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "the walk and fill ran before the invalidation, which removed A")
    @Outcome(id = "0, 0", expect = ACCEPTABLE,
        desc = "the walk saw the old PTE, but the range generation moved: fill abandoned")
    @Outcome(id = "2, 0", expect = ACCEPTABLE, desc = "the walk saw the cleared PTE: nothing to fill (fault)")
    @Outcome(id = ".*, 1", expect = FORBIDDEN,
        desc = "the unmapped translation is cached after the range invalidation returned (generation/filter " +
            "protocol broken)")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class WalkRacesRangeUnmap
    {
        final Iotlb iotlb = new Iotlb(1, RANGE_WAYS);
        /** The leaf PTE of page A; 0 once unmapped. */
        final PteCell pte = new PteCell(VALUE_A);

        /** The device's miss path ({@code IommuDomain.translate}). */
        @Actor
        public void device(final II_Result r)
        {
            r.r1 = walkAndFill(iotlb, pte);
        }

        /** The strict-mode unmap of A..A+3: clear A's PTE, then invalidate the range. */
        @Actor
        public void unmapper()
        {
            pte.clear(VALUE_A);
            iotlb.invalidateRange(DOMAIN, PFN_A << 12, RANGE_PAGES * 4096L);
        }

        /** After both: is the translation of A still cached? */
        @Arbiter
        public void arbiter(final II_Result r)
        {
            r.r2 = iotlb.peek(DOMAIN, PFN_A) == Iotlb.MISS ? 0 : 1;
        }
    }

    /** {@link #WalkRacesLazyUnmap} with a 4-page lazy unmap ({@code [A, A+3]}: the range generation path). */
    @JCStressTest
    @Description("Iotlb.fillIfUnchanged vs unmap + markStale of 4 pages: never cached without STALE")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "filled before the unmap marked the entry stale: stale hits count")
    @Outcome(id = {"0, 0", "2, 0"}, expect = ACCEPTABLE,
        desc = "fill abandoned (the range generation moved) or the walk saw the cleared PTE: not cached")
    @Outcome(id = ".*, 2", expect = FORBIDDEN,
        desc = "an unmapped page is cached without STALE: its later uses would not be counted as stale hits")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class WalkRacesLazyRangeUnmap
    {
        final Iotlb iotlb = new Iotlb(1, RANGE_WAYS);
        /** The leaf PTE of page A; 0 once unmapped. */
        final PteCell pte = new PteCell(VALUE_A);

        /** The device's miss path ({@code IommuDomain.translate}). */
        @Actor
        public void device(final II_Result r)
        {
            r.r1 = walkAndFill(iotlb, pte);
        }

        /** The lazy-mode unmap of A..A+3: clear A's PTE, mark the range stale. */
        @Actor
        public void unmapper()
        {
            pte.clear(VALUE_A);
            iotlb.markStale(DOMAIN, PFN_A << 12, RANGE_PAGES * 4096L);
        }

        /** After both: not cached, cached stale, or cached as if still mapped. */
        @Arbiter
        public void arbiter(final II_Result r)
        {
            final long v = iotlb.peek(DOMAIN, PFN_A);
            r.r2 = v == Iotlb.MISS ? 0 : (v & PteDescriptor.STALE) != 0 ? 1 : 2;
        }
    }

    /** A leaf PTE the walk tests race on: acquire reads, CAS clears (as IoPageTable does in simulated RAM). */
    static final class PteCell
    {
        private static final VarHandle VALUE;

        static
        {
            try
            {
                VALUE = MethodHandles.lookup().findVarHandle(PteCell.class, "value", long.class);
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new ExceptionInInitializerError(ex);
            }
        }

        @SuppressWarnings("unused") // accessed through VALUE
        private long value;

        PteCell(final long value)
        {
            this.value = value;
        }

        long getAcquire()
        {
            return (long)VALUE.getAcquire(this);
        }

        void clear(final long expected)
        {
            VALUE.compareAndSet(this, expected, 0L);
        }
    }

    /**
     * The device's miss path: take the set's fill token, walk (read the PTE with acquire), fill only if the set is
     * unchanged. @return 1 filled, 0 fill abandoned, 2 the walk saw the PTE cleared (a fault).
     */
    static int walkAndFill(final Iotlb iotlb, final PteCell pte)
    {
        final long token = iotlb.fillToken(DOMAIN, PFN_A);
        final long leaf = pte.getAcquire();
        if (leaf == 0L)
        {
            return 2;
        }
        return iotlb.fillIfUnchanged(DOMAIN, PFN_A, leaf, token) ? 1 : 0;
    }
}
