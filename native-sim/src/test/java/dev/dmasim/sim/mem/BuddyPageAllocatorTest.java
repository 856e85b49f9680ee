package dev.dmasim.sim.mem;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

import static dev.dmasim.sim.mem.PageAllocator.MAX_ORDER;
import static dev.dmasim.sim.mem.PageAllocator.NO_PAGE;
import static dev.dmasim.sim.mem.PageAllocator.PAGE_SIZE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

class BuddyPageAllocatorTest
{
    private static final long M = 1L << 20;
    private static final long G = 1L << 30;

    private final List<PhysAddressSpace> spaces = new ArrayList<>();

    @AfterEach
    void close()
    {
        spaces.forEach(PhysAddressSpace::close);
    }

    private PhysAddressSpace space(final PhysAddressSpace.Builder b)
    {
        final PhysAddressSpace s = b.build();
        spaces.add(s);
        return s;
    }

    /**
     * RAM in all three zones with odd edges: [0, 40M) (DMA + DMA32), a hole, [4G - 6M - 12K, 4G + 10M)
     * straddling DMA32/NORMAL with an unaligned start, an MMIO window, and RAM [5G, 5G + 8M).
     */
    private PhysAddressSpace threeZones()
    {
        return space(PhysAddressSpace.builder()
            .ram(0, 40 * M)
            .ram(4 * G - 6 * M - 12 * 1024, 16 * M + 12 * 1024)
            .mmio(4 * G + 10 * M, M, new PhysAddressSpaceTest.RecordingMmio(4096), "bar")
            .ram(5 * G, 8 * M));
    }

    private static long[] freeBlocks(final BuddyPageAllocator a)
    {
        final long[] counts = new long[Zone.values().length * (MAX_ORDER + 1)];
        for (final Zone z : Zone.values())
        {
            for (int k = 0; k <= MAX_ORDER; k++)
            {
                counts[z.ordinal() * (MAX_ORDER + 1) + k] = a.freeBlockCount(z, k);
            }
        }
        return counts;
    }

    @Test
    void shouldSeedMaximalAlignedBlocksAndSkipPageZero()
    {
        final BuddyPageAllocator a = BuddyPageAllocator.of(threeZones());
        assertThat(a.totalPageCount(Zone.DMA)).isEqualTo(16 * M / PAGE_SIZE - 1);
        assertThat(a.totalPageCount(Zone.DMA32)).isEqualTo((24 * M + 6 * M + 12 * 1024) / PAGE_SIZE);
        assertThat(a.totalPageCount(Zone.NORMAL)).isEqualTo(18 * M / PAGE_SIZE);
        assertThat(a.freePageCount()).isEqualTo(a.totalPageCount());
        // page 0 is excluded, so DMA starts with one block of each order 0..9 then order-10 blocks
        for (int k = 0; k < MAX_ORDER; k++)
        {
            assertThat(a.freeBlockCount(Zone.DMA, k)).as("order %d", k).isEqualTo(1);
        }
        assertThat(a.freeBlockCount(Zone.DMA, MAX_ORDER)).isEqualTo(3);
        assertThat(a.allocPages(0, Zone.DMA)).isEqualTo(PAGE_SIZE);
        assertThat(a.allocPages(1, Zone.DMA)).isEqualTo(2 * PAGE_SIZE);
        assertThat(a.describe()).contains("DMA32").contains("NORMAL").contains(Long.toString(a.totalPageCount(Zone.DMA)));
        assertThat(a.toString()).contains("DMA:");
    }

    @Test
    void shouldFallBackToLowerZonesOnly()
    {
        final BuddyPageAllocator a = BuddyPageAllocator.of(space(PhysAddressSpace.builder().ram(0, 24 * M)));
        assertThat(a.totalPageCount(Zone.NORMAL)).isZero();
        // NORMAL is empty: the lowest DMA32 block is used first
        assertThat(a.allocPages(MAX_ORDER, Zone.NORMAL)).isEqualTo(16 * M);
        assertThat(a.allocPages(MAX_ORDER, Zone.DMA32)).isEqualTo(20 * M);
        // DMA32 exhausted at order 10: falls back to DMA
        assertThat(a.allocPages(MAX_ORDER, Zone.NORMAL)).isEqualTo(4 * M);
        assertThat(a.allocPages(MAX_ORDER, Zone.DMA32)).isEqualTo(8 * M);
        // DMA never uses DMA32
        final long dma = a.allocPages(0, Zone.DMA);
        assertThat(dma).isLessThan(16 * M);
        a.freePages(16 * M, MAX_ORDER);
        assertThat(a.allocPages(0, Zone.DMA)).isLessThan(16 * M);
        assertThat(a.allocPages(0, Zone.NORMAL)).isEqualTo(16 * M);
    }

