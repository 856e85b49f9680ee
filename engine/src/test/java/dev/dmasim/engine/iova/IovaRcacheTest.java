package dev.dmasim.engine.iova;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The per-CPU magazines and the depot behave exactly as the kernel's rcache. */
class IovaRcacheTest
{
    private static final long GRANULE = 4096;
    private static final long LIMIT32 = (1L << 20) - 1;

    private static IovaDomain domain(final int cpus)
    {
        final IovaDomain d = new IovaDomain(GRANULE, 1, cpus);
        d.depotTrimIntervalNanos(0); // deterministic: trim only on trimDepot()
        return d;
    }

    /** Reserves pfn as a 1-pfn range and frees it into the rcache (as if allocated then freed). */
    private static void cache(final IovaDomain d, final long pfn, final int cpu)
    {
        assertThat(d.reserveIova(pfn, pfn)).isTrue();
        d.freeIovaFast(pfn, 1, cpu);
    }

    @Test
    void shouldReuseFreedRangesLastInFirstOut()
    {
        final IovaDomain d = domain(1);
        final long a = d.allocIovaFast(1, LIMIT32, false, 0);
        final long b = d.allocIovaFast(1, LIMIT32, false, 0);
        final long c = d.allocIovaFast(1, LIMIT32, false, 0);
        assertThat(new long[] { a, b, c }).containsExactly(LIMIT32, LIMIT32 - 1, LIMIT32 - 2);
        d.freeIovaFast(a, 1, 0);
        d.freeIovaFast(b, 1, 0);
        d.freeIovaFast(c, 1, 0);
        assertThat(d.liveRanges()).as("cached ranges stay allocated in the tree").isEqualTo(3);
        assertThat(d.cachedIovas()).isEqualTo(3);
        assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).isEqualTo(c);
        assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).isEqualTo(b);
        assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).isEqualTo(a);
        assertThat(d.rcacheHits()).isEqualTo(3);
        assertThat(d.rcacheMisses()).isEqualTo(3);
    }

    @Test
    void shouldPopTheHighestIndexUnderTheLimitAndMoveTheLastEntryIntoItsSlot()
    {
        final IovaDomain d = domain(1);
        cache(d, 100, 0);
        cache(d, 50, 0);
        cache(d, 200, 0);
        // magazine [100, 50, 200]: 200 is above the limit, 50 is taken and 200 moves into its slot: [100, 200]
        assertThat(d.allocIovaFast(1, 150, false, 0)).isEqualTo(50);
        assertThat(d.allocIovaFast(1, 1000, false, 0)).isEqualTo(200);
        assertThat(d.allocIovaFast(1, 1000, false, 0)).isEqualTo(100);
        cache(d, 300, 0);
        // nothing at or below the limit: a miss, and the tree serves it top-down below the limit
        final long misses = d.rcacheMisses();
        assertThat(d.allocIovaFast(1, 60, false, 0)).isEqualTo(60);
        assertThat(d.rcacheMisses()).isEqualTo(misses + 1);
        assertThat(d.loadedCount(0, 0)).isEqualTo(1);
    }

    @Test
    void shouldRoundSmallSizesUpToAPowerOfTwoAndCacheByOrder()
    {
        final IovaDomain d = domain(1);
        final long pfn = d.allocIovaFast(3, LIMIT32, false, 0);
        assertThat(pfn).isEqualTo(LIMIT32 - 3);
        assertThat(d.findIovaHi(pfn)).as("3 pages occupy 4").isEqualTo(LIMIT32);
        d.freeIovaFast(pfn, 3, 0);
        assertThat(d.loadedCount(0, 2)).isEqualTo(1);
        assertThat(d.allocIovaFast(4, LIMIT32, false, 0)).isEqualTo(pfn);
        final long big = d.allocIovaFast(40, LIMIT32, false, 0);
        assertThat(d.findIovaHi(big) - big + 1).as("33+ pages are not rounded").isEqualTo(40);
        assertThat(big & 63).as("but aligned to 64").isZero();
        d.freeIovaFast(big, 40, 0);
        assertThat(d.findIova(big)).as("too big to cache: freed in the tree").isEqualTo(-1);
    }

    @Test
    void shouldSwapLoadedAndPrevThenExchangeWithTheDepot()
    {
        final IovaDomain d = domain(1);
        final int n = 2 * IovaDomain.IOVA_MAG_SIZE + 1;
        for (int i = 1; i <= n; i++)
        {
            cache(d, 1000 + i, 0);
            if (i == IovaDomain.IOVA_MAG_SIZE + 1)
            {
                assertThat(d.loadedCount(0, 0)).as("swapped to an empty loaded").isEqualTo(1);
                assertThat(d.prevCount(0, 0)).isEqualTo(IovaDomain.IOVA_MAG_SIZE);
            }
        }
        assertThat(d.depotSize(0)).as("full loaded pushed to the depot").isEqualTo(1);
        assertThat(d.depotPushes()).isEqualTo(1);
        assertThat(d.loadedCount(0, 0)).isEqualTo(1);
        assertThat(d.prevCount(0, 0)).isEqualTo(IovaDomain.IOVA_MAG_SIZE);

        // loaded [f255]; prev [f1..f127]; depot [f128..f254]
        assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).isEqualTo(1000 + n);
        for (int i = IovaDomain.IOVA_MAG_SIZE; i >= 1; i--)
        {
            assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).as("prev swapped in, pfn %d", i).isEqualTo(1000 + i);
        }
        assertThat(d.depotPops()).isZero();
        for (int i = 2 * IovaDomain.IOVA_MAG_SIZE; i > IovaDomain.IOVA_MAG_SIZE; i--)
        {
            assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).as("depot magazine, pfn %d", i).isEqualTo(1000 + i);
        }
        assertThat(d.depotPops()).isEqualTo(1);
        assertThat(d.depotSize(0)).isZero();
        assertThat(d.rcacheHits()).isEqualTo(n);
        assertThat(d.cachedIovas()).isZero();
    }

    @Test
    void shouldTrimTheDepotBackToOneMagazinePerCpu()
    {
        final IovaDomain d = domain(2);
        final int n = 7 * IovaDomain.IOVA_MAG_SIZE;
        for (int i = 1; i <= n; i++)
        {
            cache(d, 10_000 + i, 0);
        }
        assertThat(d.depotSize(0)).isEqualTo(5);
        final int live = d.liveRanges();
        assertThat(d.trimDepot()).isEqualTo(3);
        assertThat(d.depotSize(0)).isEqualTo(2);
        assertThat(d.depotTrims()).isEqualTo(3);
        assertThat(d.liveRanges()).as("trimmed pfns freed in the tree").isEqualTo(live - 3 * IovaDomain.IOVA_MAG_SIZE);
        assertThat(d.trimDepot()).isZero();
        // the newest magazines were trimmed (LIFO depot): the oldest two remain
        assertThat(d.findIova(10_000 + 2 * IovaDomain.IOVA_MAG_SIZE + 1)).isEqualTo(10_000 + 2 * IovaDomain.IOVA_MAG_SIZE + 1);
        assertThat(d.findIova(10_000 + 4 * IovaDomain.IOVA_MAG_SIZE + 1)).isEqualTo(-1);
    }

    @Test
    void shouldTrimOnTheFreeSlowPathOnceTheIntervalPassed()
    {
        final IovaDomain d = domain(1);
        d.depotTrimIntervalNanos(1);
        for (int i = 1; i <= 10 * IovaDomain.IOVA_MAG_SIZE; i++)
        {
            cache(d, 10_000 + i, 0);
            assertThat(d.depotSize(0)).as("after free %d", i).isLessThanOrEqualTo(1 + 1);
        }
        assertThat(d.depotTrims()).isPositive();
    }

    @Test
    void shouldFlushEveryCacheToTheTreeAndRetryWhenTheTreeIsFull()
    {
        final IovaDomain d = domain(2);
        final long window = 16;
        assertThat(d.reserveIova(1, LIMIT32 - window)).isTrue();
        final long[] pfns = new long[(int)window];
        for (int i = 0; i < window; i++)
        {
            pfns[i] = d.allocIovaFast(1, LIMIT32, false, i & 1);
            assertThat(pfns[i]).isEqualTo(LIMIT32 - i);
        }
        assertThat(d.allocIovaFast(1, LIMIT32, false, 0)).as("32-bit space full").isZero();
        for (int i = 0; i < window; i++)
        {
            d.freeIovaFast(pfns[i], 1, i & 1);
        }
        assertThat(d.allocIovaFast(2, LIMIT32, false, 0)).as("order-1 cache empty, tree full, no flush").isZero();
        assertThat(d.cachedIovas()).isEqualTo(window);
        final long pfn = d.allocIovaFast(2, LIMIT32, true, 0);
        assertThat(pfn).as("after flushing both CPUs' magazines").isEqualTo(LIMIT32 - 1);
        assertThat(d.cachedIovas()).isZero();
        assertThat(d.liveRanges()).isEqualTo(2);
        d.putDomain();
        assertThat(d.liveRanges()).isZero();
        assertThat(d.allocIovaFast(1, LIMIT32, false, 1)).as("usable after putDomain").isEqualTo(LIMIT32);
    }
}
