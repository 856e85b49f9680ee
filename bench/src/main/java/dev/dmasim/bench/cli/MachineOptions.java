package dev.dmasim.bench.cli;

import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The simulated machine a command runs on (a picocli mixin: {@code @Mixin MachineOptions machine;}): the IOMMU mode,
 * forced bouncing, and the {@link HardwareOptions} (CPUs, swiotlb size, invalidation cost, dma-debug). Build the
 * engine with {@link #build()}; the caller closes it.
 */
public final class MachineOptions
{
    @Mixin
    HardwareOptions hardware;

    @Option(names = "--iommu", paramLabel = "MODE", defaultValue = "none", converter = IommuConverter.class,
        description = {"How the device reaches memory: none (dma-direct, default), passthrough (identity domain), "
            + "strict (dma-iommu, IOTLB invalidated on every unmap) or lazy (dma-iommu, unmaps batched in per-CPU "
            + "flush queues)."})
    IommuMode iommu;

    @Option(names = "--force-bounce",
        description = {"Force every streaming mapping through swiotlb (swiotlb=force). With --iommu none or "
            + "passthrough this is the 'swiotlb' mode of the reports."})
    boolean forceBounce;

    /** @return the hardware options. */
    public HardwareOptions hardware()
    {
        return hardware;
    }

    /** @return the benchmark mode these options select. */
    public BenchMode mode()
    {
        return BenchMode.of(iommu, forceBounce);
    }

    /** @return the IOMMU mode. */
    public IommuMode iommu()
    {
        return iommu;
    }

    /** @return a builder for the engine these options describe (see {@link HardwareOptions#builder}). */
    public DmaEngine.Builder builder()
    {
        final DmaEngine.Builder b = hardware.builder(forceBounce ? BenchMode.SWIOTLB : mode());
        return b.iommu(iommu);
    }

    /** @return the engine these options describe; the caller closes it. */
    public DmaEngine build()
    {
        return builder().build();
    }

    /** Parses {@code --iommu} with {@link IommuMode#parse}. */
    static final class IommuConverter implements ITypeConverter<IommuMode>
    {
        @Override
        public IommuMode convert(final String value)
        {
            try
            {
                return IommuMode.parse(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage());
            }
        }
    }
}