    @Test
    void shouldReturnNoPageWhenExhaustedAndStayUsable()
    {
        final BuddyPageAllocator a = BuddyPageAllocator.of(space(PhysAddressSpace.builder().ram(0, 2 * M)));
        final long total = a.totalPageCount();
        final List<Long> got = new ArrayList<>();
        long p;
        while ((p = a.allocPages(0, Zone.NORMAL)) != NO_PAGE)
        {
            got.add(p);
        }
        assertThat(got).hasSize((int)total).doesNotHaveDuplicates().doesNotContain(0L);
        assertThat(a.freePageCount()).isZero();
        assertThat(a.allocPages(0, Zone.DMA)).isEqualTo(NO_PAGE);
        assertThat(a.allocPages(3, Zone.DMA32)).isEqualTo(NO_PAGE);
        a.freePages(got.get(100), 0);
        assertThat(a.allocPages(1, Zone.DMA)).isEqualTo(NO_PAGE);
        assertThat(a.allocPages(0, Zone.DMA)).isEqualTo(got.get(100));
        for (final long q : got)
        {
            a.freePages(q, 0);
        }
        assertThat(a.freePageCount()).isEqualTo(total);
        assertThat(a.liveBlockCount()).isZero();
        assertThat(a.freeBlockCount(Zone.DMA, 8)).isEqualTo(1); // [1M, 2M) merged back
    }

    @Test
    void shouldBeDeterministic()
    {
        final PhysAddressSpace mem = threeZones();
        final BuddyPageAllocator a = BuddyPageAllocator.of(mem);
        final BuddyPageAllocator b = BuddyPageAllocator.of(mem);
        final SplittableRandom ra = new SplittableRandom(99);
        final List<long[]> liveA = new ArrayList<>();
        for (int i = 0; i < 3000; i++)
        {
            if (!liveA.isEmpty() && ra.nextInt(3) == 0)
            {
                final long[] blk = liveA.remove(ra.nextInt(liveA.size()));
                a.freePages(blk[0], (int)blk[1]);
                b.freePages(blk[0], (int)blk[1]);
            }
            else
            {
                final int order = ra.nextInt(MAX_ORDER + 1) / 2;
                final Zone z = Zone.values()[ra.nextInt(3)];
                final long pa = a.allocPages(order, z);
                assertThat(b.allocPages(order, z)).as("step %d", i).isEqualTo(pa);
                if (pa != NO_PAGE)
                {
                    liveA.add(new long[] { pa, order });
                }
            }
        }
    }

