package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.engine.iova.IovaDomain;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * rcache-hit IOVA alloc+free ({@code alloc_iova_fast}/{@code free_iova_fast} of one pfn below 4 GiB): every
 * allocation pops the pfn the previous free pushed into the CPU's loaded magazine. One thread on CPU slot 0,
 * and two threads (group {@code rcacheAllocFree2T}) on slots 0 and 1 of the same domain: their aggregate
 * throughput over the one-thread figure is the scaling. Baseline: {@code IovaBaselineBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IovaRcacheBench
{
    private static final long LIMIT_32 = (1L << 20) - 1;

    private IovaDomain iovad;

    @Setup
    public void setup()
    {
        iovad = new IovaDomain(4096, 1, 2);
        iovad.depotTrimIntervalNanos(0);
        for (int cpu = 0; cpu < 2; cpu++)
        {
            iovad.freeIovaFast(iovad.allocIovaFast(1, LIMIT_32, true, cpu), 1, cpu);
        }
    }

    private long pair(final int cpu)
    {
        final long pfn = iovad.allocIovaFast(1, LIMIT_32, true, cpu);
        iovad.freeIovaFast(pfn, 1, cpu);
        return pfn;
    }

    /** One thread, CPU slot 0. */
    @Benchmark
    @Threads(1)
    public long rcacheAllocFree()
    {
        return pair(0);
    }

    /** Two threads: this one on CPU slot 0. */
    @Benchmark
    @Group("rcacheAllocFree2T")
    @GroupThreads(1)
    public long cpu0()
    {
        return pair(0);
    }

    /** Two threads: this one on CPU slot 1. */
    @Benchmark
    @Group("rcacheAllocFree2T")
    @GroupThreads(1)
    public long cpu1()
    {
        return pair(1);
    }
}
