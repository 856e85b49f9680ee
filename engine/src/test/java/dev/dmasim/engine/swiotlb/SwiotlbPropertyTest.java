package dev.dmasim.engine.swiotlb;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.sim.mem.PhysAddressSpace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.dmasim.engine.swiotlb.Swiotlb.IO_TLB_SEGSIZE;
import static dev.dmasim.engine.swiotlb.Swiotlb.IO_TLB_SIZE;
import static dev.dmasim.engine.swiotlb.Swiotlb.NO_SLOT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random map/unmap sequences checked against a slot-bitmap model: allocations are where the rules say, never
 * overlap, never cross a segment or the device's boundary, the used counts match, and a failed map really had
 * no legal placement anywhere in the pool (the search is exhaustive).
 */
class SwiotlbPropertyTest
{
    static final String DEV = "prop";
    static final long POOL = 32L << 20;
    static final long ORIG = 4L << 20;
    static final int ORIG_SPAN = 2 << 20;
    static final long[] MIN_ALIGN = { 0, 0, 0x7ff, 0xfff };
    static final long[] ALLOC_ALIGN = { 0, 0, 0, 0xfff, 0x3fff };
    static final long[] BOUNDARY = { 0xffff_ffffL, -1L, 0xffff, 0x7fff };
    static final DmaDirection[] DIRS = { DmaDirection.BIDIRECTIONAL, DmaDirection.TO_DEVICE, DmaDirection.FROM_DEVICE };

    PhysAddressSpace ram;

    record Live(long tlb, long size, long orig, long allocStart, int nslots, DmaDirection dir)
    {
    }

    @BeforeEach
    void setUp()
    {
        ram = PhysAddressSpace.builder().ram(0, 64L << 20).build();
    }

    @AfterEach
    void tearDown()
    {
        ram.close();
    }

    @ParameterizedTest
    @ValueSource(longs = { 1, 2, 3, 0xC0FFEE, 0xDEADBEEFL, 42 })
    void shouldMatchTheModelForSeed(final long seed)
    {
        run(seed);
    }

    @Test
    void shouldMatchTheModelForAFreshSeed()
    {
        run(System.nanoTime());
    }

