package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.BenchRecord;
import dev.dmasim.bench.report.BenchReport;
import dev.dmasim.bench.report.Charts;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.SwiotlbConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;

/**
 * Entry point of the {@code dmasim} command line. With no subcommand it runs the main job: a short map/unmap
 * benchmark matrix on the embedded default machine, printed as a table and written as a report folder.
 */
@Command(name = "dmasim", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
        "dmasim simulates the Linux DMA-mapping layer (dma-direct, swiotlb, dma-iommu with its IOVA allocator and "
            + "flush queue, dma-debug) on simulated hardware.",
        "",
        "With no command it runs the main job: a map/unmap benchmark matrix on the embedded default machine - "
            + "modes none, strict, lazy and swiotlb (every mapping bounced) x threads 1..min(2, CPUs) x granule 1 "
            + "and 16 pages, single mode, BIDIRECTIONAL, 64-bit DMA mask - each cell measured for --seconds after a "
            + "short warm-up (about 40 s in all). It prints a table and writes a report folder (--out): "
            + "results.json, results.csv, PNG plots and index.html.",
        ""},
    footer = {
        "",
        "Examples:",
        "  dmasim                          # the main job, report in dmasim-report/",
        "  dmasim --quick --out /tmp/r     # a tiny matrix in a few seconds",
        "  dmasim map-bench -t 2 -s 5 --iommu strict",
        "  dmasim help map-bench",
        "",
        "Exit status: 0 ok, 1 a run or verification failed, 2 bad usage."},
    subcommands = {
        CommandLine.HelpCommand.class,
        InfoCommand.class,
        MapBenchCommand.class,
        SweepCommand.class,
        StressCommand.class,
        ReplayCommand.class,
        GoalsCommand.class,
        ExampleCommand.class,
    })
public final class Main implements Callable<Integer>
{
    /** The report folder the main job writes by default. */
    public static final String DEFAULT_OUT = "dmasim-report";

    @Spec
    CommandSpec spec;

