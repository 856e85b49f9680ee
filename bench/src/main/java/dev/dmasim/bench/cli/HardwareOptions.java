package dev.dmasim.bench.cli;

import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.iommu.InvalidationCost;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * The simulated machine's hardware options, shared by every command that builds a {@link DmaEngine} (a picocli
 * mixin): CPUs, swiotlb pool size, IOTLB invalidation cost, dma-debug. The IOMMU mode is chosen by the command
 * ({@link MachineOptions} adds {@code --iommu} and {@code --force-bounce}; a sweep lists modes).
 */
public final class HardwareOptions
{
    /** Most simulated CPUs accepted. */
    public static final int MAX_CPUS = 4096;
    /** Largest swiotlb pool accepted, MiB (the pool must fit in RAM below 4 GiB). */
    public static final int MAX_SWIOTLB_MB = 1024;

    @Spec(Spec.Target.MIXEE)
    private CommandSpec mixee;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "2",
        description = {"Simulated CPUs (1..4096, default ${DEFAULT-VALUE}): the per-CPU IOVA caches, lazy flush "
            + "queues and swiotlb areas. Benchmark thread i is bound to CPU i mod N; threads beyond N share slots."})
    int cpus;

    @Option(names = "--swiotlb-mb", paramLabel = "MB", defaultValue = "64",
        description = {"swiotlb bounce pool size in MiB (0..1024, default ${DEFAULT-VALUE} like the kernel; "
            + "0 = no pool, so a mapping the device cannot reach fails instead of bouncing)."})
    int swiotlbMb;

    @Option(names = "--cost", paramLabel = "COST", defaultValue = "none", converter = CostConverter.class,
        description = {"CPU time charged per IOTLB invalidation sync: none (default), smmuv3 (500 ns), vtd (1000 ns) "
            + "or a number of ns such as 750ns. Makes strict and lazy differ as on real IOMMUs."})
    InvalidationCost cost;

    @Option(names = "--debug",
        description = {"Turn dma-debug checks on (CONFIG_DMA_API_DEBUG): slower, reports driver bugs."})
    boolean debug;

    /** @return the number of simulated CPUs. */
    public int cpus()
    {
        return cpus;
    }

    /** @return the invalidation cost. */
    public InvalidationCost cost()
    {
        return cost;
    }

    /** @return true if dma-debug is on. */
    public boolean debug()
    {
        return debug;
    }

    /**
     * @return an engine builder for the embedded default machine with these options and {@code mode}.
     * @throws ParameterException if an option is out of range.
     */
    public DmaEngine.Builder builder(final BenchMode mode)
    {
        if (cpus < 1 || cpus > MAX_CPUS)
        {
            throw new ParameterException(mixee.commandLine(), "--cpus must be in 1-" + MAX_CPUS + ", was " + cpus);
        }
        if (swiotlbMb < 0 || swiotlbMb > MAX_SWIOTLB_MB)
        {
            throw new ParameterException(mixee.commandLine(),
                "--swiotlb-mb must be in 0-" + MAX_SWIOTLB_MB + ", was " + swiotlbMb);
        }
        if (mode == BenchMode.SWIOTLB && swiotlbMb == 0)
        {
            throw new ParameterException(mixee.commandLine(), "forced bouncing needs a swiotlb pool: --swiotlb-mb is 0");
        }
        final SwiotlbConfig swiotlb = swiotlbMb == 0 ? SwiotlbConfig.disabled() :
            SwiotlbConfig.defaults().size((long)swiotlbMb << 20).force(mode.forceBounce());
        return DmaEngine.builder()
            .cpus(cpus)
            .iommu(mode.iommu())
            .iommuConfig(IommuConfig.defaults().withInvalidationCost(cost))
            .swiotlb(swiotlb)
            .debug(debug);
    }

    /** Parses {@code --cost} with {@link InvalidationCost#parse}. */
    static final class CostConverter implements ITypeConverter<InvalidationCost>
    {
        @Override
        public InvalidationCost convert(final String value)
        {
            try
            {
                return InvalidationCost.parse(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage());
            }
        }
    }
}