    @Test
    void shouldNeverHandOutReservedPages()
    {
        final PhysAddressSpace mem = space(PhysAddressSpace.builder().ram(0, 8 * M));
        final BuddyPageAllocator a = BuddyPageAllocator.builder(mem)
            .reserve(M + 100, 2 * M) // widened to [1M, 3M + 4K)
            .reserve(6 * M, M)
            .reserve(100 * G, M)     // not RAM: no effect
            .build();
        assertThat(a.totalPageCount()).isEqualTo((8 * M - 3 * M - 4096 - 4096) / PAGE_SIZE);
        long p;
        while ((p = a.allocPages(0, Zone.NORMAL)) != NO_PAGE)
        {
            assertThat(p).isNotEqualTo(0L);
            assertThat(p >= M && p < 3 * M + 4096).as("0x%x in reserved range", p).isFalse();
            assertThat(p >= 6 * M && p < 7 * M).as("0x%x in reserved range", p).isFalse();
        }
        assertThatThrownBy(() -> a.freePages(2 * M, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("0x200000").hasMessageContaining("never handed out");
    }

    @Test
    void shouldRejectBadFreesPreciselyWithoutChangingState()
    {
        final BuddyPageAllocator a = BuddyPageAllocator.of(threeZones());
        final long x = a.allocPages(2, Zone.DMA32);
        final long y = a.allocPages(0, Zone.NORMAL);
        a.freePages(y, 0);
        final String before = a.describe();
        final long[] blocks = freeBlocks(a);
        final long live = a.liveBlockCount();

        assertThatThrownBy(() -> a.freePages(x, 1)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("wrong order").hasMessageContaining(Long.toHexString(x))
            .hasMessageContaining("allocated with order 2, freed with order 1");
        assertThatThrownBy(() -> a.freePages(y, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("double free").hasMessageContaining(Long.toHexString(y));
        assertThatThrownBy(() -> a.freePages(x + PAGE_SIZE, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("never handed out").hasMessageContaining("inside the live block");
        assertThatThrownBy(() -> a.freePages(0, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("0x0").hasMessageContaining("never handed out");
        assertThatThrownBy(() -> a.freePages(4 * G + 10 * M, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("never handed out"); // MMIO
        assertThatThrownBy(() -> a.freePages(x + 1, 0)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("page-aligned");
        assertThatThrownBy(() -> a.freePages(-PAGE_SIZE, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> a.freePages(x, 11)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("order 11");
        assertThatThrownBy(() -> a.allocPages(-1, Zone.DMA)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("order -1");
        assertThatThrownBy(() -> a.allocPages(0, null)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("zone is null");

        assertThat(a.describe()).isEqualTo(before);
        assertThat(freeBlocks(a)).isEqualTo(blocks);
        assertThat(a.liveBlockCount()).isEqualTo(live);
        assertThat(a.allocatedOrder(x)).isEqualTo(2);
        a.freePages(x, 2);
        assertThat(a.allocatedOrder(x)).isEqualTo(-1);
    }

    /**
     * Random alloc/free of random orders and zones against a model: no overlap, natural alignment, zone
     * respected (own zone or lower), RAM only, exact counts; at the end everything merges back.
     */
    @ParameterizedTest
    @ValueSource(longs = { 1, 2, 3, 0x5eed, 0xdeadbeefL, 20260101 })
    void shouldMatchModelUnderRandomAllocAndFree(final long seed)
    {
        final PhysAddressSpace mem = threeZones();
        final BuddyPageAllocator a = BuddyPageAllocator.builder(mem).reserve(20 * M, 3 * M + 4096).build();
        final long[] initialBlocks = freeBlocks(a);
        final long[] initialFree = new long[3];
        for (final Zone z : Zone.values())
        {
            initialFree[z.ordinal()] = a.freePageCount(z);
        }
        final SplittableRandom rnd = new SplittableRandom(seed);
        final TreeMap<Long, Integer> live = new TreeMap<>();
        final long[] livePages = new long[3];
        for (int step = 0; step < 6000; step++)
        {
            final String where = "seed " + seed + " step " + step;
            if (!live.isEmpty() && rnd.nextInt(100) < 45)
            {
                final long key = live.ceilingKey(rnd.nextLong(live.lastKey() + 1));
                final int order = live.remove(key);
                a.freePages(key, order);
                livePages[Zone.of(key).ordinal()] -= 1L << order;
            }
            else
            {
                final int order = rnd.nextInt(100) < 70 ? rnd.nextInt(3) : rnd.nextInt(MAX_ORDER + 1);
                final Zone zone = Zone.values()[rnd.nextInt(3)];
                final long p = a.allocPages(order, zone);
                if (p == NO_PAGE)
                {
                    for (int z = zone.ordinal(); z >= 0; z--)
                    {
                        for (int k = order; k <= MAX_ORDER; k++)
                        {
                            assertThat(a.freeBlockCount(Zone.values()[z], k))
                                .as("%s: NO_PAGE for order %d %s but zone %s has a free order-%d block",
                                    where, order, zone, Zone.values()[z], k).isZero();
                        }
                    }
                    continue;
                }
                final long size = PAGE_SIZE << order;
                assertThat(p % size).as("%s: 0x%x not aligned to order %d", where, p, order).isZero();
                assertThat(p).as("%s: page 0", where).isNotZero();
                assertThat(Zone.of(p).ordinal()).as("%s: 0x%x above zone %s", where, p, zone)
                    .isLessThanOrEqualTo(zone.ordinal());
                assertThat(Zone.of(p + size - 1)).as(where).isEqualTo(Zone.of(p));
                assertThat(mem.isRam(p, size)).as("%s: 0x%x+%d not RAM", where, p, size).isTrue();
                assertThat(p + size <= 20 * M || p >= 23 * M + 4096).as("%s: 0x%x reserved", where, p).isTrue();
                final Map.Entry<Long, Integer> below = live.floorEntry(p);
                if (below != null && below.getKey() + (PAGE_SIZE << below.getValue()) > p)
                {
                    fail("%s: 0x%x order %d overlaps live 0x%x order %d", where, p, order, below.getKey(),
                        below.getValue());
                }
                final Long above = live.ceilingKey(p);
                if (above != null && above < p + size)
                {
                    fail("%s: 0x%x order %d overlaps live 0x%x", where, p, order, above);
                }
                live.put(p, order);
                livePages[Zone.of(p).ordinal()] += 1L << order;
            }
            if (step % 97 == 0)
            {
                for (final Zone z : Zone.values())
                {
                    assertThat(a.freePageCount(z)).as("%s: free pages of %s", where, z)
                        .isEqualTo(initialFree[z.ordinal()] - livePages[z.ordinal()]);
                }
            }
        }
        for (final Map.Entry<Long, Integer> e : live.entrySet())
        {
            a.freePages(e.getKey(), e.getValue());
        }
        for (final Zone z : Zone.values())
        {
            assertThat(a.freePageCount(z)).as("seed %d: %s free after freeing all", seed, z)
                .isEqualTo(initialFree[z.ordinal()]);
        }
        assertThat(freeBlocks(a)).as("seed %d: blocks merged back", seed).isEqualTo(initialBlocks);
        assertThat(a.liveBlockCount()).isZero();
    }

    @Test
    void shouldNotOverlapUnderTwoThreads() throws Exception
    {
        final BuddyPageAllocator a = BuddyPageAllocator.of(space(PhysAddressSpace.builder().ram(0, 64 * M)
            .ram(4 * G, 64 * M)));
        final long initial = a.freePageCount();
        final ConcurrentSkipListMap<Long, Integer> live = new ConcurrentSkipListMap<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CyclicBarrier start = new CyclicBarrier(2);
        final Thread[] threads = new Thread[2];
        for (int t = 0; t < threads.length; t++)
        {
            final long seed = 1000 + t;
            threads[t] = new Thread(() ->
            {
                final SplittableRandom rnd = new SplittableRandom(seed);
                final List<long[]> mine = new ArrayList<>();
                try
                {
                    start.await();
                    for (int i = 0; i < 20_000; i++)
                    {
                        if (!mine.isEmpty() && rnd.nextInt(100) < 48)
                        {
                            final long[] blk = mine.remove(mine.size() - 1 - rnd.nextInt(Math.min(8, mine.size())));
                            live.remove(blk[0]); // before the free: the block may be reused at once
                            a.freePages(blk[0], (int)blk[1]);
                        }
                        else
                        {
                            final int order = rnd.nextInt(5);
                            final long p = a.allocPages(order, Zone.values()[rnd.nextInt(3)]);
                            if (p == NO_PAGE)
                            {
                                continue;
                            }
                            final long end = p + (PAGE_SIZE << order);
                            final Map.Entry<Long, Integer> below = live.floorEntry(end - 1);
                            if (below != null && below.getKey() + (PAGE_SIZE << below.getValue()) > p)
                            {
                                throw new AssertionError(String.format("seed %d: 0x%x order %d overlaps 0x%x order %d",
                                    seed, p, order, below.getKey(), below.getValue()));
                            }
                            if (live.putIfAbsent(p, order) != null)
                            {
                                throw new AssertionError(String.format("seed %d: 0x%x handed out twice", seed, p));
                            }
                            mine.add(new long[] { p, order });
                        }
                    }
                    for (final long[] blk : mine)
                    {
                        live.remove(blk[0]);
                        a.freePages(blk[0], (int)blk[1]);
                    }
                }
                catch (final Throwable e)
                {
                    failure.compareAndSet(null, e);
                }
            });
            threads[t].start();
        }
        for (final Thread t : threads)
        {
            t.join(20_000);
        }
        assertThat(failure.get()).isNull();
        assertThat(a.freePageCount()).isEqualTo(initial);
        assertThat(a.liveBlockCount()).isZero();
    }

    @Test
    void shouldBuildOneTebibyteMachineFastAndSmall()
    {
        final PhysAddressSpace mem = space(PhysAddressSpace.builder().ram(0, 1L << 40));
        System.gc();
        final Runtime rt = Runtime.getRuntime();
        final long heapBefore = rt.totalMemory() - rt.freeMemory();
        final long t0 = System.nanoTime();
        final BuddyPageAllocator a = BuddyPageAllocator.of(mem);
        final long millis = (System.nanoTime() - t0) / 1_000_000;
        System.gc();
        final long heapAfter = rt.totalMemory() - rt.freeMemory();
        assertThat(a.totalPageCount()).isEqualTo((1L << 28) - 1);
        assertThat(a.freeBlockCount(Zone.NORMAL, MAX_ORDER)).isEqualTo((1L << 18) - 1024);
        assertThat(millis).as("build time (ms)").isLessThan(1000);
        assertThat(heapAfter - heapBefore).as("heap bytes held by the allocator").isLessThan(8 * M);
        assertThat(a.allocPages(0, Zone.NORMAL)).isEqualTo(4 * G);
        assertThat(a.allocPages(MAX_ORDER, Zone.NORMAL)).isEqualTo(4 * G + 4 * M);
        a.freePages(4 * G, 0);
        a.freePages(4 * G + 4 * M, MAX_ORDER);
        assertThat(a.freeBlockCount(Zone.NORMAL, MAX_ORDER)).isEqualTo((1L << 18) - 1024);
        assertThat(a.freePageCount()).isEqualTo(a.totalPageCount());
        assertThat(mem.touchedBytes()).isZero(); // the allocator never touches RAM
    }
}