    @Option(names = "--quick",
        description = {"A tiny matrix for smoke tests: 1 thread, 0.2 s cells (with --seconds unset), "
            + "all four modes and both granules."})
    boolean quick;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = DEFAULT_OUT,
        description = {"Report folder, created if missing; files in it are overwritten (default ${DEFAULT-VALUE})."})
    Path out;

    @Option(names = "--seconds", paramLabel = "SECONDS",
        description = {"Measured seconds per cell, 0.1-300 (default 1.5, or 0.2 with --quick). Each cell is "
            + "preceded by a warm-up of a third of it (at most 0.5 s)."})
    Double seconds;

    @Option(names = "--profile", paramLabel = "PROFILER",
        description = {"Profile the whole job: async (async-profiler flame graph, profile.html) or jfr (profile.jfr "
            + "plus the 10 hottest methods), written into --out."})
    Profiling.Kind profile;

    /** Runs the command line and exits with its status. */
    public static void main(final String[] args)
    {
        Charts.headless();
        System.exit(commandLine().execute(args));
    }

    /** @return the configured {@code dmasim} command line (tests call {@code execute} on it). */
    public static CommandLine commandLine()
    {
        final CliErrors errors = new CliErrors();
        return new CommandLine(new Main())
            .setCaseInsensitiveEnumValuesAllowed(true)
            .setOverwrittenOptionsAllowed(true) // like getopt in the kernel tool: the last -s wins
            .setParameterExceptionHandler(errors)
            .setExecutionExceptionHandler(errors);
    }

    /** @return the command line writing to {@code out} and {@code err} (for tests and embedding). */
    public static CommandLine commandLine(final PrintWriter out, final PrintWriter err)
    {
        return commandLine().setOut(out).setErr(err);
    }

    @Override
    public Integer call() throws Exception
    {
        final double secs = seconds != null ? seconds : quick ? 0.2 : 1.5;
        if (!(secs >= 0.1 && secs <= 300))
        {
            throw new ParameterException(spec.commandLine(), "--seconds must be in 0.1-300, was " + seconds);
        }
        final PrintWriter o = spec.commandLine().getOut();
        final PrintWriter err = spec.commandLine().getErr();
        final int cpus = Math.min(2, Runtime.getRuntime().availableProcessors());
        final List<BenchMode> modes = List.of(BenchMode.NONE, BenchMode.STRICT, BenchMode.LAZY, BenchMode.SWIOTLB);
        final List<Integer> threads = new ArrayList<>();
        for (int t = 1; t <= (quick ? 1 : cpus); t++)
        {
            threads.add(t);
        }
        final List<Integer> granules = List.of(1, 16);
        final List<Matrix.Cell> cells = new ArrayList<>();
        for (final BenchMode m : modes)
        {
            for (final int g : granules)
            {
                for (final int t : threads)
                {
                    cells.add(new Matrix.Cell(m, t, g, DmaDirection.BIDIRECTIONAL, false));
                }
            }
        }
        final double warmup = Math.min(0.5, secs / 3);
        final int dmaBits = 64;
        o.printf(Locale.ROOT, "dmasim main job: map/unmap benchmark on the embedded default machine (%d cpus)%n", cpus);
        o.printf(Locale.ROOT, "  %d cells: modes %s x threads %s x granule %s pages; single, BIDIRECTIONAL, %d-bit mask;"
                + " %.1f s per cell after %.2f s warm-up%n", cells.size(), labels(modes), threads, granules, dmaBits,
            secs, warmup);
        o.flush();

        final BenchReport report = new BenchReport(out);
        final Matrix matrix = new Matrix(mode -> engine(mode, cpus), dmaBits, "none", secs, warmup, err);
        final Profiling profiler = profile == null ? null : Profiling.start(profile, out, "profile", o);
        final List<BenchRecord> rows;
        try
        {
            matrix.warmJit(modes, quick ? 0.05 : 0.5);
            rows = matrix.runAll(cells, r -> { });
        }
        finally
        {
            if (profiler != null)
            {
                profiler.stop(o);
            }
        }
        report.writeCsv(rows);
        final Map<String, Object> meta = meta(cpus, secs, warmup, dmaBits);
        final List<Path> files = report.writeSummary("dmasim main job", meta, rows);
        o.println();
        o.print(BenchReport.table(rows));
        o.println();
        o.printf(Locale.ROOT, "report: %s (%s, %s)%n", out, BenchReport.CSV, names(files));
        o.flush();
        long failed = 0;
        for (final BenchRecord r : rows)
        {
            failed += r.loops() == 0 ? 1 : 0;
        }
        if (failed > 0)
        {
            err.println(spec.qualifiedName() + ": " + failed + " cells completed no map (every map failed)");
            err.flush();
            return CliErrors.FAILED;
        }
        return CliErrors.OK;
    }

    static DmaEngine.Builder engine(final BenchMode mode, final int cpus)
    {
        return DmaEngine.builder().cpus(cpus).iommu(mode.iommu())
            .swiotlb(SwiotlbConfig.defaults().force(mode.forceBounce()));
    }

    static Map<String, Object> meta(final int cpus, final double secs, final double warmup, final int dmaBits)
    {
        final Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("date", ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        meta.put("machine", "embedded default (Machines.defaultX86: 2 GiB + 2 GiB RAM, 16 MiB BAR), " + cpus +
            " simulated cpus, 64 MiB swiotlb, no invalidation cost");
        meta.put("device", MapBenchCommand.DEVICE + ", coherent, " + dmaBits + "-bit DMA mask");
        meta.put("secondsPerCell", secs);
        meta.put("warmupPerCell", warmup);
        meta.put("host", Runtime.getRuntime().availableProcessors() + " processors, " +
            System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        meta.put("jvm", System.getProperty("java.vm.name") + " " + Runtime.version());
        meta.put("dmasim", Version.version());
        return meta;
    }

    private static String labels(final List<BenchMode> modes)
    {
        final List<String> l = new ArrayList<>();
        for (final BenchMode m : modes)
        {
            l.add(m.label());
        }
        return String.join(", ", l);
    }

    static String names(final List<Path> files)
    {
        final List<String> l = new ArrayList<>();
        for (final Path p : files)
        {
            l.add(p.getFileName().toString());
        }
        return String.join(", ", l);
    }

    /** {@code --version}: dmasim's version (from the build) and the JVM's. */
    public static final class Version implements IVersionProvider
    {
        /** @return the version the build stamped into the jar, or "unknown". */
        static String version()
        {
            try (InputStream in = Main.class.getResourceAsStream("version.properties"))
            {
                if (in == null)
                {
                    return "unknown";
                }
                final Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "unknown");
            }
            catch (final IOException ex)
            {
                return "unknown";
            }
        }

        @Override
        public String[] getVersion()
        {
            return new String[] {
                "dmasim " + version(),
                "JVM: " + System.getProperty("java.vm.name") + " " + Runtime.version() + " (" +
                    System.getProperty("java.vm.vendor") + ")"};
        }
    }
}
