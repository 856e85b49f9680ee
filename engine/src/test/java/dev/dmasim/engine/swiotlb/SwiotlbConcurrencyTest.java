package dev.dmasim.engine.swiotlb;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.sim.mem.PhysAddressSpace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static dev.dmasim.engine.swiotlb.Swiotlb.IO_TLB_SIZE;
import static dev.dmasim.engine.swiotlb.Swiotlb.NO_SLOT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two threads map, sync and unmap bounced buffers for a bounded number of iterations, on per-CPU areas, on a
 * single area (the global-lock configuration), and with both threads on the same CPU slot (same start area).
 * Every byte is verified; live bounce ranges of both threads never overlap; the pool ends empty.
 */
class SwiotlbConcurrencyTest
{
    static final long POOL = 32L << 20;
    static final long ORIG = 4L << 20;
    static final int ITERATIONS = 2000;
    static final DmaDirection[] DIRS = { DmaDirection.BIDIRECTIONAL, DmaDirection.TO_DEVICE, DmaDirection.FROM_DEVICE };

    PhysAddressSpace ram;

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

    record Live(long tlb, long size, long orig, byte[] data, DmaDirection dir)
    {
    }

    @ParameterizedTest(name = "areas={0} sameCpu={1}")
    @CsvSource({ "4, false", "1, false", "4, true" })
    void shouldKeepBytesAndAccountingExactUnderTwoThreads(final int areas, final boolean sameCpu) throws Exception
    {
        final long seed = System.nanoTime();
        final Swiotlb tlb = new Swiotlb(ram, POOL, 512, areas, false, new KernelLog(64));
        final ConcurrentSkipListMap<Long, Long> ranges = new ConcurrentSkipListMap<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong maps = new AtomicLong();
        final CyclicBarrier barrier = new CyclicBarrier(2);
        final Thread[] threads = new Thread[2];
        for (int t = 0; t < 2; t++)
        {
            final int id = t;
            threads[t] = new Thread(() ->
            {
                try
                {
                    barrier.await();
                    worker(tlb, ranges, new SplittableRandom(seed + id), id, sameCpu ? 0 : id, maps);
                }
                catch (final Throwable e)
                {
                    failure.compareAndSet(null, e);
                }
            }, "swiotlb-" + t);
            threads[t].start();
        }
        for (final Thread th : threads)
        {
            th.join(60_000);
            assertThat(th.isAlive()).as("seed %d: %s finished", seed, th.getName()).isFalse();
        }
        if (failure.get() != null)
        {
            throw new AssertionError("seed " + seed + ": " + failure.get(), failure.get());
        }
        assertThat(tlb.usedSlots()).as("seed %d", seed).isZero();
        for (int a = 0; a < tlb.areas(); a++)
        {
            assertThat(tlb.areaUsed(a)).as("seed %d area %d", seed, a).isZero();
        }
        assertThat(tlb.bounces()).as("seed %d", seed).isEqualTo(maps.get());
        assertThat(tlb.usedHiwater()).as("seed %d", seed).isPositive().isLessThanOrEqualTo(512);
        assertThat(tlb.overflows()).as("seed %d", seed).isZero();
    }

    private void worker(
        final Swiotlb tlb,
        final ConcurrentSkipListMap<Long, Long> ranges,
        final SplittableRandom rnd,
        final int id,
        final int cpu,
        final AtomicLong maps)
    {
        final String dev = "dev" + id;
        final long origBase = ORIG + id * (4L << 20);
        final ArrayDeque<Live> live = new ArrayDeque<>();
        int nextRegion = 0; // FIFO with at most 4 live: 8 rotating 64 KiB regions never collide
        for (int i = 0; i < ITERATIONS; i++)
        {
            if (live.size() < 4 && (live.isEmpty() || rnd.nextBoolean()))
            {
                final int size = 1 + rnd.nextInt(40_000);
                final long orig = origBase + (nextRegion++ & 7) * (64L << 10) + rnd.nextInt(4096);
                final byte[] data = new byte[size];
                rnd.nextBytes(data);
                ram.write(orig, MemorySegment.ofArray(data));
                final DmaDirection dir = DIRS[rnd.nextInt(DIRS.length)];
                final long t = tlb.tblMapSingle(dev, orig, size, 0, 0xfff, 0xffff_ffffL, dir, 0, cpu);
                assertThat(t).as("%s iteration %d: pool of 512 slots cannot be full", dev, i).isNotEqualTo(NO_SLOT);
                maps.incrementAndGet();
                assertThat(t & 0xfff).as("%s iteration %d: min_align bits", dev, i).isEqualTo(orig & 0xfff);
                final long allocStart = t - (orig & 0x7ff);
                final long allocEnd = allocStart + ((orig & 0x7ff) + size + IO_TLB_SIZE - 1) / IO_TLB_SIZE * IO_TLB_SIZE;
                final Map.Entry<Long, Long> below = ranges.floorEntry(allocEnd - 1);
                assertThat(below == null || below.getValue() <= allocStart)
                    .as("%s iteration %d: [%x,%x) overlaps [%x,%x)", dev, i, allocStart, allocEnd,
                        below == null ? 0 : below.getKey(), below == null ? 0 : below.getValue())
                    .isTrue();
                ranges.put(allocStart, allocEnd);
                assertThat(read(t, size)).as("%s iteration %d: bounce contents", dev, i).isEqualTo(data);
                live.add(new Live(t, size, orig, data, dir));
            }
            else
            {
                final Live m = live.poll();
                final byte[] device = new byte[(int)m.size];
                rnd.nextBytes(device);
                ram.write(m.tlb, MemorySegment.ofArray(device));
                if (m.dir.deviceWrites())
                {
                    tlb.syncSingleForCpu(dev, m.tlb, m.size / 2, m.dir);
                    final byte[] half = read(m.orig, (int)(m.size / 2));
                    assertThat(half).isEqualTo(java.util.Arrays.copyOf(device, (int)(m.size / 2)));
                }
                final long allocStart = m.tlb - (m.orig & 0x7ff);
                assertThat(ranges.remove(allocStart)).isNotNull();
                tlb.tblUnmapSingle(dev, m.tlb, m.size, m.dir, 0);
                assertThat(read(m.orig, (int)m.size)).as("%s iteration %d: orig after unmap", dev, i)
                    .isEqualTo(m.dir.deviceWrites() ? device : m.data);
            }
        }
        for (final Live m : live)
        {
            ranges.remove(m.tlb - (m.orig & 0x7ff));
            tlb.tblUnmapSingle(dev, m.tlb, m.size, m.dir, 0);
        }
    }

    private byte[] read(final long phys, final int len)
    {
        final byte[] b = new byte[len];
        ram.read(phys, MemorySegment.ofArray(b));
        return b;
    }
}
