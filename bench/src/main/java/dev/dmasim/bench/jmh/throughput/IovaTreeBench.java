package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.engine.iova.IovaDomain;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The IOVA tree path: {@code alloc_iova_fast}+{@code free_iova_fast} of 64 pfns (above the rcache's 32-pfn
 * limit, so every pair searches, inserts, finds and removes in the tree) with {@code live} fragmented live
 * ranges: {@code 2 * live} size-aligned ranges of 1..32 pfns are allocated top-down, then every other one is
 * freed, leaving holes of 1..32 pfns that a 64-pfn request cannot use. Linux's iova.c, in user space: 51, 81
 * and 106 ns per pair at 10^3, 10^5, 10^6.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IovaTreeBench
{
    /** Pfns per benchmarked allocation: above the largest cached size (32). */
    public static final long SIZE = 64;
    private static final long LIMIT = (1L << 36) - 1; // 48-bit IOVA space in 4 KiB pfns

    @Param({ "1000", "100000", "1000000" })
    public int live;

    private IovaDomain iovad;

    @Setup
    public void setup()
    {
        iovad = fragmented(live, 42);
    }

    /** @return a domain with {@code live} live ranges of 1..32 pfns separated by holes of 1..32 pfns. */
    public static IovaDomain fragmented(final int live, final long seed)
    {
        final IovaDomain d = new IovaDomain(4096, 1, 2);
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long[] pfns = new long[2 * live];
        for (int i = 0; i < pfns.length; i++)
        {
            pfns[i] = d.allocIova(1 + rnd.nextInt(32), LIMIT, true);
            if (pfns[i] == 0)
            {
                throw new IllegalStateException("IOVA space exhausted while building the layout");
            }
        }
        for (int i = 0; i < pfns.length; i += 2)
        {
            d.freeIova(pfns[i]);
        }
        if (d.liveRanges() != live)
        {
            throw new IllegalStateException("expected " + live + " live ranges, have " + d.liveRanges());
        }
        return d;
    }

    /** One 64-pfn alloc+free pair through the tree. */
    @Benchmark
    public long treeAllocFree()
    {
        final long pfn = iovad.allocIovaFast(SIZE, LIMIT, false, 0);
        iovad.freeIovaFast(pfn, SIZE, 0);
        return pfn;
    }
}
