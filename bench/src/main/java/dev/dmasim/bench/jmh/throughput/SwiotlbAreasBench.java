package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.sim.iommu.InvalidationCost;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * swiotlb lock splitting: two threads (CPU slots 0 and 1) each map+unmap {@code size} bytes TO_DEVICE, with
 * per-CPU areas ({@code areas=percpu}: 2 areas, 2 locks) or one area ({@code areas=global}: one lock, the
 * kernel before areas). Aggregate throughput, ops/µs.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SwiotlbAreasBench
{
    @Param({ "percpu", "global" })
    public String areas;

    @Param({ "1500" })
    public int size;

    private DmaEngine engine;
    private Swiotlb swiotlb;
    private long orig0;
    private long orig1;

    @Setup
    public void setup()
    {
        engine = BenchEngines.engine(IommuMode.NONE, InvalidationCost.NONE, "global".equals(areas) ? 1 : 0);
        swiotlb = engine.swiotlb();
        if (swiotlb.areas() != ("global".equals(areas) ? 1 : BenchEngines.CPUS))
        {
            throw new IllegalStateException("unexpected area count " + swiotlb.areas());
        }
        orig0 = BenchEngines.buffer(engine, 0);
        orig1 = BenchEngines.buffer(engine, 0);
    }

    @TearDown
    public void tearDown()
    {
        engine.close();
    }

    private long pair(final long orig, final int cpu)
    {
        final long tlb = swiotlb.tblMapSingle(BenchEngines.BDF, orig, size, 0, 0, 0xFFFF_FFFFL,
            DmaDirection.TO_DEVICE, 0, cpu);
        swiotlb.tblUnmapSingle(BenchEngines.BDF, tlb, size, DmaDirection.TO_DEVICE, 0);
        return tlb;
    }

    /** The thread on CPU slot 0. */
    @Benchmark
    @Group("twoThreads")
    @GroupThreads(1)
    public long cpu0()
    {
        return pair(orig0, 0);
    }

    /** The thread on CPU slot 1. */
    @Benchmark
    @Group("twoThreads")
    @GroupThreads(1)
    public long cpu1()
    {
        return pair(orig1, 1);
    }
}
