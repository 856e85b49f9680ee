package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.bench.jmh.BenchEngines;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.ScatterList;
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
 * Scatter-gather versus single mappings through the IOMMU, 16 scattered 4 KiB pages, invalidation cost preset
 * smmuv3 (500 ns per sync command): {@code mapSg16} maps them as one 16-entry list (one 64 KiB IOVA, one
 * invalidation at unmap in strict mode) and unmaps it; {@code single16} maps the 16 pages one by one with
 * {@code mapPhys} and unmaps them with {@code unmapPhys} (16 IOVAs, 16 invalidations in strict mode).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SgBench
{
    /** Pages per operation. */
    public static final int PAGES = 16;

    @Param({ "lazy", "strict" })
    public String mode;

    private DmaEngine engine;
    private Device dev;
    private final long[] pages = new long[PAGES];
    private final long[] dma = new long[PAGES];
    private ScatterList sgl;

    @Setup
    public void setup()
    {
        engine = BenchEngines.engine(BenchEngines.mode(mode), InvalidationCost.SMMUV3, 0);
        dev = engine.attach(BenchEngines.device());
        engine.cpu().bind(0);
        sgl = new ScatterList(PAGES);
        for (int i = 0; i < PAGES; i++)
        {
            BenchEngines.buffer(engine, 0); // a gap: keep the pages physically discontiguous
            pages[i] = BenchEngines.buffer(engine, 0);
            sgl.set(i, pages[i], 4096);
        }
    }

    @TearDown
    public void tearDown()
    {
        engine.close();
    }

    /** {@code dma_map_sg} of 16 pages, then {@code dma_unmap_sg}. */
    @Benchmark
    public int mapSg16()
    {
        final int n = dev.mapSg(sgl, PAGES, DmaDirection.TO_DEVICE, 0);
        dev.unmapSg(sgl, PAGES, DmaDirection.TO_DEVICE, 0);
        return n;
    }

    /** 16 {@code dma_map_phys}, then 16 {@code dma_unmap_phys}. */
    @Benchmark
    public long single16()
    {
        for (int i = 0; i < PAGES; i++)
        {
            dma[i] = dev.mapPhys(pages[i], 4096, DmaDirection.TO_DEVICE, 0);
        }
        for (int i = 0; i < PAGES; i++)
        {
            dev.unmapPhys(dma[i], 4096, DmaDirection.TO_DEVICE, 0);
        }
        return dma[0];
    }
}
