package dev.dmasim.bench.cli;

import dev.dmasim.bench.stress.Injection;
import dev.dmasim.bench.stress.StressConfig;
import dev.dmasim.bench.stress.StressReport;
import dev.dmasim.bench.stress.StressResult;
import dev.dmasim.bench.stress.StressRunner;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.iommu.InvalidationCost;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code dmasim stress}: every DMA-API path from many threads at once, devices moving real bytes, every byte and
 * invariant checked. Exit 0 on PASS, 1 with the first violation's context on FAIL, 2 on bad usage.
 */
@Command(name = "stress", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Hammer every DMA-API call from many threads and verify every byte and invariant.",
        "",
        "Hammers every DMA-API call (map/unmap single, page, sg, sgtable, syncs, coherent and non-coherent",
        "allocations, the 2-step IOVA API, resource mappings) from N threads on three devices (64-bit coherent,",
        "32-bit non-coherent, untrusted) while the devices move real bytes, and verifies every byte and invariant:",
        "no overlapping live DMA ranges, no fault on a live mapping, faults after unmap in STRICT mode, no",
        "dma-debug report, and everything given back at teardown.",
        "Exit status: 0 PASS, 1 a violation (the first is printed with its context), 2 bad usage." })
public final class StressCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Option(names = { "-t", "--threads" }, paramLabel = "N", description = "worker threads (default ${DEFAULT-VALUE})")
    int threads = 2;

    @Option(names = { "-s", "--seconds" }, paramLabel = "S", description = "run time per IOMMU mode (default ${DEFAULT-VALUE})")
    double seconds = 10;

    @Option(names = "--ops", paramLabel = "N", description = "operations per thread per mode instead of a run time")
    long ops;

    @Option(names = "--seed", paramLabel = "SEED", description = "the seed, hex (0x...) or decimal (default: random)")
    String seed;

    @Option(names = "--iommu", paramLabel = "MODE", description = "none, passthrough, strict, lazy or all (default ${DEFAULT-VALUE})")
    String iommu = "all";

    @Option(names = "--cost", paramLabel = "COST",
        description = "IOTLB invalidation cost: none, smmuv3, vtd or <n>ns (default ${DEFAULT-VALUE})")
    String cost = "none";

    @Option(names = "--debug", negatable = true, defaultValue = "true", fallbackValue = "true",
        description = "dma-debug checks (default on; --no-debug to turn off)")
    boolean debug = true;

    @Option(names = "--cpus", paramLabel = "N", description = "simulated CPUs (default: as many as threads)")
    int cpus;

    @Option(names = "--swiotlb-kib", paramLabel = "KIB",
        description = "swiotlb pool, KiB, >= 256 (default ${DEFAULT-VALUE}: small, so that it fills up now and then)")
    long swiotlbKib = 512;

    @Option(names = "--max-live", paramLabel = "N", description = "live mappings per thread at most (default ${DEFAULT-VALUE})")
    int maxLive = 8;

    @Option(names = "--json", description = "print the result as JSON on standard output")
    boolean json;

    @Option(names = "--inject", hidden = true, description = "plant a deliberate bug: ${COMPLETION-CANDIDATES}")
    Injection inject = Injection.NONE;

    @Override
    public Integer call()
    {
        final StressConfig config = config();
        final PrintWriter out = spec.commandLine().getOut();
        final PrintWriter err = spec.commandLine().getErr();
        final String seedLine = StressReport.seedLine(config.seed());
        (json ? err : out).println(seedLine);
        (json ? err : out).flush();
        final StressResult result = new StressRunner(config.toBuilder().progress(line ->
        {
            err.println(line);
            err.flush();
        }).build()).run();
        out.print(json ? StressReport.json(result) + System.lineSeparator() : StressReport.text(result));
        out.flush();
        return result.exitCode();
    }

    /** @return the configuration the options describe. @throws CommandLine.ParameterException on bad values. */
    public StressConfig config()
    {
        final List<IommuMode> modes;
        try
        {
            modes = "all".equals(iommu.toLowerCase(Locale.ROOT)) ? StressConfig.ALL_MODES : List.of(IommuMode.parse(iommu));
        }
        catch (final IllegalArgumentException ex)
        {
            throw usage("--iommu must be none, passthrough, strict, lazy or all, was '" + iommu + "'");
        }
        final InvalidationCost c;
        try
        {
            c = InvalidationCost.parse(cost);
        }
        catch (final IllegalArgumentException ex)
        {
            throw usage("--cost: " + ex.getMessage());
        }
        if (ops < 0)
        {
            throw usage("--ops must be > 0, was " + ops);
        }
        if (ops == 0 && !(seconds > 0))
        {
            throw usage("--seconds must be > 0, was " + seconds);
        }
        try
        {
            return StressConfig.builder()
                .threads(threads)
                .cpus(cpus)
                .millis(Math.max(1, Math.round(seconds * 1000)))
                .opsPerThread(ops)
                .seed(seed == null ? new SplittableRandom().nextLong() : parseSeed(seed))
                .modes(modes)
                .cost(c)
                .debug(debug)
                .swiotlbBytes(swiotlbKib << 10)
                .maxLive(maxLive)
                .injection(inject)
                .build();
        }
        catch (final IllegalArgumentException ex)
        {
            throw usage(ex.getMessage());
        }
    }

    private long parseSeed(final String text)
    {
        final String t = text.trim().toLowerCase(Locale.ROOT);
        try
        {
            return t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseLong(t);
        }
        catch (final NumberFormatException ex)
        {
            throw usage("--seed must be hex (0x...) or decimal, was '" + text + "'");
        }
    }

    private CommandLine.ParameterException usage(final String message)
    {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
