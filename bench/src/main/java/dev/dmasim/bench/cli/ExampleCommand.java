package dev.dmasim.bench.cli;

import dev.dmasim.bench.example.Bug;
import dev.dmasim.bench.example.ExampleModel;
import dev.dmasim.bench.example.ExampleOptions;
import dev.dmasim.bench.example.ExampleResult;
import dev.dmasim.bench.example.ExampleRunner;
import dev.dmasim.bench.example.nic.NicModel;
import dev.dmasim.bench.example.nvme.NvmeModel;
import dev.dmasim.engine.IommuMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code dmasim example nic|nvme}: runs an example device model (hardware half on its own thread, driver half on the
 * Device API) with the CPU cache model, dmasim's checks and dma-debug on, and prints what ran, the throughput and every
 * report. Exit 0: a correct driver ran clean. Exit 1: a {@code --bug} run (the bug was caught: "caught: KIND"; or,
 * which must never happen, "NOT caught"), or a correct driver that produced reports or unverified data. Exit 2: bad
 * usage.
 */
@Command(name = "example", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Runs an example device model (nic, nvme) and its driver, with the cache model, checks and dma-debug on.",
        "nic: TX/RX descriptor rings, per-frame TX mappings, recycled RX buffers, a loopback wire.",
        "nvme: a submission/completion queue pair, PRP lists, READ/WRITE against an in-memory namespace.",
        "Exit 0 when a correct driver runs clean; 1 for a --bug run (\"caught: KIND\") or a failed run; 2 bad usage."})
public final class ExampleCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "nic or nvme")
    String name;

    @Option(names = "--iommu", paramLabel = "MODE", defaultValue = "none", converter = ModeConverter.class,
        description = "none | passthrough | strict | lazy (default: ${DEFAULT-VALUE})")
    IommuMode iommu;

    @Option(names = "--packets", paramLabel = "N", description = "frames to send (nic; default 2000)")
    Integer packets;

    @Option(names = "--ios", paramLabel = "N", description = "I/O commands to run (nvme; default 1000)")
    Integer ios;

    @Option(names = "--bug", paramLabel = "KIND", defaultValue = "none", converter = BugConverter.class,
        description = "none | missing-sync (implies --noncoherent) | use-after-unmap | wrong-direction | leak")
    Bug bug;

    @Option(names = "--noncoherent", description = "attach the device as non-coherent (DMA bypasses the CPU cache)")
    boolean noncoherent;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "random seed (default 1)")
    long seed;

    @Override
    public Integer call()
    {
        final ExampleModel model;
        final Integer count;
        switch (name.toLowerCase(Locale.ROOT))
        {
            case "nic" ->
            {
                model = new NicModel();
                count = packets != null ? packets : (ios != null ? ios : 2000);
            }
            case "nvme" ->
            {
                model = new NvmeModel();
                count = ios != null ? ios : (packets != null ? packets : 1000);
            }
            default -> throw new ParameterException(spec.commandLine(), "unknown example '" + name
                + "': expected nic or nvme");
        }
        if (count < 1)
        {
            throw new ParameterException(spec.commandLine(), "--packets/--ios must be >= 1, was " + count);
        }
        final ExampleResult result = ExampleRunner.run(model, new ExampleOptions(iommu, count, bug, noncoherent, seed));
        final PrintWriter out = spec.commandLine().getOut();
        result.print(out);
        out.flush();
        return result.exitCode();
    }

    /** {@code none|passthrough|strict|lazy}, any case. */
    static final class ModeConverter implements ITypeConverter<IommuMode>
    {
        @Override
        public IommuMode convert(final String value)
        {
            try
            {
                return IommuMode.valueOf(value.toUpperCase(Locale.ROOT));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new picocli.CommandLine.TypeConversionException("expected none, passthrough, strict or lazy,"
                    + " was '" + value + "'");
            }
        }
    }

    /** The {@link Bug} command-line names. */
    static final class BugConverter implements ITypeConverter<Bug>
    {
        @Override
        public Bug convert(final String value)
        {
            try
            {
                return Bug.parse(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new picocli.CommandLine.TypeConversionException(ex.getMessage());
            }
        }
    }
}
