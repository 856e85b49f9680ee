package dev.dmasim.bench.jmh.baseline;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.iommu.InvalidationCost;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Baseline of the IOMMU benchmarks: dma-direct {@code mapPhys}+{@code unmapPhys} of one 4 KiB page on a coherent
 * 64-bit device (no bounce, no cache maintenance: bus address = physical address), through the public
 * {@link Device} API with its argument checks and counters.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DirectMapBench
{
    private DmaEngine engine;
    private Device dev;
    private long buf;

    @Setup
    public void setup()
    {
        engine = BenchEngines.engine(IommuMode.NONE, InvalidationCost.NONE, 0);
        dev = engine.attach(BenchEngines.device());
        buf = BenchEngines.buffer(engine, 0);
        engine.cpu().bind(0);
    }

    @TearDown
    public void tearDown()
    {
        engine.close();
    }

    /** {@code dma_map_phys} + {@code dma_unmap_phys}, 4 KiB, TO_DEVICE. */
    @Benchmark
    public long directMapUnmap()
    {
        final long dma = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, 0);
        dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, 0);
        return dma;
    }
}
