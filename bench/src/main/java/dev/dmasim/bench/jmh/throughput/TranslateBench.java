package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.bus.Access;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.bus.TlbEntry;
import dev.dmasim.sim.iommu.InvalidationCost;
import dev.dmasim.sim.mem.MemTx;
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
 * Device-side translation on an IOTLB hit: {@link BusDevice#translate} of a mapped page (seqlock read of one
 * IOTLB set, permission check, fill of a caller-owned {@link TlbEntry}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TranslateBench
{
    private DmaEngine engine;
    private BusDevice bus;
    private long dma;
    private final TlbEntry entry = new TlbEntry();

    @Setup
    public void setup()
    {
        engine = BenchEngines.engine(IommuMode.STRICT, InvalidationCost.NONE, 0);
        final Device dev = engine.attach(BenchEngines.device());
        dma = dev.mapPhys(BenchEngines.buffer(engine, 0), 4096, DmaDirection.BIDIRECTIONAL, 0);
        bus = dev.bus();
        if (bus.translate(dma, Access.READ, entry) != MemTx.OK)
        {
            throw new IllegalStateException("translation of the mapped page failed");
        }
    }

    @TearDown
    public void tearDown()
    {
        engine.close();
    }

    /** One IOTLB-hit translation of a read. */
    @Benchmark
    public int iotlbHitTranslate()
    {
        return bus.translate(dma + 128, Access.READ, entry);
    }
}