    private void run(final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final String why = "seed " + seed;
        final byte[] origBytes = new byte[ORIG_SPAN + (512 << 10)];
        rnd.nextBytes(origBytes);
        ram.write(ORIG, MemorySegment.ofArray(origBytes));

        final int nslabs = IO_TLB_SEGSIZE * (2 << rnd.nextInt(3)); // 256, 512 or 1024
        final int nareas = 1 << rnd.nextInt(3);
        final Swiotlb tlb = new Swiotlb(ram, POOL, nslabs, nareas, false, new KernelLog(16));
        final boolean[] used = new boolean[nslabs];
        final List<Live> live = new ArrayList<>();
        long modelUsed = 0;
        int maps = 0;
        int fails = 0;

        for (int op = 0; op < 1500; op++)
        {
            if (!live.isEmpty() && rnd.nextInt(100) < 45)
            {
                final Live m = live.remove(rnd.nextInt(live.size()));
                final byte[] device = new byte[(int)m.size];
                rnd.nextBytes(device);
                ram.write(m.tlb, MemorySegment.ofArray(device));
                tlb.tblUnmapSingle(DEV, m.tlb, m.size, m.dir, 0);
                if (m.dir.deviceWrites())
                {
                    assertThat(read(m.orig, (int)m.size)).as("%s: copy-back at unmap", why).isEqualTo(device);
                }
                for (int i = 0; i < m.nslots; i++)
                {
                    used[slot(m.allocStart) + i] = false;
                }
                modelUsed -= m.nslots;
            }
            else
            {
                final long size = rnd.nextInt(20) == 0 ? 1 + rnd.nextInt(300 << 10) : 1 + rnd.nextInt(24 << 10);
                final long orig = ORIG + rnd.nextInt(ORIG_SPAN);
                final long minAlign = MIN_ALIGN[rnd.nextInt(MIN_ALIGN.length)];
                final long allocAlign = ALLOC_ALIGN[rnd.nextInt(ALLOC_ALIGN.length)];
                final long boundary = BOUNDARY[rnd.nextInt(BOUNDARY.length)];
                final DmaDirection dir = DIRS[rnd.nextInt(DIRS.length)];
                final int cpu = rnd.nextInt(8);

                final long offset = orig & minAlign & (allocAlign | (IO_TLB_SIZE - 1));
                final long allocSize = alignUp(size + offset, allocAlign + 1);
                final int nslots = (int)((allocSize + IO_TLB_SIZE - 1) / IO_TLB_SIZE);
                final long t = tlb.tblMapSingle(DEV, orig, size, allocAlign, minAlign, boundary, dir, DmaAttrs.NO_WARN, cpu);
                final String what = String.format("%s op %d: map orig=%x size=%d min=%x alloc=%x bnd=%x -> %x",
                    why, op, orig, size, minAlign, allocAlign, boundary, t);
                if (t == NO_SLOT)
                {
                    fails++;
                    assertThat(feasible(used, nslabs, nslots, allocSize, orig, minAlign, allocAlign, boundary))
                        .as("%s failed although a placement exists", what).isFalse();
                    continue;
                }
                maps++;
                final long allocStart = t - offset;
                assertThat(allocSize).as(what).isLessThanOrEqualTo(256 << 10);
                assertThat(t & minAlign).as("%s: min_align bits", what).isEqualTo(orig & minAlign);
                assertThat(allocStart & (allocAlign | (IO_TLB_SIZE - 1))).as("%s: alloc alignment", what).isZero();
                if (allocAlign == 0 && minAlign == 0 && allocSize >= 4096)
                {
                    assertThat(allocStart & 0xfff).as("%s: legacy page alignment", what).isZero();
                }
                assertThat(allocStart).as(what).isGreaterThanOrEqualTo(POOL);
                assertThat(allocStart + (long)nslots * IO_TLB_SIZE).as(what).isLessThanOrEqualTo(tlb.end());
                final long segBytes = (long)IO_TLB_SEGSIZE * IO_TLB_SIZE;
                final long last = allocStart + (long)nslots * IO_TLB_SIZE - 1;
                assertThat((last - POOL) / segBytes).as("%s: crosses a segment", what)
                    .isEqualTo((allocStart - POOL) / segBytes);
                if (boundary != -1L)
                {
                    assertThat(last / (boundary + 1)).as("%s: crosses the boundary", what)
                        .isEqualTo(allocStart / (boundary + 1));
                }
                for (int i = 0; i < nslots; i++)
                {
                    assertThat(used[slot(allocStart) + i]).as("%s: overlaps a live mapping", what).isFalse();
                    used[slot(allocStart) + i] = true;
                }
                modelUsed += nslots;
                assertThat(read(t, (int)size)).as("%s: bounce contents", what).isEqualTo(read(orig, (int)size));
                live.add(new Live(t, size, orig, allocStart, nslots, dir));
            }
            assertThat(tlb.usedSlots()).as("%s op %d: used", why, op).isEqualTo(modelUsed);
        }

        int areaSum = 0;
        for (int a = 0; a < tlb.areas(); a++)
        {
            areaSum += tlb.areaUsed(a);
        }
        assertThat(areaSum).as(why).isEqualTo(modelUsed);
        assertThat(tlb.bounces()).as(why).isEqualTo(maps);
        assertThat(tlb.failures()).as(why).isEqualTo(fails);
        assertThat(maps).as(why).isGreaterThan(100);

        for (final Live m : live)
        {
            tlb.tblUnmapSingle(DEV, m.tlb, m.size, m.dir, DmaAttrs.SKIP_CPU_SYNC);
        }
        assertThat(tlb.usedSlots()).as(why).isZero();
        assertThat(tlb.usedHiwater()).as(why).isLessThanOrEqualTo(nslabs).isPositive();
        // Every free run merged back: each segment takes one 256 KiB mapping again.
        for (int s = 0; s < nslabs / IO_TLB_SEGSIZE; s++)
        {
            assertThat(tlb.tblMapSingle(DEV, ORIG, 256 << 10, 0, 0, -1L, DmaDirection.TO_DEVICE, 0, s))
                .as("%s: segment %d after unmapping everything", why, s).isNotEqualTo(NO_SLOT);
        }
        assertThat(tlb.usedSlots()).as(why).isEqualTo(nslabs);
    }

    /** Brute force: is there any legal placement for the request in the model? */
    private static boolean feasible(
        final boolean[] used, final int nslabs, final int nslots, final long allocSize, final long orig,
        final long minAlign, final long allocAlign, final long boundary)
    {
        if (allocSize > 256 << 10)
        {
            return false;
        }
        long alignMask = allocAlign;
        long iotlbMask = minAlign;
        if (alignMask == 0 && iotlbMask == 0 && allocSize >= 4096)
        {
            alignMask = 0xfff;
        }
        alignMask |= IO_TLB_SIZE - 1;
        iotlbMask &= ~alignMask;
        for (int s = 0; s + nslots <= nslabs; s++)
        {
            final long addr = POOL + (long)s * IO_TLB_SIZE;
            final long lastAddr = addr + (long)nslots * IO_TLB_SIZE - 1;
            if ((addr & alignMask) != 0 || (addr & iotlbMask) != (orig & iotlbMask))
            {
                continue;
            }
            if (s / IO_TLB_SEGSIZE != (s + nslots - 1) / IO_TLB_SEGSIZE)
            {
                continue;
            }
            if (boundary != -1L && addr / (boundary + 1) != lastAddr / (boundary + 1))
            {
                continue;
            }
            boolean free = true;
            for (int i = 0; i < nslots && free; i++)
            {
                free = !used[s + i];
            }
            if (free)
            {
                return true;
            }
        }
        return false;
    }

    private static int slot(final long addr)
    {
        return (int)((addr - POOL) / IO_TLB_SIZE);
    }

    private static long alignUp(final long v, final long p)
    {
        return (v + p - 1) & -p;
    }

    private byte[] read(final long phys, final int len)
    {
        final byte[] b = new byte[len];
        ram.read(phys, MemorySegment.ofArray(b));
        return b;
    }
}
