package dev.dmasim.bench.cli;

import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.trace.ReplayReport;
import dev.dmasim.engine.trace.TraceParser;
import dev.dmasim.engine.trace.TraceReplay;
import dev.dmasim.engine.trace.TraceSink;
import dev.dmasim.sim.iommu.InvalidationCost;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code dmasim replay TRACE}: replays an ftrace text trace ({@code dma:*} events, or the older {@code iommu:map} /
 * {@code iommu:unmap}) from a real kernel or from dmasim against any simulated configuration, and reports the IOVA
 * and swiotlb footprint, failures, dma-debug findings and the address agreement with the trace.
 *
 * <p>Exit codes: 0 ok; 1 verification failed ({@code --expect-iovas}: an address differs or none could be compared;
 * {@code --strict}: any finding, dma-debug report, map failure, replay error or malformed line); 2 bad usage or an
 * unreadable file. The machine options are this command's own until the shared {@code MachineOptions} mixin exists.
 */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    description = "Replay a kernel ftrace trace (dma:* or iommu:map/unmap events) on a simulated machine.",
    sortOptions = false)
public final class ReplayCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "TRACE",
        description = "ftrace text: /sys/kernel/tracing/trace, trace-cmd report output, or a dmasim trace")
    Path trace;

    @Option(names = "--iommu", paramLabel = "MODE", defaultValue = "auto",
        description = "none | passthrough | strict | lazy | auto (default: strict for iommu:map traces, else none)")
    String iommu;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "0",
        description = "simulated CPUs (default: the trace's highest CPU + 1); events run on CPU (trace cpu %% N)")
    int cpus;

    @Option(names = "--swiotlb-mb", paramLabel = "MIB", defaultValue = "64",
        description = "swiotlb bounce pool in MiB, 0 disables it (default ${DEFAULT-VALUE})")
    long swiotlbMb;

    @Option(names = "--cost", paramLabel = "COST", defaultValue = "none",
        description = "IOTLB invalidation cost: none | smmuv3 | vtd | <n>ns (default ${DEFAULT-VALUE})")
    String cost;

    @Option(names = "--debug", description = "turn dma-debug on (reports unmatched unmaps, leaks, wrong sizes, ...)")
    boolean debug;

    @Option(names = "--dma-bits", paramLabel = "BITS", defaultValue = "64",
        description = "DMA mask width of the replayed devices (default ${DEFAULT-VALUE})")
    int dmaBits;

    @Option(names = "--json", description = "print the report as JSON")
    boolean json;

    @Option(names = "--expect-iovas", description = "exit 1 unless every mapping got the trace's address")
    boolean expectIovas;

    @Option(names = "--strict", description = "exit 1 on any finding, dma-debug report, failure or malformed line")
    boolean strict;

    @Option(names = "--trace-out", paramLabel = "FILE", description = "write the replay's own trace (ftrace format)")
    Path traceOut;

    @Override
    public Integer call()
    {
        final IommuMode mode = parseMode();
        if (cpus < 0 || cpus > 4096)
        {
            throw usage("--cpus must be 0 (auto) or 1..4096, was " + cpus);
        }
        if (swiotlbMb < 0 || swiotlbMb > (1L << 20))
        {
            throw usage("--swiotlb-mb must be 0..1048576, was " + swiotlbMb);
        }
        if (dmaBits < 12 || dmaBits > 64)
        {
            throw usage("--dma-bits must be 12..64, was " + dmaBits);
        }
        final InvalidationCost invalidationCost;
        try
        {
            invalidationCost = InvalidationCost.parse(cost);
        }
        catch (final IllegalArgumentException ex)
        {
            throw usage("--cost: " + ex.getMessage());
        }
        final PrintWriter out = spec.commandLine().getOut();
        final PrintWriter err = spec.commandLine().getErr();
        final TraceParser.Parsed parsed;
        try
        {
            if (!Files.isRegularFile(trace))
            {
                throw new NoSuchFileException(trace.toString());
            }
            parsed = TraceParser.parse(trace);
        }
        catch (final IOException ex)
        {
            err.println("dmasim replay: cannot read " + trace + ": " + ex);
            return CommandLine.ExitCode.USAGE;
        }
        final ReplayReport report;
        try (TraceSink sink = traceOut == null ? null : TraceSink.toFile(traceOut))
        {
            report = TraceReplay.replay(trace.toString(), parsed, TraceReplay.Options.defaults()
                .iommu(mode)
                .cpus(cpus)
                .swiotlbBytes(swiotlbMb << 20)
                .cost(invalidationCost)
                .debug(debug)
                .dmaBits(dmaBits)
                .traceOut(sink));
        }
        catch (final IOException | java.io.UncheckedIOException ex)
        {
            err.println("dmasim replay: cannot write " + traceOut + ": " + ex);
            return CommandLine.ExitCode.USAGE;
        }
        out.print(json ? report.toJson() + "\n" : report.toText());
        out.flush();
        int rc = CommandLine.ExitCode.OK;
        if (expectIovas && (report.compared() == 0 || report.agreed() != report.compared()))
        {
            err.println("dmasim replay: --expect-iovas: " + (report.compared() - report.agreed()) + " of "
                + report.compared() + " addresses differ from the trace"
                + (report.compared() == 0 ? " (nothing to compare)" : ""));
            rc = 1;
        }
        if (strict)
        {
            final long problems = (long)report.findingCount() + report.debugReportCount() + report.failureCount()
                + report.errorCount() + report.malformedCount();
            if (problems > 0)
            {
                err.println("dmasim replay: --strict: " + report.findingCount() + " findings, "
                    + report.debugReportCount() + " dma-debug reports, " + report.failureCount() + " failures, "
                    + report.errorCount() + " replay errors, " + report.malformedCount() + " malformed lines");
                rc = 1;
            }
        }
        return rc;
    }

    private IommuMode parseMode()
    {
        final String m = iommu.trim().toLowerCase(Locale.ROOT);
        return switch (m)
        {
            case "auto" -> null;
            case "none" -> IommuMode.NONE;
            case "passthrough" -> IommuMode.PASSTHROUGH;
            case "strict" -> IommuMode.STRICT;
            case "lazy" -> IommuMode.LAZY;
            default -> throw usage("--iommu must be none, passthrough, strict, lazy or auto, was '" + iommu + "'");
        };
    }

    private CommandLine.ParameterException usage(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
