package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
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
 * The IOMMU streaming fast path: {@code mapPhys}+{@code unmapPhys} of one 4 KiB page whose IOVA comes from and
 * goes back to the rcache (lazy: through the flush queue), page-table map and unmap in simulated RAM, no
 * invalidation cost ({@code none}). Baseline: {@code DirectMapBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IommuMapBench
{
    @Param({ "lazy", "strict" })
    public String mode;

    private DmaEngine engine;
    private Device dev;
    private long buf;

    @Setup
    public void setup()
    {
        engine = BenchEngines.engine(BenchEngines.mode(mode), InvalidationCost.NONE, 0);
        dev = engine.attach(BenchEngines.device());
        buf = BenchEngines.buffer(engine, 0);
        engine.cpu().bind(0);
    }

    @TearDown
    public void tearDown()
    {
        engine.close();
    }

    /** rcache-hit map+unmap of 4 KiB, TO_DEVICE. */
    @Benchmark
    public long rcacheMapUnmap()
    {
        final long dma = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, 0);
        dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, 0);
        return dma;
    }
}
