package dev.dmasim.engine.swiotlb;

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

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link Swiotlb}: an area's free-run list ({@code list[]}), {@code used} and {@code index} are
 * read and written only under the area's monitor; a mapping's metadata is written by the mapping thread after it
 * has claimed the run (see the class comment there).
 * <p>
 * Invariant under test: two threads mapping from the same area never get overlapping slots, the used count is
 * exact while both are mapped and after both unmapped, and the free runs are fully merged again afterwards
 * ({@link SameArea}).
 * <p>
 * All states share one simulated RAM that nobody writes: the bounce copies go from untouched RAM to untouched RAM,
 * which copies nothing and allocates nothing, so the states cost only the pool's metadata arrays.
 */
public final class SwiotlbStress
{
    /** 1 MiB of RAM: originals at 0, the pool (one segment, 128 slots = 256 KiB) at 512 KiB. Never touched. */
    static final PhysAddressSpace MEM = TinyRam.create(1L << 20);
    static final long POOL = 512L << 10;
    static final KernelLog LOG = new KernelLog(16);

    private SwiotlbStress()
    {
    }

    /**
     * {@link Swiotlb#tblMapSingle} of 4 KiB (two slots, page-aligned) from two threads on the same CPU, one area.
     * Result: (first slot of thread 1's mapping, first slot of thread 2's, used slots after both mapped,
     * used slots after both unmapped, or -1 if a whole-segment mapping then does not fit).
     */
    @JCStressTest
    @Description("Swiotlb.tblMapSingle x2 in one area: no overlapping slots; used count exact after both unmap")
    @Outcome(id = {"0, 2, 4, 0", "2, 0, 4, 0"}, expect = ACCEPTABLE,
        desc = "disjoint runs, 4 slots used; all free and merged back into one segment-long run afterwards")
    @Outcome(id = {"0, 0, .*", "2, 2, .*"}, expect = FORBIDDEN,
        desc = "both threads got the same slots (the area's monitor did not serialise the search)")
    @Outcome(id = ".*, .*, .*, -1", expect = FORBIDDEN,
        desc = "after both unmapped, a whole segment no longer fits: the free-run list was corrupted")
    @Outcome(expect = FORBIDDEN, desc = "used count wrong, or any other result")
    @State
    public static class SameArea
    {
        final Swiotlb pool = new Swiotlb(MEM, POOL, Swiotlb.IO_TLB_SEGSIZE, 1, false, LOG);
        long t1;
        long t2;

        int slotOf(final long tlbAddr)
        {
            return tlbAddr == Swiotlb.NO_SLOT ? -1 : (int)((tlbAddr - POOL) >>> Swiotlb.IO_TLB_SHIFT);
        }

        /** Maps 4 KiB of the original at 0 on CPU 0. */
        @Actor
        public void thread1()
        {
            t1 = pool.tblMapSingle("d1", 0x0, 4096, 0, 0, 0xffff_ffffL, DmaDirection.TO_DEVICE, 0, 0);
        }

        /** Maps 4 KiB of the original at 8 KiB, also on CPU 0 (same area). */
        @Actor
        public void thread2()
        {
            t2 = pool.tblMapSingle("d2", 0x2000, 4096, 0, 0, 0xffff_ffffL, DmaDirection.TO_DEVICE, 0, 0);
        }

        /** Checks slots and counts, unmaps, then maps and unmaps a whole segment. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r1 = slotOf(t1);
            r.r2 = slotOf(t2);
            r.r3 = (int)pool.usedSlots();
            if (t1 != Swiotlb.NO_SLOT)
            {
                pool.tblUnmapSingle("d1", t1, 4096, DmaDirection.TO_DEVICE, 0);
            }
            if (t2 != Swiotlb.NO_SLOT && t2 != t1)
            {
                pool.tblUnmapSingle("d2", t2, 4096, DmaDirection.TO_DEVICE, 0);
            }
            r.r4 = (int)pool.usedSlots();
            final long all = pool.tblMapSingle("d3", 0x0, Swiotlb.MAX_MAPPING_BYTES, 0, 0, 0xffff_ffffL,
                DmaDirection.TO_DEVICE, 0, 0);
            if (all == Swiotlb.NO_SLOT)
            {
                r.r4 = -1;
            }
            else
            {
                pool.tblUnmapSingle("d3", all, Swiotlb.MAX_MAPPING_BYTES, DmaDirection.TO_DEVICE, 0);
            }
        }
    }
}
