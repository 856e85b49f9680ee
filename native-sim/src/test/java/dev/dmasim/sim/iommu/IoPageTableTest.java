package dev.dmasim.sim.iommu;

import dev.dmasim.sim.cache.ObservedMemory;
import dev.dmasim.sim.mem.PhysicalMemory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import static dev.dmasim.sim.iommu.IoPageTable.EEXIST;
import static dev.dmasim.sim.iommu.IoPageTable.EINVAL;
import static dev.dmasim.sim.iommu.IoPageTable.ENOMEM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IoPageTableTest
{
    private static final long K4 = 4096;
    private static final long M2 = 2L << 20;
    private static final long G1 = 1L << 30;
    private static final int RW = IommuProt.READ | IommuProt.WRITE;

    private final TestMachine m = TestMachine.small();

    @AfterEach
    void close()
    {
        m.close();
    }

    private IoPageTable table(final boolean blocks)
    {
        final IoPageTable t = IoPageTable.allocate(m.memory, m.pages, blocks);
        assertThat(t).isNotNull();
        return t;
    }

    /** Reference model: IOVA page number -> (phys page number, prot). */
    private record Page(long physPfn, int prot)
    {
    }

    @ParameterizedTest
    @ValueSource(longs = { 1, 2, 3, 42, 0xC0FFEE, 20260101 })
    void shouldAgreeWithTreeMapModelOnRandomMapUnmapSequences(final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long freeAtStart = m.pages.freePageCount();
        final IoPageTable t = table(false);
        final TreeMap<Long, Page> model = new TreeMap<>();
        // a window of 2048 pages straddling a 1 GiB boundary (so several L1/L2/L3 tables are involved)
        final long windowBase = G1 - 4 * M2;
        final int windowPages = 2048;
        for (int op = 0; op < 600; op++)
        {
            final long firstPage = rnd.nextInt(windowPages);
            final long pages = 1 + rnd.nextInt((int)Math.min(24, windowPages - firstPage));
            final long iova = windowBase + firstPage * K4;
            final String ctx = "seed=" + seed + " op=" + op + " iova=0x" + Long.toHexString(iova) + " pages=" + pages;
            if (rnd.nextInt(3) != 0)
            {
                final long phys = (1 + rnd.nextLong(1L << 28)) * K4; // anywhere below 1 TiB
                final int prot = 1 + rnd.nextInt(3) | (rnd.nextBoolean() ? IommuProt.MMIO : 0);
                boolean overlap = false;
                for (long p = 0; p < pages; p++)
                {
                    overlap |= model.containsKey((iova >>> 12) + p);
                }
                final int rc = t.map(iova, phys, pages * K4, prot);
                assertThat(rc).as(ctx + " map").isEqualTo(overlap ? -EEXIST : 0);
                if (!overlap)
                {
                    for (long p = 0; p < pages; p++)
                    {
                        model.put((iova >>> 12) + p, new Page((phys >>> 12) + p, prot));
                    }
                }
            }
            else
            {
                long expected = 0;
                while (expected < pages && model.remove((iova >>> 12) + expected) != null)
                {
                    expected++;
                }
                assertThat(t.unmap(iova, pages * K4)).as(ctx + " unmap").isEqualTo(expected * K4);
            }
            if (op % 50 == 49)
            {
                assertTableEquals(t, model, windowBase, windowPages, "seed=" + seed + " op=" + op);
            }
        }
        assertTableEquals(t, model, windowBase, windowPages, "seed=" + seed + " end");
        t.destroy();
        assertThat(m.pages.freePageCount()).as("seed=" + seed + ": page-table pages leaked").isEqualTo(freeAtStart);
    }

    /** A segment list for {@link IoPageTable#mapSegments}: {phys, length} pairs. */
    private static final IoPageTable.SegmentSource<long[]> PAIRS = new IoPageTable.SegmentSource<>()
    {
        @Override
        public long phys(final long[] list, final int i)
        {
            return list[2 * i];
        }

        @Override
        public long length(final long[] list, final int i)
        {
            return list[2 * i + 1];
        }
    };

    /**
     * mapSegments must do exactly what one map() per segment did (with the caller unmapping the earlier segments
     * when one fails), and unmap the same, leaf for leaf, on random lists over a window of several L3 tables
     * (with blocks: 2 MiB-aligned segments and IOVAs, so 2 MiB leaves next to 4 KiB ones).
     */
    @ParameterizedTest
    @ValueSource(longs = { 1, 7, 99, 0xBADC0DE, 20260102 })
    void mapSegmentsShouldEqualOneMapPerSegment(final long seed)
    {
        for (final boolean blocks : new boolean[] { false, true })
        {
            final SplittableRandom rnd = new SplittableRandom(seed);
            final long freeAtStart = m.pages.freePageCount();
            final IoPageTable batched = table(blocks);
            final IoPageTable single = table(blocks);
            final long windowBase = G1 - 4 * M2;
            final int windowPages = 4096; // 16 MiB: 8 L3 tables, across a 1 GiB boundary
            for (int op = 0; op < 300; op++)
            {
                final String ctx = "seed=" + seed + " blocks=" + blocks + " op=" + op;
                if (rnd.nextInt(3) != 0)
                {
                    final int n = 1 + rnd.nextInt(8);
                    final long[] list = new long[2 * n];
                    final boolean big = blocks && rnd.nextInt(4) == 0;
                    long iova = windowBase + (big ? M2 * rnd.nextInt(windowPages / 512) : K4 * rnd.nextInt(windowPages));
                    long total = 0;
                    for (int i = 0; i < n; i++)
                    {
                        final long len = big && rnd.nextBoolean() ? M2 : K4 * (1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 700));
                        list[2 * i] = big ? M2 * (1 + rnd.nextInt(1 << 12)) : K4 * (1 + rnd.nextLong(1L << 28));
                        list[2 * i + 1] = rnd.nextInt(40) == 0 ? 0 : len; // now and then an invalid (empty) segment
                        total += list[2 * i + 1];
                    }
                    if (iova + total > windowBase + windowPages * K4)
                    {
                        iova = windowBase;
                    }
                    final int prot = 1 + rnd.nextInt(3);
                    final int rcB = batched.mapSegments(iova, list, PAIRS, n, prot);
                    int rcS = 0;
                    long done = 0;
                    for (int i = 0; i < n && rcS == 0; i++)
                    {
                        rcS = single.map(iova + done, list[2 * i], list[2 * i + 1], prot);
                        if (rcS != 0 && done > 0)
                        {
                            single.unmap(iova, done);
                        }
                        done += list[2 * i + 1];
                    }
                    assertThat(rcB).as(ctx + " rc").isEqualTo(rcS);
                }
                else
                {
                    final long iova = windowBase + K4 * rnd.nextInt(windowPages);
                    final long size = K4 * (1 + rnd.nextInt(1200));
                    final long max = windowBase + windowPages * K4 - iova;
                    final long s = Math.min(size, max);
                    assertThat(batched.unmap(iova, s)).as(ctx + " unmap").isEqualTo(single.unmap(iova, s));
                }
                if (op % 20 == 19)
                {
                    for (int i = 0; i < windowPages; i++)
                    {
                        final long iova = windowBase + i * K4;
                        assertThat(batched.walk(iova)).as(ctx + " iova 0x" + Long.toHexString(iova))
                            .isEqualTo(single.walk(iova));
                    }
                }
            }
            assertThat(batched.mapSegments(windowBase, new long[0], PAIRS, 0, RW)).isZero();
            assertThat(batched.mapSegments(windowBase, new long[] { K4, K4 }, PAIRS, 1, 0)).isEqualTo(-EINVAL);
            batched.destroy();
            single.destroy();
            assertThat(m.pages.freePageCount()).as("pages leaked").isEqualTo(freeAtStart);
        }
    }

    private static void assertTableEquals(
        final IoPageTable t, final Map<Long, Page> model, final long base, final int pages, final String ctx)
    {
        for (int i = 0; i < pages; i++)
        {
            final long iova = base + i * K4;
            final Page p = model.get(iova >>> 12);
            final long off = (i * 2654435761L) & (K4 - 1);
            if (p == null)
            {
                assertThat(t.iovaToPhys(iova + off)).as(ctx + " unmapped iova 0x" + Long.toHexString(iova)).isEqualTo(-1L);
                assertThat(t.walk(iova)).as(ctx).isZero();
            }
            else
            {
                assertThat(t.iovaToPhys(iova + off)).as(ctx + " iova 0x" + Long.toHexString(iova + off))
                    .isEqualTo((p.physPfn << 12) + off);
                final long pte = t.walk(iova);
                assertThat(pte & PteDescriptor.ATTR_MASK).as(ctx + " attrs " + PteDescriptor.toString(pte))
                    .isEqualTo(IommuProt.toPteAttrs(p.prot));
                assertThat(PteDescriptor.level(pte)).as(ctx).isEqualTo(3);
            }
        }
    }

    @Test
    void shouldStoreTablesInSimulatedRamAsDescribedByPteDescriptor()
    {
        final IoPageTable t = table(false);
        final long iova = 0x1234_5678_9000L;
        assertThat(t.map(iova, 0x7_0000_0000L, K4, IommuProt.READ)).isZero();
        long table = t.rootPhys();
        for (int level = 0; level < 3; level++)
        {
            final long idx = (iova >>> PteDescriptor.levelShift(level)) & 511;
            final long pte = m.memory.getLong(table + idx * 8);
            assertThat(PteDescriptor.isTable(pte)).as("level %d: %s", level, PteDescriptor.toString(pte)).isTrue();
            table = PteDescriptor.outputAddress(pte);
        }
        final long leaf = m.memory.getLong(table + ((iova >>> 12) & 511) * 8);
        assertThat(leaf).isEqualTo(PteDescriptor.leaf(0x7_0000_0000L, PteDescriptor.READ, 3));
        assertThat(t.tablePages()).isEqualTo(4);
    }

    @Test
    void shouldRejectBadInputPreciselyAndLeaveStateUnchanged()
    {
        final IoPageTable t = table(true);
        assertThat(t.map(0x10_0000L, 0x20_0000L, 4 * K4, RW)).isZero();
        final long pagesBefore = t.tablePages();
        final long big = 1L << 48;
        final Object[][] maps = {
            { 0x1000L + 1, 0x1000L, K4, RW, "misaligned iova" },
            { 0x1000L, 0x1000L + 8, K4, RW, "misaligned phys" },
            { 0x1000L, 0x1000L, K4 + 1, RW, "misaligned size" },
            { 0x1000L, 0x1000L, 0L, RW, "size 0" },
            { 0x1000L, 0x1000L, -K4, RW, "negative size" },
            { -K4, 0x1000L, K4, RW, "negative iova" },
            { big, 0x1000L, K4, RW, "iova at 2^48" },
            { big - K4, 0x1000L, 2 * K4, RW, "range past 2^48" },
            { 0x1000L, (1L << 52) - K4, 2 * K4, RW, "phys past 2^52" },
            { 0x1000L, 0x1000L, K4, 0, "no READ or WRITE" },
            { 0x1000L, 0x1000L, K4, IommuProt.MMIO, "MMIO alone" },
            { 0x1000L, 0x1000L, K4, RW | 1 << 9, "unknown prot bit" },
        };
        for (final Object[] c : maps)
        {
            assertThat(t.map((long)c[0], (long)c[1], (long)c[2], (int)c[3])).as((String)c[4]).isEqualTo(-EINVAL);
        }
        assertThat(t.unmap(0x10_0000L + 1, K4)).as("misaligned unmap").isEqualTo(-EINVAL);
        assertThat(t.unmap(0x10_0000L, 0)).as("size 0 unmap").isEqualTo(-EINVAL);
        assertThat(t.unmap(big - K4, 2 * K4)).as("unmap past 2^48").isEqualTo(-EINVAL);
        // overlapping the end of an existing mapping: the first 3 pages get mapped, then EEXIST rolls them back
        assertThat(t.map(0x10_0000L - 3 * K4, 0x40_0000L, 4 * K4, RW)).isEqualTo(-EEXIST);
        for (long p = 1; p <= 3; p++)
        {
            assertThat(t.iovaToPhys(0x10_0000L - p * K4)).as("rolled back page -%d", p).isEqualTo(-1L);
        }
        assertThat(t.map(0x10_0000L + 3 * K4, 0x40_0000L, 4 * K4, RW)).as("overlap at the start").isEqualTo(-EEXIST);
        assertThat(t.iovaToPhys(0x10_0000L + 4 * K4)).isEqualTo(-1L);
        for (long p = 0; p < 4; p++)
        {
            assertThat(t.iovaToPhys(0x10_0000L + p * K4)).isEqualTo(0x20_0000L + p * K4);
        }
        assertThat(t.tablePages()).as("no table allocated by rejected input").isEqualTo(pagesBefore);
        assertThat(t.iovaToPhys(-1L)).isEqualTo(-1L);
        assertThat(t.iovaToPhys(big)).isEqualTo(-1L);
    }

    @Test
    void shouldRollBackAndReportEnomemWhenTablePagesRunOut()
    {
        final IoPageTable t = table(false);
        // root exists; mapping across two 1 GiB regions needs L1 + L2 + L3 (3 pages), then L2 + L3 (2 more)
        m.allocationBudget(4);
        final long iova = G1 - 2 * K4;
        assertThat(t.map(iova, 0x100000L, 4 * K4, RW)).isEqualTo(-ENOMEM);
        for (long p = 0; p < 4; p++)
        {
            assertThat(t.iovaToPhys(iova + p * K4)).as("page %d rolled back", p).isEqualTo(-1L);
        }
        m.allocationBudget(-1);
        assertThat(t.map(iova, 0x100000L, 4 * K4, RW)).isZero();
        final long freeBefore = m.pages.freePageCount() + t.tablePages();
        t.destroy();
        assertThat(m.pages.freePageCount()).isEqualTo(freeBefore);
        assertThat(IoPageTable.allocate(m.memory, new TestMachineNoPages(), true)).isNull();
    }

    @Test
    void shouldUseBlockLeavesWhenAlignmentAndSizeAllow()
    {
        final IoPageTable t = table(true);
        // 1 GiB + 2 MiB + 4 KiB, all aligned: one 1 GiB block, one 2 MiB block, one page
        final long iova = 4 * G1;
        final long phys = 8 * G1;
        assertThat(t.map(iova, phys, G1 + M2 + K4, RW)).isZero();
        assertThat(PteDescriptor.level(t.walk(iova + 12345))).isEqualTo(1);
        assertThat(PteDescriptor.level(t.walk(iova + G1 + 77))).isEqualTo(2);
        assertThat(PteDescriptor.level(t.walk(iova + G1 + M2))).isEqualTo(3);
        assertThat(t.iovaToPhys(iova + G1 - 1)).isEqualTo(phys + G1 - 1);
        assertThat(t.iovaToPhys(iova + G1 + M2 - 8)).isEqualTo(phys + G1 + M2 - 8);
        assertThat(t.iovaToPhys(iova + G1 + M2 + 5)).isEqualTo(phys + G1 + M2 + 5);
        assertThat(t.tablePages()).as("root, L1, L2, L3").isEqualTo(4);

        // partial unmap of a block unmaps nothing
        assertThat(t.unmap(iova + M2, M2)).isZero();
        assertThat(t.unmap(iova, G1 - K4)).isZero();
        assertThat(t.iovaToPhys(iova + M2)).isEqualTo(phys + M2);
        // unmap stops at the block that is not wholly covered: 2 MiB block covered, then a page, then the end
        assertThat(t.unmap(iova + G1, M2 + K4)).isEqualTo(M2 + K4);
        assertThat(t.unmap(iova, G1)).isEqualTo(G1);
        assertThat(t.iovaToPhys(iova)).isEqualTo(-1L);

        // misaligned phys: no block even though the IOVA is aligned
        assertThat(t.map(iova, phys + K4, M2, RW)).isZero();
        assertThat(PteDescriptor.level(t.walk(iova))).isEqualTo(3);
        assertThat(t.unmap(iova, M2)).isEqualTo(M2);
        // mapping inside a 2 MiB block range that already has a (now empty) table goes in as pages
        assertThat(t.map(iova, phys, M2, RW)).isZero();
        assertThat(PteDescriptor.level(t.walk(iova))).isEqualTo(3);
        assertThat(t.iovaToPhys(iova + M2 - 1)).isEqualTo(phys + M2 - 1);
        // and a block where a block already is: EEXIST
        assertThat(t.map(iova + G1, phys, M2, RW)).isZero();
        assertThat(t.map(iova + G1, phys, M2, RW)).isEqualTo(-EEXIST);
        assertThat(t.map(iova + G1 + K4, phys, K4, RW)).as("page inside a block").isEqualTo(-EEXIST);
    }

    @Test
    void shouldNotUseBlocksWhenDisabled()
    {
        final IoPageTable t = table(false);
        assertThat(t.map(0, 0, 2 * M2, IommuProt.READ)).isZero();
        assertThat(PteDescriptor.level(t.walk(M2))).isEqualTo(3);
        assertThat(t.unmap(K4, M2)).isEqualTo(M2);
        assertThat(t.iovaToPhys(0)).isZero();
        assertThat(t.iovaToPhys(K4)).isEqualTo(-1L);
        assertThat(t.iovaToPhys(M2 + K4)).isEqualTo(M2 + K4);
    }

    @ParameterizedTest
    @ValueSource(longs = { 7, 99 })
    void shouldMatchModelWithBlocksForRandomWholeMappings(final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long freeAtStart = m.pages.freePageCount();
        final IoPageTable t = table(true);
        final List<long[]> live = new ArrayList<>(); // {iova, phys, size}
        long nextIova = M2 * 3; // IOVAs handed out bump-style with random gaps, as an allocator would
        for (int op = 0; op < 200; op++)
        {
            if (live.isEmpty() || rnd.nextInt(3) != 0)
            {
                final long size = rnd.nextBoolean() ? (1 + rnd.nextInt(3)) * M2 + rnd.nextInt(4) * K4 :
                    (1 + rnd.nextInt(40)) * K4;
                final long align = rnd.nextBoolean() ? M2 : K4;
                final long iova = (nextIova + align - 1) & -align;
                final long phys = ((1 + rnd.nextLong(1L << 14)) * M2) + (align == M2 ? 0 : rnd.nextInt(512) * K4);
                nextIova = iova + size + rnd.nextInt(3) * K4;
                assertThat(t.map(iova, phys, size, RW)).as("seed=%d op=%d", seed, op).isZero();
                live.add(new long[] { iova, phys, size });
            }
            else
            {
                final long[] r = live.remove(rnd.nextInt(live.size()));
                assertThat(t.unmap(r[0], r[2])).as("seed=%d op=%d", seed, op).isEqualTo(r[2]);
                assertThat(t.iovaToPhys(r[0])).isEqualTo(-1L);
                assertThat(t.iovaToPhys(r[0] + r[2] - 1)).isEqualTo(-1L);
            }
        }
        for (final long[] r : live)
        {
            for (long off = 0; off < r[2]; off += 1 + rnd.nextLong(r[2] / 4 + 1))
            {
                assertThat(t.iovaToPhys(r[0] + off)).as("seed=%d iova 0x%x", seed, r[0] + off).isEqualTo(r[1] + off);
            }
            assertThat(t.iovaToPhys(r[0] + r[2] - 1)).isEqualTo(r[1] + r[2] - 1);
        }
        t.destroy();
        assertThat(m.pages.freePageCount()).as("seed=%d leak", seed).isEqualTo(freeAtStart);
        assertThatThrownBy(() -> t.map(0, 0, K4, RW)).isInstanceOf(IllegalStateException.class);
    }

    @ParameterizedTest
    @ValueSource(longs = { 5, 1234 })
    void shouldStayConsistentUnderConcurrentDisjointMapUnmap(final long seed) throws Exception
    {
        final int threads = 4;
        final long freeAtStart = m.pages.freePageCount();
        final IoPageTable t = table(true);
        // thread k owns the 2 MiB slices with index % threads == k inside a 64 MiB window that crosses a 1 GiB
        // boundary: neighbours share L1/L2 tables, so table installation races are real
        final long windowBase = G1 - 16 * M2;
        final int slices = 32;
        final Map<Long, Long> finalModel = new ConcurrentHashMap<>();
        final CyclicBarrier start = new CyclicBarrier(threads);
        final List<Thread> workers = new ArrayList<>();
        final List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int k = 0; k < threads; k++)
        {
            final int me = k;
            final Thread th = new Thread(() ->
            {
                try
                {
                    final SplittableRandom rnd = new SplittableRandom(seed * 31 + me);
                    final TreeMap<Long, Long> model = new TreeMap<>();
                    start.await(10, TimeUnit.SECONDS);
                    for (int op = 0; op < 1500; op++)
                    {
                        final int slice = me + threads * rnd.nextInt(slices / threads);
                        final long sliceBase = windowBase + slice * M2;
                        final boolean whole = rnd.nextInt(8) == 0;
                        final long iova = whole ? sliceBase : sliceBase + rnd.nextInt(500) * K4;
                        final long size = whole ? M2 : (1 + rnd.nextInt(12)) * K4;
                        final long phys = whole ? (1 + rnd.nextInt(1000)) * M2 : (1 + rnd.nextLong(1L << 20)) * K4;
                        if (rnd.nextBoolean())
                        {
                            boolean overlap = false;
                            for (long a = iova; a < iova + size; a += K4)
                            {
                                overlap |= model.containsKey(a);
                            }
                            final int rc = t.map(iova, phys, size, RW);
                            if (rc != (overlap ? -EEXIST : 0))
                            {
                                throw new AssertionError("seed=" + seed + " thread " + me + " op " + op + " map rc " + rc);
                            }
                            if (!overlap)
                            {
                                for (long a = 0; a < size; a += K4)
                                {
                                    model.put(iova + a, phys + a);
                                }
                            }
                        }
                        else
                        {
                            // unmap whole mappings only where this thread knows the leaf shapes: page by page
                            final long n = t.unmap(iova, K4);
                            final boolean mapped = model.containsKey(iova);
                            final long leaf = n; // a 4 KiB unmap of a 2 MiB block unmaps nothing
                            if (mapped && leaf == K4)
                            {
                                model.remove(iova);
                            }
                            else if (mapped && leaf != 0)
                            {
                                throw new AssertionError("seed=" + seed + " unmap returned " + n);
                            }
                            else if (!mapped && n != 0)
                            {
                                throw new AssertionError("seed=" + seed + " unmapped an unmapped page: " + n);
                            }
                        }
                    }
                    finalModel.putAll(model);
                }
                catch (final Throwable e)
                {
                    errors.add(e);
                }
            });
            workers.add(th);
            th.start();
        }
        for (final Thread th : workers)
        {
            th.join(30_000);
        }
        assertThat(errors).as("seed=" + seed).isEmpty();
        for (long a = windowBase; a < windowBase + slices * M2; a += K4)
        {
            final Long phys = finalModel.get(a);
            assertThat(t.iovaToPhys(a)).as("seed=%d iova 0x%x", seed, a).isEqualTo(phys == null ? -1L : phys);
        }
        t.destroy();
        assertThat(m.pages.freePageCount()).as("seed=%d: leaked or double-freed table pages", seed).isEqualTo(freeAtStart);
    }

    /** Once the memory is closed, every call that touches a PTE throws IllegalStateException (cached chunks too). */
    @Test
    void shouldFailCleanlyOnceTheMemoryIsClosed()
    {
        final IoPageTable t = table(false);
        assertThat(t.map(5 * M2, 3 * M2, 4 * K4, RW)).isZero();
        assertThat(t.walk(5 * M2)).isNotZero(); // the table's chunk and leaf table are now cached
        m.memory.close();
        assertThatThrownBy(() -> t.map(5 * M2 + 8 * K4, 3 * M2, K4, RW)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> t.unmap(5 * M2, K4)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> t.walk(5 * M2)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> t.walk(9 * G1)).as("a walk from the root").isInstanceOf(IllegalStateException.class);
    }

    /** A memory without RamChunks (a cache model's view) takes the accessor path: same results, same RAM. */
    @ParameterizedTest
    @ValueSource(longs = { 3, 99 })
    void shouldGiveTheSameTablesWithoutRamChunks(final long seed)
    {
        // an observing view delegates everything but ramChunk (left at the interface's null default)
        final PhysicalMemory plain = new ObservedMemory(m.memory, (phys, len, write) -> { });
        assertThat(plain.ramChunk(0)).isNull();
        final IoPageTable viaChunks = table(true);
        final IoPageTable viaAccessors = IoPageTable.allocate(plain, m.pages, true);
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long base = G1 - 2 * M2;
        for (int op = 0; op < 400; op++)
        {
            final long iova = base + rnd.nextInt(1024) * K4;
            final int n = 1 + rnd.nextInt(6);
            final long[] pairs = new long[2 * n];
            for (int i = 0; i < n; i++)
            {
                pairs[2 * i] = (1 + rnd.nextInt(4000)) * K4;
                pairs[2 * i + 1] = (1 + rnd.nextInt(3)) * K4;
            }
            final long total = java.util.stream.LongStream.range(0, n).map(i -> pairs[(int)(2 * i + 1)]).sum();
            if (rnd.nextBoolean())
            {
                assertThat(viaAccessors.mapSegments(iova, pairs, PAIRS, n, RW))
                    .isEqualTo(viaChunks.mapSegments(iova, pairs, PAIRS, n, RW));
            }
            else
            {
                assertThat(viaAccessors.unmap(iova, total)).isEqualTo(viaChunks.unmap(iova, total));
            }
        }
        for (long a = base; a < base + 1100 * K4; a += K4)
        {
            assertThat(viaAccessors.walk(a)).as("iova 0x%x", a).isEqualTo(viaChunks.walk(a));
        }
        viaChunks.destroy();
        viaAccessors.destroy();
    }

    /** An allocator with no pages at all. */
    private static final class TestMachineNoPages implements dev.dmasim.sim.mem.PageAllocator
    {
        @Override
        public long allocPages(final int order, final dev.dmasim.sim.mem.Zone zone)
        {
            return NO_PAGE;
        }

        @Override
        public void freePages(final long phys, final int order)
        {
            throw new AssertionError();
        }

        @Override
        public long freePageCount(final dev.dmasim.sim.mem.Zone zone)
        {
            return 0;
        }

        @Override
        public long totalPageCount(final dev.dmasim.sim.mem.Zone zone)
        {
            return 0;
        }
    }
}
