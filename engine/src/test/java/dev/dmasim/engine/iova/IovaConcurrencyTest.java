package dev.dmasim.engine.iova;

import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two threads allocate and free through the rcache, the depot and the tree (with flush-and-retry under
 * exhaustion); a shared bitmap proves no pfn is handed out twice while live, and everything returns.
 */
class IovaConcurrencyTest
{
    private static final long GRANULE = 4096;
    private static final int PFNS = 1 << 13;
    private static final int ITERATIONS = 40_000;
    private static final long[] SIZES = { 1, 1, 1, 2, 2, 3, 4, 8, 16, 32, 40, 70 };

    @ParameterizedTest(name = "shared CPU slot = {0}")
    @ValueSource(booleans = { false, true })
    void shouldNeverHandOutALiveRangeTwice(final boolean sharedSlot) throws Exception
    {
        final long seed = 0xC0FFEEL + (sharedSlot ? 1 : 0);
        final IovaDomain domain = new IovaDomain(GRANULE, 1, 2);
        domain.depotTrimIntervalNanos(1);
        final AtomicLongArray bitmap = new AtomicLongArray(PFNS / 64);
        final AtomicReference<String> failure = new AtomicReference<>();
        final CyclicBarrier start = new CyclicBarrier(2);
        final Thread[] threads = new Thread[2];
        for (int t = 0; t < 2; t++)
        {
            final int cpu = sharedSlot ? 0 : t;
            final long threadSeed = seed * 31 + t;
            threads[t] = new Thread(() -> run(domain, bitmap, failure, start, cpu, threadSeed), "iova-" + t);
            threads[t].start();
        }
        for (final Thread thread : threads)
        {
            thread.join(60_000);
            assertThat(thread.isAlive()).as("seed %d: thread finished", seed).isFalse();
        }
        assertThat(failure.get()).as("seed %d", seed).isNull();
        for (int w = 0; w < bitmap.length(); w++)
        {
            assertThat(bitmap.get(w)).as("seed %d: bitmap word %d released", seed, w).isZero();
        }
        assertThat(domain.rcacheHits()).as("seed %d: magazines used", seed).isGreaterThan(1000);
        domain.flushRcaches();
        assertThat(domain.cachedIovas()).isZero();
        assertThat(domain.liveRanges()).as("seed %d: everything back in the tree", seed).isZero();
        domain.verifyTree();
        domain.putDomain();
        assertThat(domain.liveRanges()).isZero();
    }

    private static void run(
        final IovaDomain domain,
        final AtomicLongArray bitmap,
        final AtomicReference<String> failure,
        final CyclicBarrier start,
        final int cpu,
        final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long[] livePfn = new long[256];
        final long[] liveSize = new long[256];
        int live = 0;
        try
        {
            start.await();
            for (int i = 0; i < ITERATIONS && failure.get() == null; i++)
            {
                if (live < livePfn.length && (live == 0 || rnd.nextInt(100) < 52))
                {
                    final long size = SIZES[rnd.nextInt(SIZES.length)];
                    final long limit = rnd.nextBoolean() ? PFNS - 1 : PFNS / 2 - 1 + rnd.nextInt(PFNS / 2);
                    final long pfn = domain.allocIovaFast(size, limit, rnd.nextInt(4) == 0, cpu);
                    if (pfn == 0)
                    {
                        continue;
                    }
                    final long length = size < 32 ? Long.highestOneBit(size * 2 - 1) : size;
                    if (pfn + length - 1 > limit || !claim(bitmap, pfn, length))
                    {
                        failure.compareAndSet(null, "seed " + seed + " op " + i + ": [" + pfn + ", +" + length +
                            ") limit " + limit + " handed out while live or beyond the limit");
                        return;
                    }
                    livePfn[live] = pfn;
                    liveSize[live] = size;
                    live++;
                }
                else
                {
                    final int k = rnd.nextInt(live);
                    release(domain, bitmap, livePfn[k], liveSize[k], cpu);
                    live--;
                    livePfn[k] = livePfn[live];
                    liveSize[k] = liveSize[live];
                }
            }
            while (live > 0)
            {
                live--;
                release(domain, bitmap, livePfn[live], liveSize[live], cpu);
            }
        }
        catch (final Throwable ex)
        {
            failure.compareAndSet(null, "seed " + seed + ": " + ex);
        }
    }

    private static boolean claim(final AtomicLongArray bitmap, final long pfn, final long length)
    {
        for (long p = pfn; p < pfn + length; p++)
        {
            final long mask = 1L << (p & 63);
            final long old = bitmap.getAndAccumulate((int)(p >>> 6), mask, (a, b) -> a | b);
            if ((old & mask) != 0)
            {
                return false;
            }
        }
        return true;
    }

    private static void release(
        final IovaDomain domain, final AtomicLongArray bitmap, final long pfn, final long size, final int cpu)
    {
        final long length = size < 32 ? Long.highestOneBit(size * 2 - 1) : size;
        for (long p = pfn; p < pfn + length; p++)
        {
            final long mask = ~(1L << (p & 63));
            bitmap.getAndAccumulate((int)(p >>> 6), mask, (a, b) -> a & b);
        }
        domain.freeIovaFast(pfn, size, cpu);
    }
}
