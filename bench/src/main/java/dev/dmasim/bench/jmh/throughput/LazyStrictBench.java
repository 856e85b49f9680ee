package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.EngineStats;
import dev.dmasim.sim.iommu.InvalidationCost;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * Lazy versus strict invalidation: {@code mapPhys}+{@code unmapPhys} of one 4 KiB page through the IOMMU with the
 * smmuv3 cost preset (500 ns per sync command). Strict invalidates the IOTLB on every unmap; lazy queues the IOVA
 * in the per-CPU flush queue and flushes the domain once per 255 entries (or every 10 ms). The secondary metrics
 * {@code iotlbInvalidations} and {@code unmaps} (events per iteration, from {@code engine.stats()}) give the
 * invalidations per unmap.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LazyStrictBench
{
    /**
     * The engine, plus the IOTLB invalidation commands and unmaps of one iteration (read from
     * {@code engine.stats()}) as auxiliary counters. One state, because JMH would give an iteration fixture
     * that takes another thread-scoped state as argument a second instance of it.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Run
    {
        @Param({ "lazy", "strict" })
        protected String mode;

        public long iotlbInvalidations;
        public long unmaps;

        DmaEngine engine;
        Device dev;
        long buf;
        private long invalidationsBefore;
        private long unmapsBefore;

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

        @Setup(Level.Iteration)
        public void start()
        {
            final EngineStats s = engine.stats();
            invalidationsBefore = s.iotlbInvalidations();
            unmapsBefore = s.unmaps();
            iotlbInvalidations = 0;
            unmaps = 0;
        }

        @TearDown(Level.Iteration)
        public void stop()
        {
            final EngineStats s = engine.stats();
            iotlbInvalidations = s.iotlbInvalidations() - invalidationsBefore;
            unmaps = s.unmaps() - unmapsBefore;
        }
    }

    /** Map and unmap one page, TO_DEVICE. */
    @Benchmark
    public long mapUnmap(final Run r)
    {
        final long dma = r.dev.mapPhys(r.buf, 4096, DmaDirection.TO_DEVICE, 0);
        r.dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, 0);
        return dma;
    }
}
