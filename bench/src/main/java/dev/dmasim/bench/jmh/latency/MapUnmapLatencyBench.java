package dev.dmasim.bench.jmh.latency;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.sim.iommu.InvalidationCost;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * Latency of {@code mapPhys} and of {@code unmapPhys} separately (one 4 KiB page, TO_DEVICE), for dma-direct,
 * strict and lazy IOMMU modes with the smmuv3 invalidation cost. {@code map} is timed with the unmap done in an
 * invocation-level teardown, {@code unmap} with the map done in an invocation-level setup (JMH's timestamps
 * are around the benchmark method only). Percentiles in the result (p50, p90, p99, p99.9, p99.99, max).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MapUnmapLatencyBench
{
    /**
     * The engine and device of one mode. (Each timed state extends it rather than taking it as a fixture
     * argument: JMH hands a fixture method a second instance of a thread-scoped state.)
     */
    @State(Scope.Thread)
    public abstract static class Machine
    {
        @Param({ "direct", "strict", "lazy" })
        public String mode;

        DmaEngine engine;
        Device dev;
        long buf;

        @Setup(Level.Trial)
        public void setup()
        {
            engine = BenchEngines.engine(BenchEngines.mode(mode), InvalidationCost.SMMUV3, 0);
            dev = engine.attach(BenchEngines.device());
            buf = BenchEngines.buffer(engine, 0);
            engine.cpu().bind(0);
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            engine.close();
        }
    }

    /** Holds the mapping made by the timed {@code map}; unmapped after each invocation. */
    @State(Scope.Thread)
    public static class Mapped extends Machine
    {
        long dma;

        @TearDown(Level.Invocation)
        public void unmapAfter()
        {
            dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, 0);
        }
    }

    /** Maps before each invocation of the timed {@code unmap}. */
    @State(Scope.Thread)
    public static class ToUnmap extends Machine
    {
        long dma;

        @Setup(Level.Invocation)
        public void mapBefore()
        {
            dma = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, 0);
        }
    }

    /** {@code dma_map_phys} alone. */
    @Benchmark
    public long map(final Mapped m)
    {
        m.dma = m.dev.mapPhys(m.buf, 4096, DmaDirection.TO_DEVICE, 0);
        return m.dma;
    }

    /** {@code dma_unmap_phys} alone. */
    @Benchmark
    public void unmap(final ToUnmap m)
    {
        m.dev.unmapPhys(m.dma, 4096, DmaDirection.TO_DEVICE, 0);
    }
}
