package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.BenchRecord;
import dev.dmasim.bench.report.BenchReport;
import dev.dmasim.engine.DmaDirection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code dmasim sweep}: a user-given benchmark matrix with the main job's report. Resumable: each finished cell is
 * appended to {@code results.csv} at once, and a re-run with the same {@code --out} skips the cells already there.
 */
@Command(name = "sweep", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {
        "Run a benchmark matrix and write a report (resumable).",
        "",
        "Runs a map/unmap benchmark matrix - every combination of --modes x --threads x --granules x --dirs x "
            + "--map-mode - one fresh engine per cell, and writes results.csv, results.json, PNG plots and "
            + "index.html into --out.",
        "",
        "Resumable: each cell is appended to results.csv as soon as it finishes; running the same command again "
            + "with the same --out skips the cells already in it (same mode, threads, granule, direction, map mode, "
            + "DMA bits, cpus and cost) and rebuilds the summary from all rows.",
        ""},
    footer = {
        "",
        "Examples:",
        "  dmasim sweep --modes strict,lazy --threads 1,2 --granules 1,4,16,64 --out sweep-iommu",
        "  dmasim sweep --modes none,swiotlb --dirs 1,2 --map-mode single,sg --seconds 0.5",
        "",
        "Exit status: 0 ok, 1 a cell completed no map, 2 bad usage."})
