package dev.dmasim.engine.debug;

import dev.dmasim.concurrency.TinyRam;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.sim.mem.PhysAddressSpace;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.III_Result;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link DmaDebug}'s concurrent bookkeeping (see its class comment): a bucket's entry list is
 * read and written only under that bucket's monitor; the cacheline-overlap table only under its own monitor, with
 * the exists-check and the insert in one critical section; the report list under its monitor; the error, kind
 * and live-entry counts are atomics.
 * <p>
 * Invariants under test: concurrent maps and unmaps in one bucket lose no entry and free the right one
 * ({@link SameBucketMaps}, {@link SameBucketMapVsUnmap}); two device-writable mappings of one cacheline made at
 * once are reported exactly once as overlapping, and the line is free again once both are unmapped
 * ({@link SameCacheline}); two reports made at once are both counted and kept ({@link ConcurrentReports}).
 * <p>
 * A {@code DmaDebug} has 16 384 buckets (~0.7 MB of heap): building one per state cut the sampling rate to a few
 * hundred per second. So a state borrows one from {@link #POOL} and its arbiter gives it back only when it is
 * as new: no live entry (so no bucket entry and no cacheline left), then {@link DmaDebug#clear()} (reports,
 * counters and the logging budget). The queue orders the return before the next borrow. An exception in an actor
 * (a broken lock can make an {@code ArrayList} throw) is counted and shows as a FORBIDDEN result, not an error.
 * The memory dma-debug is given is asked only about MMIO mappings, which these tests do not make: one for all.
 */
public final class DmaDebugStress
{
    /** Never touched: dma-debug reads it only for {@code DMA_ATTR_MMIO} mappings. */
    static final PhysAddressSpace MEM = TinyRam.create(1L << 20);
    /** Device addresses in one 8 KiB bucket window ({@link DmaDebug#HASH_FN_SHIFT}), and one in another. */
    static final long DMA_A = 0x10_0000L;
    static final long DMA_B = 0x10_1000L;
    static final long DMA_X = 0x10_1800L;
    static final long DMA_Y = 0x10_0800L;
    static final long DMA_OTHER_BUCKET = 0x20_0000L;

    private DmaDebugStress()
    {
    }

    /** A device as dma-debug sees it. */
    static final class Dev implements DebugDevice
    {
        @Override
        public String driverName()
        {
            return "stress";
        }

        @Override
        public String deviceName()
        {
            return "0000:01:00.0";
        }

        @Override
        public long maxSegmentSize()
        {
            return 65536;
        }

        @Override
        public long segmentBoundary()
        {
            return 0xffff_ffffL;
        }
    }

    /** Clean dma-debug instances, see the class comment. */
    static final ConcurrentLinkedQueue<DmaDebug> POOL = new ConcurrentLinkedQueue<>();

    /** A clean dma-debug with one device; errors go to a small log that is never printed. */
    abstract static class Base
    {
        final DmaDebug debug = borrow();
        final Dev dev = new Dev();
        /** Exceptions thrown in the actors. */
        final AtomicInteger thrown = new AtomicInteger();

        private static DmaDebug borrow()
        {
            final DmaDebug d = POOL.poll();
            return d != null ? d : new DmaDebug(MEM, new KernelLog(4)).stackDepth(1);
        }

        /** Gives the instance back if it is as new; called last by every arbiter. */
        void release()
        {
            if (debug.liveEntries() == 0 && thrown.get() == 0)
            {
                debug.clear();
                POOL.offer(debug);
            }
        }

        /** {@code dma_map_phys} as a correct driver does it: map, then {@code dma_mapping_error}. */
        void map(final long phys, final long dma, final DmaDirection dir)
        {
            try
            {
                debug.mapPhys(dev, phys, 4096, dir, dma, 0);
                debug.mappingError(dev, dma);
            }
            catch (final RuntimeException ex)
            {
                thrown.incrementAndGet();
            }
        }

        /** @return 1 if dma-debug knew the mapping. */
        int unmap(final long dma, final DmaDirection dir)
        {
            try
            {
                return debug.unmapPhys(dev, dma, 4096, dir, 0) ? 1 : 0;
            }
            catch (final RuntimeException ex)
            {
                thrown.incrementAndGet();
                return 0;
            }
        }
    }

    /**
     * Two threads map two addresses of one bucket. Result: (entries dma-debug counts, whether the unmap of A found
     * it, whether the unmap of B found it, errors plus exceptions).
     */
    @JCStressTest
    @Description("DmaDebug: two maps into one bucket at once lose no entry")
    @Outcome(id = "2, 1, 1, 0", expect = ACCEPTABLE, desc = "both entries recorded, both unmaps match, no report")
    @Outcome(expect = FORBIDDEN, desc = "an entry was lost (the bucket's monitor did not serialise the two adds)")
    @State
    public static class SameBucketMaps extends Base
    {
        /** Maps A. */
        @Actor
        public void mapA()
        {
            map(0x1000, DMA_A, DmaDirection.TO_DEVICE);
        }

        /** Maps B, in A's bucket. */
        @Actor
        public void mapB()
        {
            map(0x3000, DMA_B, DmaDirection.TO_DEVICE);
        }

        /** Counts the entries, then unmaps both. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r1 = (int)debug.liveEntries();
            r.r2 = unmap(DMA_A, DmaDirection.TO_DEVICE);
            r.r3 = unmap(DMA_B, DmaDirection.TO_DEVICE);
            r.r4 = (int)debug.errorCount() + thrown.get();
            release();
        }
    }

    /**
     * One thread maps B while another maps Y and then unmaps X, all in A's bucket, where A and X are mapped (the
     * map before the unmap lines the two threads up: a map spends most of its time capturing the stack). Result:
     * (whether the unmap of X found it, whether A is still found, whether B and Y are found, errors plus live
     * entries left plus exceptions).
     */
    @JCStressTest
    @Description("DmaDebug: a map and an unmap in one bucket at once: the right entry goes, none is lost")
    @Outcome(id = "1, 1, 2, 0", expect = ACCEPTABLE, desc = "X removed, A, B and Y kept; no report, nothing left")
    @Outcome(expect = FORBIDDEN,
        desc = "an entry was lost or the wrong one removed (the bucket's monitor did not serialise add and remove)")
    @State
    public static class SameBucketMapVsUnmap extends Base
    {
        public SameBucketMapVsUnmap()
        {
            map(0x1000, DMA_A, DmaDirection.TO_DEVICE);
            map(0x5000, DMA_X, DmaDirection.TO_DEVICE);
        }

        /** Maps B. */
        @Actor
        public void mapB(final IIII_Result r)
        {
            map(0x3000, DMA_B, DmaDirection.TO_DEVICE);
        }

        /** Maps Y, then unmaps X. */
        @Actor
        public void unmapX(final IIII_Result r)
        {
            map(0x7000, DMA_Y, DmaDirection.TO_DEVICE);
            r.r1 = unmap(DMA_X, DmaDirection.TO_DEVICE);
        }

        /** Unmaps A, B and Y. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r2 = unmap(DMA_A, DmaDirection.TO_DEVICE);
            r.r3 = unmap(DMA_B, DmaDirection.TO_DEVICE) + unmap(DMA_Y, DmaDirection.TO_DEVICE);
            r.r4 = (int)(debug.errorCount() + debug.liveEntries()) + thrown.get();
            release();
        }
    }

    /**
     * Two threads map FROM_DEVICE buffers whose first bytes share one 64-byte cacheline, at addresses in different
     * buckets. Result: (EEXIST reports after both maps, after both unmaps and a third map of the line, errors of
     * any other kind).
     */
    @JCStressTest
    @Description("DmaDebug: two overlapping device-writable maps at once: exactly one EEXIST report, line freed")
    @Outcome(id = "1, 1, 0", expect = ACCEPTABLE,
        desc = "one of the two saw the other's line: one report; once both are unmapped the line is free again")
    @Outcome(id = "0, .*, .*", expect = FORBIDDEN,
        desc = "neither saw the other: the exists-check and the insert were not one critical section")
    @Outcome(id = "1, 2, .*", expect = FORBIDDEN, desc = "the line's overlap count was left over after both unmaps")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class SameCacheline extends Base
    {
        /** Maps phys 0x1000. */
        @Actor
        public void first()
        {
            map(0x1000, DMA_A, DmaDirection.FROM_DEVICE);
        }

        /** Maps phys 0x1020: the same cacheline (by its first byte). */
        @Actor
        public void second()
        {
            map(0x1020, DMA_OTHER_BUCKET, DmaDirection.FROM_DEVICE);
        }

        /** Counts, unmaps both, maps the line once more (must not report), unmaps it. */
        @Arbiter
        public void arbiter(final III_Result r)
        {
            r.r1 = (int)debug.count(DebugReport.Kind.CACHELINE_OVERLAP);
            final int found = unmap(DMA_A, DmaDirection.FROM_DEVICE) + unmap(DMA_OTHER_BUCKET, DmaDirection.FROM_DEVICE);
            map(0x1010, DMA_B, DmaDirection.FROM_DEVICE);
            r.r2 = (int)debug.count(DebugReport.Kind.CACHELINE_OVERLAP);
            final int last = unmap(DMA_B, DmaDirection.FROM_DEVICE);
            r.r3 = (int)(debug.errorCount() - r.r2) + (2 - found) + (1 - last) + (int)debug.liveEntries()
                + thrown.get();
            release();
        }
    }

    /**
     * Two threads unmap addresses nobody mapped (in different buckets): two FREE_NOT_ALLOCATED reports. Result:
     * (error count, that kind's count, reports kept).
     */
    @JCStressTest
    @Description("DmaDebug: two reports at once are both counted and both kept")
    @Outcome(id = "2, 2, 2", expect = ACCEPTABLE, desc = "both counted, both kept")
    @Outcome(expect = FORBIDDEN, desc = "a count or a report was lost")
    @State
    public static class ConcurrentReports extends Base
    {
        /** Unmaps A, never mapped. */
        @Actor
        public void badUnmap1()
        {
            unmap(DMA_A, DmaDirection.TO_DEVICE);
        }

        /** Unmaps another address, never mapped. */
        @Actor
        public void badUnmap2()
        {
            unmap(DMA_OTHER_BUCKET, DmaDirection.TO_DEVICE);
        }

        /** Reads the counters and the reports. */
        @Arbiter
        public void arbiter(final III_Result r)
        {
            r.r1 = (int)debug.errorCount();
            r.r2 = (int)debug.count(DebugReport.Kind.FREE_NOT_ALLOCATED);
            r.r3 = debug.reports().size() + thrown.get();
            release();
        }
    }
}
