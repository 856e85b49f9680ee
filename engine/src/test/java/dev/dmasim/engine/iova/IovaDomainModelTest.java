package dev.dmasim.engine.iova;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** IovaDomain's O(log n) search must place every range exactly where the kernel's linear walk does. */
class IovaDomainModelTest
{
    private static final long GRANULE = 4096;
    private static final long DMA32 = 1L << 20;

    @Test
    void shouldPlaceEveryRangeLikeTheKernelOnRandomSequences()
    {
        final long baseSeed = 0x10A_2026L;
        long allocs = 0;
        long failures = 0;
        for (int round = 0; round < 40; round++)
        {
            final long seed = baseSeed + round;
            final long[] counts = runSequence(seed, 2500);
            allocs += counts[0];
            failures += counts[1];
        }
        assertThat(allocs).as("successful allocations exercised").isGreaterThan(20_000);
        assertThat(failures).as("failed allocations exercised (max32, exhaustion, retry)").isGreaterThan(1_000);
    }

    private static long[] runSequence(final long seed, final int ops)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long startPfn = 1 + rnd.nextInt(4);
        final IovaDomain domain = new IovaDomain(GRANULE, startPfn, 1);
        final KernelIovaModel model = new KernelIovaModel(GRANULE, startPfn);
        // shrink the space below 4 GiB (and above it) so exhaustion, max32 and the retry happen often
        final long window32 = 256 + rnd.nextInt(4096);
        reserve(domain, model, startPfn, DMA32 - window32 - 1, seed, -1);
        final long topLimit = DMA32 + 512 + rnd.nextInt(4096);
        long allocs = 0;
        long failures = 0;
        for (int i = 0; i < ops; i++)
        {
            final int op = rnd.nextInt(100);
            if (op < 60)
            {
                final long size = rnd.nextInt(10) < 8 ? 1 + rnd.nextInt(8) : 1 + rnd.nextInt(200);
                final long limit;
                final int which = rnd.nextInt(4);
                if (which == 0)
                {
                    limit = topLimit;
                }
                else if (which == 1)
                {
                    limit = DMA32 - 1 - rnd.nextInt((int)window32);
                }
                else
                {
                    limit = DMA32 - 1;
                }
                final boolean aligned = rnd.nextInt(10) != 0;
                final long expected = model.alloc(size, limit, aligned);
                final long actual = domain.allocIova(size, limit, aligned);
                assertThat(actual).as("seed %d op %d alloc(size=%d, limit=%#x, aligned=%b)", seed, i, size, limit,
                    aligned).isEqualTo(expected);
                if (actual == 0)
                {
                    failures++;
                }
                else
                {
                    allocs++;
                }
            }
            else if (op < 97)
            {
                final long pfn = model.nearbyLivePfn(DMA32 - window32 + rnd.nextLong(window32 + 8192), rnd.nextLong());
                if (pfn >= DMA32 - window32 || (pfn > 0 && rnd.nextInt(50) == 0))
                {
                    final boolean expected = model.free(pfn);
                    assertThat(domain.freeIova(pfn)).as("seed %d op %d free(%#x)", seed, i, pfn).isEqualTo(expected);
                }
            }
            else
            {
                final long lo = DMA32 - window32 + rnd.nextLong(window32 + 4096);
                reserve(domain, model, lo, lo + rnd.nextInt(6), seed, i);
            }
            assertThat(domain.max32AllocSize()).as("seed %d op %d max32_alloc_size", seed, i)
                .isEqualTo(model.max32AllocSize());
            if (i % 256 == 0)
            {
                assertThat(domain.verifyTree()).as("seed %d op %d tree nodes", seed, i).isEqualTo(model.size() + 1);
            }
        }
        assertThat(domain.liveRanges()).as("seed %d live ranges", seed).isEqualTo(model.size());
        return new long[] { allocs, failures };
    }

    private static void reserve(
        final IovaDomain domain, final KernelIovaModel model, final long lo, final long hi, final long seed, final int i)
    {
        final boolean expected = model.reserve(lo, hi);
        assertThat(domain.reserveIova(lo, hi)).as("seed %d op %d reserve(%#x, %#x)", seed, i, lo, hi)
            .isEqualTo(expected);
    }
}