public final class SweepCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Option(names = "--modes", paramLabel = "MODE", split = ",", defaultValue = "none,strict,lazy,swiotlb",
        description = {"Comma-separated: none, passthrough, strict, lazy, swiotlb (dma-direct with every mapping "
            + "bounced). Default ${DEFAULT-VALUE}."})
    List<String> modes;

    @Option(names = "--threads", paramLabel = "N", split = ",", defaultValue = "1",
        description = {"Comma-separated thread counts, each 1-1024 (default ${DEFAULT-VALUE})."})
    List<Integer> threads;

    @Option(names = "--granules", paramLabel = "PAGES", split = ",", defaultValue = "1",
        description = {"Comma-separated pages per mapping, each 1-1024 (default ${DEFAULT-VALUE})."})
    List<Integer> granules;

    @Option(names = "--dirs", paramLabel = "DIR", split = ",", defaultValue = "0",
        description = {"Comma-separated directions: 0 BIDIRECTIONAL, 1 TO_DEVICE, 2 FROM_DEVICE (names accepted "
            + "too). Default ${DEFAULT-VALUE}."})
    List<String> dirs;

    @Option(names = "--map-mode", paramLabel = "MODE", split = ",", defaultValue = "single",
        description = {"Comma-separated: single (dma_map_single) and/or sg (dma_map_sg, granule one-page "
            + "entries). Default ${DEFAULT-VALUE}."})
    List<String> mapModes;

    @Option(names = "--seconds", paramLabel = "SECONDS", defaultValue = "1",
        description = {"Measured seconds per cell, 0.1-300 (default ${DEFAULT-VALUE})."})
    double seconds;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "0.3",
        description = {"Unmeasured warm-up per cell, 0-60 s (default ${DEFAULT-VALUE})."})
    double warmup;

    @Option(names = {"-b", "--dma-bits"}, paramLabel = "BITS", defaultValue = "64",
        description = {"The device's DMA mask width, 20-64 (default ${DEFAULT-VALUE}: no bouncing unless forced)."})
    int bits;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "dmasim-sweep",
        description = {"Report folder (default ${DEFAULT-VALUE}). An existing results.csv in it is resumed."})
    Path out;

    @Mixin
    HardwareOptions hardware;

    @Override
    public Integer call() throws Exception
    {
        final List<Matrix.Cell> cells = cells();
        if (!(seconds >= 0.1 && seconds <= 300))
        {
            throw usage("--seconds must be in 0.1-300, was " + seconds);
        }
        if (!(warmup >= 0 && warmup <= 60))
        {
            throw usage("--warmup must be in 0-60, was " + warmup);
        }
        if (bits < 20 || bits > 64)
        {
            throw usage("invalid dma mask bit, must be in 20-64");
        }
        final PrintWriter o = spec.commandLine().getOut();
        final PrintWriter err = spec.commandLine().getErr();
        final BenchReport report = new BenchReport(out);
        final List<BenchRecord> previous;
        try
        {
            previous = report.readCsv();
        }
        catch (final IllegalArgumentException ex)
        {
            throw usage(ex.getMessage() + "; use another --out");
        }
        final Set<String> done = new HashSet<>();
        for (final BenchRecord r : previous)
        {
            done.add(r.key());
        }
        final String cost = hardware.cost().name();
        final List<Matrix.Cell> todo = new ArrayList<>();
        int skipped = 0;
        for (final Matrix.Cell c : cells)
        {
            if (done.contains(key(c, cost)))
            {
                skipped++;
            }
            else
            {
                todo.add(c);
            }
        }
        o.printf(Locale.ROOT, "dmasim sweep: %d cells (%d to run), %.2f s each after %.2f s warm-up, into %s%n",
            cells.size(), todo.size(), seconds, warmup, out);
        if (skipped > 0)
        {
            o.printf(Locale.ROOT, "skipping %d finished cells%n", skipped);
        }
        o.flush();
        // Validate the hardware options before any cell runs (a bad --cpus is a usage error, not a failed cell).
        for (final Matrix.Cell c : todo)
        {
            hardware.builder(c.mode());
        }
        final Matrix matrix = new Matrix(hardware::builder, bits, cost, seconds, warmup, err);
        final List<BenchRecord> fresh = matrix.runAll(todo, report::append);
        final List<BenchRecord> all = new ArrayList<>(previous);
        all.addAll(fresh);
        final Map<String, Object> meta = Main.meta(hardware.cpus(), seconds, warmup, bits);
        meta.put("machine", "embedded default (Machines.defaultX86), " + hardware.cpus() + " simulated cpus, cost " +
            cost + (hardware.debug() ? ", dma-debug on" : ""));
        final List<Path> files = report.writeSummary("dmasim sweep", meta, all);
        o.println();
        o.print(BenchReport.table(all));
        o.println();
        o.printf(Locale.ROOT, "report: %s (%s, %s)%n", out, BenchReport.CSV, Main.names(files));
        o.flush();
        for (final BenchRecord r : fresh)
        {
            if (r.loops() == 0)
            {
                err.println(spec.qualifiedName() + ": every map failed in " + r.key());
                err.flush();
                return CliErrors.FAILED;
            }
        }
        return CliErrors.OK;
    }

    private String key(final Matrix.Cell c, final String cost)
    {
        return BenchRecord.key(c.mode().label(), c.threads(), c.granule(), c.dir().name(), c.sg() ? "sg" : "single",
            bits, 0, hardware.cpus(), cost);
    }

    private List<Matrix.Cell> cells()
    {
        final Set<BenchMode> ms = new LinkedHashSet<>();
        for (final String m : modes)
        {
            try
            {
                ms.add(BenchMode.parse(m));
            }
            catch (final IllegalArgumentException ex)
            {
                throw usage(ex.getMessage());
            }
        }
        for (final int t : threads)
        {
            if (t < 1 || t > MapBenchCommand.MAX_THREADS)
            {
                throw usage("invalid number of threads, must be in 1-" + MapBenchCommand.MAX_THREADS + ": " + t);
            }
        }
        for (final int g : granules)
        {
            if (g < 1 || g > 1024)
            {
                throw usage("invalid granule size: " + g + " (1-1024)");
            }
        }
        final Set<DmaDirection> ds = new LinkedHashSet<>();
        for (final String d : dirs)
        {
            ds.add(parseDir(d));
        }
        final Set<Boolean> sgs = new LinkedHashSet<>();
        for (final String m : mapModes)
        {
            final int v = MapBenchCommand.parseMapMode(m);
            if (v < 0)
            {
                throw usage("invalid map mode '" + m + "': expected single or sg");
            }
            sgs.add(v == 1);
        }
        final List<Matrix.Cell> cells = new ArrayList<>();
        for (final BenchMode m : ms)
        {
            for (final boolean sg : sgs)
            {
                for (final DmaDirection d : ds)
                {
                    for (final int g : new LinkedHashSet<>(granules))
                    {
                        for (final int t : new LinkedHashSet<>(threads))
                        {
                            cells.add(new Matrix.Cell(m, t, g, d, sg));
                        }
                    }
                }
            }
        }
        return cells;
    }

    private DmaDirection parseDir(final String s)
    {
        final String t = s.trim().toUpperCase(Locale.ROOT);
        return switch (t)
        {
            case "0", "BIDIRECTIONAL", "BIDIR" -> DmaDirection.BIDIRECTIONAL;
            case "1", "TO_DEVICE" -> DmaDirection.TO_DEVICE;
            case "2", "FROM_DEVICE" -> DmaDirection.FROM_DEVICE;
            default -> throw usage("invalid dma direction '" + s + "': expected 0, 1, 2 or a name");
        };
    }

    private ParameterException usage(final String message)
    {
        return new ParameterException(spec.commandLine(), message);
    }
}
