package dev.dmasim.bench.jmh;

import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.sim.iommu.InvalidationCost;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.Zone;

/**
 * The machines the benchmarks run on: the embedded default x86 machine with 2 CPUs, a coherent trusted PCI
 * device with a 64-bit mask, dma-debug off. Not thread-safe (used from {@code @Setup} methods).
 */
public final class BenchEngines
{
    /** The benchmarked device's PCI name. */
    public static final String BDF = "0000:03:00.0";
    /** Simulated CPUs of every benchmark engine. */
    public static final int CPUS = 2;

    private BenchEngines()
    {
    }

    /** @return an engine in {@code mode} with the given invalidation cost and swiotlb areas (0 = per CPU). */
    public static DmaEngine engine(final IommuMode mode, final InvalidationCost cost, final int swiotlbAreas)
    {
        return DmaEngine.builder()
            .cpus(CPUS)
            .iommu(mode)
            .iommuConfig(IommuConfig.defaults().withInvalidationCost(cost))
            .swiotlb(SwiotlbConfig.defaults().areas(swiotlbAreas))
            .debug(false)
            .build();
    }

    /** @return the default device config: coherent, trusted, 64-bit. */
    public static DeviceConfig device()
    {
        return DeviceConfig.pci(BDF).dmaBits(64);
    }

    /** @return the physical address of a fresh {@code 2^order}-page block of normal memory, filled with a pattern. */
    public static long buffer(final DmaEngine engine, final int order)
    {
        final long phys = engine.pages().allocPages(order, Zone.NORMAL);
        if (phys == PageAllocator.NO_PAGE)
        {
            throw new IllegalStateException("out of simulated memory for a benchmark buffer");
        }
        final long bytes = 4096L << order;
        for (long off = 0; off < bytes; off += 8)
        {
            engine.memory().putLong(phys + off, off * 0x9E3779B97F4A7C15L);
        }
        return phys;
    }

    /** @return the mode named by a {@code @Param}: direct (NONE), strict or lazy. */
    public static IommuMode mode(final String name)
    {
        return switch (name)
        {
            case "direct" -> IommuMode.NONE;
            case "strict" -> IommuMode.STRICT;
            case "lazy" -> IommuMode.LAZY;
            default -> throw new IllegalArgumentException("unknown mode " + name + " (direct, strict, lazy)");
        };
    }
}
