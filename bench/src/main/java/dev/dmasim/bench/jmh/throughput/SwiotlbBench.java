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
 * swiotlb TO_DEVICE bounce: {@code swiotlb_tbl_map_single} (slot search under the area lock, metadata, copy of
 * {@code size} bytes into the pool) + {@code swiotlb_tbl_unmap_single} (no copy back for TO_DEVICE, slots
 * released), streaming alignment, default 64 MiB pool, CPU 0. Baseline: {@code CopyBaselineBench.rawCopy} of
 * the same size.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SwiotlbBench
{
    @Param({ "1500", "4096", "65536" })
    public int size;

    private DmaEngine engine;
    private Swiotlb swiotlb;
    private long orig;

    @Setup
    public void setup()
    {
        engine = BenchEngines.engine(IommuMode.NONE, InvalidationCost.NONE, 0);
        swiotlb = engine.swiotlb();
        orig = BenchEngines.buffer(engine, 4);
    }

    @TearDown
    public void tearDown()
    {
        engine.close();
    }

    /** Map (bounce in) and unmap, TO_DEVICE. */
    @Benchmark
    public long mapUnmap()
    {
        final long tlb = swiotlb.tblMapSingle(BenchEngines.BDF, orig, size, 0, 0, 0xFFFF_FFFFL,
            DmaDirection.TO_DEVICE, 0, 0);
        swiotlb.tblUnmapSingle(BenchEngines.BDF, tlb, size, DmaDirection.TO_DEVICE, 0);
        return tlb;
    }
}
