package dev.dmasim.sim.iommu;

import dev.dmasim.concurrency.TinyRam;
import dev.dmasim.sim.mem.BuddyPageAllocator;
import dev.dmasim.sim.mem.PhysAddressSpace;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.JJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link IoPageTable}, the 4-level I/O page table in simulated RAM: table pages zeroed with plain
 * stores and published by a CAS of the parent PTE from 0; leaves published by CAS; walkers use acquire loads; the
 * loser of a table-install race frees its page and uses the winner's (see the class comment there).
 * <p>
 * Invariants under test:
 * <ul>
 *   <li>two mappers of disjoint pages whose intermediate tables do not exist yet both succeed, both translations
 *       are present afterwards, exactly one table per level is installed and no table page leaks
 *       ({@link DisjointMapsShareNewTables});</li>
 *   <li>a walker that follows a freshly installed table pointer sees the zeroed table, never the page's previous
 *       contents ({@link WalkSeesZeroedTable});</li>
 *   <li>two racing unmaps of the same mapped range (a driver's double unmap) never both report it unmapped,
 *       which would free its IOVA twice: the per-leaf CAS lets exactly one clear each leaf
 *       ({@link RacingDoubleUnmap}).</li>
 * </ul>
 * Each state owns a 64 KiB space (15 allocatable pages: page 0 is never handed out) and a
 * {@link BuddyPageAllocator}; the arbiter closes the space (see {@link TinyRam}).
 */
public final class IoPageTableStress
{
    static final long RAM = TinyRam.CHUNK;
    static final int RW = IommuProt.READ | IommuProt.WRITE;
    /** Two pages under the same level-0, -1 and -2 entries (slots 0), level-3 slots 1 and 2. */
    static final long IOVA_A = 0x1000;
    static final long IOVA_B = 0x2000;
    static final long PHYS_A = 0x1_0000_0000L;
    static final long PHYS_B = 0x2_0000_0000L;

    private IoPageTableStress()
    {
    }

    /**
     * {@link IoPageTable#map} from two threads, disjoint 4 KiB pages, on an empty table: both race to install the
     * level-1, -2 and -3 tables. Result: (map A rc, map B rc, 1 if both translate right afterwards, pages the
     * allocator lost minus the table pages the table owns), read after both finished.
     */
    @JCStressTest
    @Description("IoPageTable.map x2 under the same missing tables: both present, one table per level, no leak")
    @Outcome(id = "0, 0, 1, 0", expect = ACCEPTABLE,
        desc = "both mapped; each level got one table; the race losers freed their pages")
    @Outcome(id = ".*, .*, 0, .*", expect = FORBIDDEN,
        desc = "a translation is missing or wrong: a table install overwrote the other mapper's table")
    @Outcome(id = ".*, .*, .*, [1-9]", expect = FORBIDDEN,
        desc = "a table page leaked: taken from the allocator but neither owned by the table nor freed")
    @Outcome(expect = FORBIDDEN, desc = "any other result (a map failed, or the table owns pages it never took)")
    @State
    public static class DisjointMapsShareNewTables
    {
        final PhysAddressSpace mem = TinyRam.create(RAM);
        final byte[] ballast = TinyRam.ballast(RAM);
        final BuddyPageAllocator pages = BuddyPageAllocator.of(mem);
        final IoPageTable table = IoPageTable.allocate(mem, pages, false);
        /** Free pages once the root is allocated. */
        final long free0 = pages.freePageCount();

        /** Maps page A. */
        @Actor
        public void mapperA(final IIII_Result r)
        {
            r.r1 = table.map(IOVA_A, PHYS_A, 4096, RW);
        }

        /** Maps page B, racing for the same new tables. */
        @Actor
        public void mapperB(final IIII_Result r)
        {
            r.r2 = table.map(IOVA_B, PHYS_B, 4096, RW);
        }

        /** Checks both translations and the page accounting, then frees the space. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r3 = table.iovaToPhys(IOVA_A) == PHYS_A && table.iovaToPhys(IOVA_B + 0x123) == PHYS_B + 0x123 &&
                table.tablePages() == 4 ? 1 : 0;
            r.r4 = (int)(free0 - pages.freePageCount() - (table.tablePages() - 1));
            mem.close();
        }
    }

    /**
     * {@link IoPageTable#unmap} of the same 2-page range (A and B, one leaf table) from two threads, after it was
     * mapped. Result: (bytes the first unmap reported / 4096, bytes the second reported / 4096).
     */
    @JCStressTest
    @Description("IoPageTable.unmap x2 of one range: exactly one reports it (no double IOVA free)")
    @Outcome(id = {"2, 0", "0, 2"}, expect = ACCEPTABLE, desc = "one unmap cleared both leaves, the other found none")
    @Outcome(id = "2, 2", expect = FORBIDDEN,
        desc = "both unmaps reported the whole range: a plain clear let both claim the same leaves")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class RacingDoubleUnmap
    {
        final PhysAddressSpace mem = TinyRam.create(RAM);
        final byte[] ballast = TinyRam.ballast(RAM);
        final BuddyPageAllocator pages = BuddyPageAllocator.of(mem);
        final IoPageTable table = IoPageTable.allocate(mem, pages, false);

        public RacingDoubleUnmap()
        {
            table.map(IOVA_A, PHYS_A, 2 * 4096, RW);
        }

        /** The driver's unmap. */
        @Actor
        public void first(final II_Result r)
        {
            r.r1 = (int)(table.unmap(IOVA_A, 2 * 4096) / 4096);
        }

        /** The same unmap, again, from another thread. */
        @Actor
        public void second(final II_Result r)
        {
            r.r2 = (int)(table.unmap(IOVA_A, 2 * 4096) / 4096);
        }

        /** Frees the space. */
        @Arbiter
        public void arbiter(final II_Result r)
        {
            mem.close();
        }
    }

    /**
     * {@link IoPageTable#walk} racing a {@link IoPageTable#map} that installs new tables. Every page of RAM starts
     * dirty: slots 0..3 of each page hold a valid-looking leaf ({@link #GARBAGE}), as a recycled page would. The
     * mapper maps A; the walker translates B (same tables, never mapped). Result: (translation of B seen by the
     * walker, translation of A seen by the walker afterwards), each as the physical address or -1.
     */
    @JCStressTest
    @Description("IoPageTable.walk vs map: a walker following a new table pointer sees the zeroed table")
    @Outcome(id = {"-1, -1", "-1, " + PHYS_A}, expect = ACCEPTABLE,
        desc = "B unmapped (whatever tables the walk reached were zeroed); A not yet / already mapped")
    @Outcome(id = {"" + GARBAGE_PHYS + ", .*", "-1, " + GARBAGE_PHYS_A}, expect = FORBIDDEN,
        desc = "the walker read the table page's old contents: it was published before it was zeroed")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class WalkSeesZeroedTable
    {
        final PhysAddressSpace mem = TinyRam.create(RAM);
        final byte[] ballast = TinyRam.ballast(RAM);
        final BuddyPageAllocator pages = BuddyPageAllocator.of(mem);
        final IoPageTable table;

        public WalkSeesZeroedTable()
        {
            for (long page = 0; page < RAM; page += 4096)
            {
                for (int slot = 0; slot < 4; slot++)
                {
                    mem.putLong(page + slot * 8L, GARBAGE);
                }
            }
            table = IoPageTable.allocate(mem, pages, false); // zeroes the root only
        }

        /** Maps A, installing the level-1, -2 and -3 tables (allocated from dirty pages). */
        @Actor
        public void mapper()
        {
            table.map(IOVA_A, PHYS_A, 4096, RW);
        }

        /** Translates B (never mapped), then A. */
        @Actor
        public void walker(final JJ_Result r)
        {
            r.r1 = table.iovaToPhys(IOVA_B);
            r.r2 = table.iovaToPhys(IOVA_A);
        }

        /** Frees the space. */
        @Arbiter
        public void arbiter()
        {
            mem.close();
        }
    }

    /** Output address of the garbage leaf. */
    static final long GARBAGE_PHYS = 0x7_0000_0000L;
    /** What a walk of A reads through garbage left in a level-3 table slot 1 (the 4 KiB leaf's address). */
    static final long GARBAGE_PHYS_A = GARBAGE_PHYS;
    /** A valid 4 KiB leaf PTE pointing at {@link #GARBAGE_PHYS}: what a recycled page may hold. */
    static final long GARBAGE = PteDescriptor.leaf(GARBAGE_PHYS, PteDescriptor.READ, 3);
}
