package dev.dmasim.bench.jmh.baseline;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Baseline of the IOVA allocator benchmarks: a {@link SyncTreeMapIovaAllocator} holding 10^4 live one-pfn
 * ranges (every other pfn below the 4 GiB limit, so the layout is fragmented), one alloc+free pair of one pfn
 * per operation. Compare with {@code IovaRcacheBench} (rcache hit) and {@code IovaTreeBench} (tree path).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IovaBaselineBench
{
    /** Live ranges kept in the map. */
    public static final int LIVE = 10_000;
    private static final long LIMIT = (1L << 20) - 1; // 4 GiB of 4 KiB pfns

    private SyncTreeMapIovaAllocator alloc;

    @Setup
    public void setup()
    {
        alloc = new SyncTreeMapIovaAllocator(1);
        // every other pfn at the top of the space, below a one-pfn hole at the limit (so the top-down first
        // fit lands just under the limit, as a cached-node allocator's steady state does)
        for (int i = 0; i < LIVE; i++)
        {
            final long pfn = LIMIT - 1 - 2L * i;
            alloc.reserve(pfn, pfn);
        }
    }

    /** One synchronized first-fit alloc and its free, one pfn. */
    @Benchmark
    public long syncTreeMapAllocFree()
    {
        final long pfn = alloc.alloc(1, LIMIT);
        alloc.free(pfn);
        return pfn;
    }
}
