package dev.dmasim.engine.iova;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of the {@link IovaDomain} rcache: per-(CPU, order) slots guarded by a CAS spin lock released with
 * a release store, and a per-order LIFO depot of full magazines guarded by its monitor (see the class comment
 * there).
 * <p>
 * Invariants under test (DESIGN §6: per-CPU structures stay correct when two threads share a slot):
 * <ul>
 *   <li>two threads sharing one CPU slot never get the same IOVA while it is live, and no IOVA is lost: every pfn
 *       is live, cached in exactly one magazine, or free in the tree ({@link SharedSlot});</li>
 *   <li>a full magazine pushed to the depot by one CPU while another CPU pops from the depot is neither duplicated
 *       nor lost ({@link DepotPushPop}).</li>
 * </ul>
 * Accounting identity used by the arbiters: cached pfns are still allocated ranges in the tree, so
 * {@code liveRanges() == cachedIovas() + pfns handed out}; after everything is freed and the caches are flushed,
 * {@code liveRanges() == 0}.
 */
public final class IovaDomainStress
{
    static final long GRANULE = 4096;
    static final long LIMIT = (1L << 32) / GRANULE - 1;

    private IovaDomainStress()
    {
    }

    /**
     * {@link IovaDomain#freeIovaFast} then {@link IovaDomain#allocIovaFast} from two threads on ONE CPU slot; the
     * slot's loaded magazine starts with one cached pfn. Result: (1 if the two allocated pfns differ, 1 if the
     * accounting identity holds after both, 1 if everything is back in the tree after freeing both and
     * flushing the caches).
     */
    @JCStressTest
    @Description("IovaDomain rcache, two threads on one CPU slot: no IOVA handed out twice, none lost")
    @Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "distinct IOVAs; every pfn accounted for")
    @Outcome(id = "0, .*, .*", expect = FORBIDDEN,
        desc = "the same IOVA was handed out to both threads while live (slot lock broken)")
    @Outcome(id = "1, 0, .*", expect = FORBIDDEN,
        desc = "a cached pfn was lost or duplicated in the magazine (cached + live != allocated ranges)")
    @Outcome(id = "1, 1, 0", expect = FORBIDDEN,
        desc = "after freeing and flushing, ranges remain allocated: a pfn was lost")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class SharedSlot
    {
        final IovaDomain iovad = new IovaDomain(GRANULE, 1, 1);
        final long p1;
        final long p2;
        long a1;
        long a2;

        public SharedSlot()
        {
            iovad.depotTrimIntervalNanos(0);
            final long p0 = iovad.allocIovaFast(1, LIMIT, false, 0);
            p1 = iovad.allocIovaFast(1, LIMIT, false, 0);
            p2 = iovad.allocIovaFast(1, LIMIT, false, 0);
            iovad.freeIovaFast(p0, 1, 0); // cached: loaded = [p0]
        }

        /** Unmap one IOVA, map another, on CPU 0. */
        @Actor
        public void thread1()
        {
            iovad.freeIovaFast(p1, 1, 0);
            a1 = iovad.allocIovaFast(1, LIMIT, false, 0);
        }

        /** The same on the same CPU slot (a thread sharing the slot). */
        @Actor
        public void thread2()
        {
            iovad.freeIovaFast(p2, 1, 0);
            a2 = iovad.allocIovaFast(1, LIMIT, false, 0);
        }

        /** Checks distinctness and the accounting, then returns everything. */
        @Arbiter
        public void arbiter(final III_Result r)
        {
            r.r1 = a1 != a2 && a1 != 0 && a2 != 0 ? 1 : 0;
            r.r2 = iovad.liveRanges() == iovad.cachedIovas() + 2 ? 1 : 0;
            iovad.freeIovaFast(a1, 1, 0);
            iovad.freeIovaFast(a2, 1, 0);
            iovad.flushRcaches();
            r.r3 = iovad.liveRanges() == 0 ? 1 : 0;
        }
    }

    /**
     * Depot push vs depot pop between two CPU slots. CPU 0's loaded and prev magazines are full (2 × 127 pfns),
     * so its next {@link IovaDomain#freeIovaFast} pushes the loaded magazine to the depot; CPU 1 has empty
     * magazines, so its {@link IovaDomain#allocIovaFast} pops a magazine from the depot if there is one, else
     * allocates from the tree. Result: (1 if CPU 1's pfn came from the pushed magazine, 2 if from the tree;
     * 3 if the pop found no magazine where the depot said one was; 1 if the accounting identity holds; 1 if
     * everything is back in the tree after freeing and flushing).
     */
    @JCStressTest
    @Description("IovaDomain depot: a magazine pushed by one CPU and popped by another is never duplicated or lost")
    @Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "the pop came after the push: CPU 1 took the magazine")
    @Outcome(id = "2, 1, 1", expect = ACCEPTABLE, desc = "the pop came before the push: CPU 1 used the tree")
    @Outcome(id = "[12], 0, .*", expect = FORBIDDEN,
        desc = "cached + live != allocated ranges: a magazine was duplicated (in the depot and a slot) or lost")
    @Outcome(id = "[12], 1, 0", expect = FORBIDDEN, desc = "after freeing and flushing, ranges remain: pfns lost")
    @Outcome(id = "3, 0, 0", expect = FORBIDDEN,
        desc = "CPU 1 popped a missing (null) magazine: a racing push/pop lost one")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class DepotPushPop
    {
        static final int CACHED = 2 * IovaDomain.IOVA_MAG_SIZE;

        final IovaDomain iovad = new IovaDomain(GRANULE, 1, 2);
        /** Lowest pfn of the ones cached on CPU 0 (the tree hands them out top-down). */
        final long lowestCached;
        final long q;
        long popped;

        public DepotPushPop()
        {
            iovad.depotTrimIntervalNanos(0);
            final long[] pfns = new long[CACHED];
            for (int i = 0; i < CACHED; i++)
            {
                pfns[i] = iovad.allocIovaFast(1, LIMIT, false, 0);
            }
            q = iovad.allocIovaFast(1, LIMIT, false, 0);
            for (int i = 0; i < CACHED; i++)
            {
                iovad.freeIovaFast(pfns[i], 1, 0); // fills loaded, swaps, fills again: both full
            }
            lowestCached = pfns[CACHED - 1];
        }

        /** CPU 0 unmaps q: loaded and prev are full, so the loaded magazine goes to the depot. */
        @Actor
        public void cpu0()
        {
            iovad.freeIovaFast(q, 1, 0);
        }

        /** CPU 1 maps: its magazines are empty, so it pops from the depot (or falls back to the tree). */
        @Actor
        public void cpu1()
        {
            try
            {
                popped = iovad.allocIovaFast(1, LIMIT, false, 1);
            }
            catch (final RuntimeException ex)
            {
                popped = -1; // the depot handed out a missing (null) magazine
            }
        }

        /** Where did CPU 1's pfn come from; is every pfn accounted for? */
        @Arbiter
        public void arbiter(final III_Result r)
        {
            if (popped < 0)
            {
                r.r1 = 3;
                return;
            }
            r.r1 = popped >= lowestCached && popped != q ? 1 : popped < lowestCached && popped != 0 ? 2 : 0;
            try
            {
                r.r2 = iovad.liveRanges() == iovad.cachedIovas() + 1 ? 1 : 0;
                iovad.freeIovaFast(popped, 1, 1);
                iovad.flushRcaches();
                r.r3 = iovad.liveRanges() == 0 ? 1 : 0;
            }
            catch (final RuntimeException ex)
            {
                // a slot left without a magazine (null) by a racing push/pop: as lost as it gets
                r.r2 = 0;
                r.r3 = 0;
            }
        }
    }
}
