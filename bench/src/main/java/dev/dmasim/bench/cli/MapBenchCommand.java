package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.Json;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.EngineStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code dmasim map-bench}: the kernel's {@code tools/testing/selftests/dma/dma_map_benchmark.c} with the same
 * options, defaults, range checks and messages, and the same three result lines, run by {@link MapBench} on the
 * simulated machine; then the figures the 0.1 µs resolution of those lines cannot show.
 */
@Command(name = "map-bench", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {
        "Measure map/unmap latency like the kernel's dma_map_benchmark.",
        "",
        "Measures map/unmap latency like the kernel's dma_map_benchmark (tools/testing/selftests/dma): each thread "
            + "maps and unmaps its own buffer in a loop for the given seconds, timing each call.",
        "",
        "Prints the kernel tool's three lines (latencies in µs with one decimal, from integer 100 ns units, so "
            + "scripts that parse them keep working), then the same in ns with percentiles (HdrHistogram), "
            + "throughput, map failures and engine counters. --json prints one JSON object instead.",
        ""},
    footer = {
        "",
        "The kernel tool's defaults apply: 1 thread, 20 s, node -1, 32-bit DMA mask, BIDIRECTIONAL, granule 1, "
            + "single mode. With --iommu none and -b 32, buffers above 4 GiB bounce through swiotlb, as on a real "
            + "machine; use -b 64 to measure dma-direct alone.",
        "",
        "Examples:",
        "  dmasim map-bench -t 2 -s 5 --iommu strict             # 2 threads, 5 s, IOMMU strict mode",
        "  dmasim map-bench -s 3 -g 16 -m sg -d 1 --iommu lazy   # 16-entry scatterlists, TO_DEVICE",
        "  dmasim map-bench -s 2 -b 64 --json > result.json      # machine-readable",
        "",
        "Exit status: 0 ok, 1 every map failed (or the run failed), 2 bad usage."})
public final class MapBenchCommand implements Callable<Integer>
{
    /** The kernel's {@code DMA_MAP_MAX_THREADS}. */
    public static final int MAX_THREADS = 1024;
    /** The kernel's {@code DMA_MAP_MAX_SECONDS}. */
    public static final int MAX_SECONDS = 300;
    /** The kernel's {@code DMA_MAP_MAX_TRANS_DELAY}: 10 ms in ns. */
    public static final long MAX_TRANS_DELAY = 10L * 1_000_000L;
    /** Name of the benchmark device. */
    public static final String DEVICE = "0000:03:00.0";

    private static final String[] DIRECTIONS = {"BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE"};

    @Spec
    CommandSpec spec;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", defaultValue = "1",
        description = {"Threads mapping in parallel, 1-1024 (default ${DEFAULT-VALUE}). Thread i runs on simulated "
            + "CPU i mod --cpus."})
    int threads;

    @Option(names = {"-s", "--seconds"}, paramLabel = "SECONDS", defaultValue = "20",
        description = {"How long to measure, whole seconds, 1-300 (default ${DEFAULT-VALUE}, the kernel tool's)."})
    int seconds;

    @Option(names = {"-n", "--node"}, paramLabel = "NODE", defaultValue = "-1",
        description = {"NUMA node to run on: the simulated machine has no NUMA topology, so only -1 "
            + "(NUMA_NO_NODE, default) is accepted."})
    int node;

    @Option(names = {"-d", "--dir"}, paramLabel = "DIR", defaultValue = "0",
        description = {"DMA direction: 0 BIDIRECTIONAL (default), 1 TO_DEVICE, 2 FROM_DEVICE. The buffer is filled "
            + "with 0x66 before each map unless FROM_DEVICE."})
    int dir;

    @Option(names = {"-g", "--granule"}, paramLabel = "PAGES", defaultValue = "1",
        description = {"4 KiB pages per mapping, 1-1024 (default ${DEFAULT-VALUE}); in sg mode the number of "
            + "one-page scatterlist entries (physically scattered pages)."})
    int granule;

    @Option(names = {"-m", "--map-mode"}, paramLabel = "MODE", defaultValue = "single",
        description = {"single (or 0, default): dma_map_single; sg (or 1): dma_map_sg of a scatterlist."})
    String mapMode;

    @Option(names = {"-b", "--dma-bits"}, paramLabel = "BITS", defaultValue = "32",
        description = {"The device's DMA mask width, 20-64 bits (default ${DEFAULT-VALUE}, the kernel tool's)."})
    int bits;

    @Option(names = {"-x", "--delay"}, paramLabel = "NS", defaultValue = "0",
        description = {"Transfer delay: busy-wait between map and unmap, 0-10000000 ns (10 ms; default "
            + "${DEFAULT-VALUE}), to approximate traffic and lower lock contention."})
    int xdelay;

    @Mixin
    MachineOptions machine;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "1",
        description = {"Unmeasured warm-up before the run so the JIT has compiled the paths, seconds, 0-60 "
            + "(default ${DEFAULT-VALUE}; the kernel has none: 0 to match it)."})
    double warmup;

    @Option(names = "--json",
        description = {"Print one JSON object (configuration, kernel figures, ns percentiles, throughput, per-thread "
            + "counts and every engine counter) instead of the text lines."})
    boolean json;

    @Option(names = "--profile", paramLabel = "PROFILER",
        description = {"Profile the run: async (async-profiler flame graph, profile-map-bench.html) or jfr (JDK "
            + "Flight Recorder, profile-map-bench.jfr, plus the 10 hottest methods). Written into --out."})
    Profiling.Kind profile;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "dmasim-report",
        description = {"Folder for --profile output (default ${DEFAULT-VALUE})."})
    Path out;

    @Override
    public Integer call() throws Exception
    {
        validate();
        final PrintWriter stdout = spec.commandLine().getOut();
        final PrintWriter err = spec.commandLine().getErr();
        final boolean sg = sgMode();
        final DmaDirection direction = DmaDirection.of(dir);
        final MapBench.Params params = new MapBench.Params(threads, seconds, warmup, granule, direction, sg, xdelay);
        try (DmaEngine engine = machine.build())
        {
            final Device dev = engine.attach(DeviceConfig.pci(DEVICE).driver("dma_map_benchmark").dmaBits(bits));
            final Progress bar = new Progress(err, !json && seconds + warmup >= 3 && Progress.isTerminal());
            final Profiling profiler = profile == null ? null :
                Profiling.start(profile, out, "profile-map-bench", json ? err : stdout);
            final MapBenchResult r;
            try
            {
                r = MapBench.run(engine, dev, params, f -> bar.draw(f, String.format(Locale.ROOT,
                    "%s, %d thread%s, granule %d", machine.mode().label(), threads, threads == 1 ? "" : "s",
                    granule)));
            }
            finally
            {
                bar.clear();
                if (profiler != null)
                {
                    profiler.stop(json ? err : stdout);
                }
            }
            final EngineStats stats = engine.stats();
            if (r.loops() == 0 && r.mapErrors() > 0)
            {
                err.println(spec.qualifiedName() + ": every map failed (" + r.mapErrors() + " failures): " +
                    (sg ? "dma_map_sg" : "dma_map_single") + " failed on " + DEVICE + lastLog(engine));
                err.flush();
                return CliErrors.FAILED;
            }
            if (json)
            {
                stdout.print(Json.writePretty(toJson(r, stats)));
            }
            else
            {
                printText(stdout, r, stats, sg);
            }
            stdout.flush();
            if (r.mapErrors() > 0)
            {
                err.println(spec.qualifiedName() + ": " + r.mapErrors() + " maps failed" + lastLog(engine));
                err.flush();
            }
            return CliErrors.OK;
        }
    }

    private static String lastLog(final DmaEngine engine)
    {
        final List<String> lines = engine.log().lines();
        return lines.isEmpty() ? "" : " (kernel log: " + lines.getLast().strip() + ")";
    }

    /** The kernel tool's checks, in its order, with its messages; then the driver's node check. */
    private void validate()
    {
        if (parseMapMode(mapMode) < 0)
        {
            throw usage("invalid map mode, DMA_MAP_BENCH_SINGLE_MODE:0, DMA_MAP_BENCH_SG_MODE:1");
        }
        if (threads <= 0 || threads > MAX_THREADS)
        {
            throw usage("invalid number of threads, must be in 1-" + MAX_THREADS);
        }
        if (seconds <= 0 || seconds > MAX_SECONDS)
        {
            throw usage("invalid number of seconds, must be in 1-" + MAX_SECONDS);
        }
        if (xdelay < 0 || xdelay > MAX_TRANS_DELAY)
        {
            throw usage("invalid transmit delay, must be in 0-" + MAX_TRANS_DELAY);
        }
        if (bits < 20 || bits > 64)
        {
            throw usage("invalid dma mask bit, must be in 20-64");
        }
        if (dir < 0 || dir > 2)
        {
            throw usage("invalid dma direction");
        }
        if (granule < 1 || granule > 1024)
        {
            throw usage("invalid granule size");
        }
        if (node != -1)
        {
            throw usage("invalid numa node");
        }
        if (!(warmup >= 0 && warmup <= 60))
        {
            throw usage("--warmup must be in 0-60 seconds, was " + warmup);
        }
    }

    private ParameterException usage(final String message)
    {
        return new ParameterException(spec.commandLine(), message);
    }

    /** @return 0 single, 1 sg, -1 unknown. */
    static int parseMapMode(final String s)
    {
        return switch (s.trim().toLowerCase(Locale.ROOT))
        {
            case "0", "single" -> 0;
            case "1", "sg" -> 1;
            default -> -1;
        };
    }

    private boolean sgMode()
    {
        return parseMapMode(mapMode) == 1;
    }

    private void printText(final PrintWriter o, final MapBenchResult r, final EngineStats stats, final boolean sg)
    {
        final long loops = r.loops();
        final MapBenchResult.Sums m = r.mapSums();
        final MapBenchResult.Sums u = r.unmapSums();
        // The kernel tool's lines (single mode: mainline text; sg mode: the text of the tool's sg-mode patch).
        if (sg)
        {
            o.printf(Locale.ROOT, "dma mapping mode: %d%n", 1);
            o.printf(Locale.ROOT, "dma mapping benchmark: threads:%d seconds:%d node:%d dir:%s granule/sg_nents: %d%n",
                threads, seconds, node, DIRECTIONS[dir], granule);
        }
        else
        {
            o.printf(Locale.ROOT, "dma mapping benchmark: threads:%d seconds:%d node:%d dir:%s granule: %d%n",
                threads, seconds, node, DIRECTIONS[dir], granule);
        }
        o.printf(Locale.ROOT, "average map latency(us):%.1f standard deviation:%.1f%n",
            MapBenchResult.kernelAvg100ns(m, loops) / 10.0, MapBenchResult.kernelStddev100ns(m, loops) / 10.0);
        o.printf(Locale.ROOT, "average unmap latency(us):%.1f standard deviation:%.1f%n",
            MapBenchResult.kernelAvg100ns(u, loops) / 10.0, MapBenchResult.kernelStddev100ns(u, loops) / 10.0);
        // dmasim's figures.
        latencyLine(o, "map", r.map(), m, loops);
        latencyLine(o, "unmap", r.unmap(), u, loops);
        final long[] per = r.perThread();
        long min = Long.MAX_VALUE;
        long max = 0;
        for (final long p : per)
        {
            min = Math.min(min, p);
            max = Math.max(max, p);
        }
        o.printf(Locale.ROOT, "throughput: %,.0f map+unmap/s total, %,.0f per thread (min %,.0f, max %,.0f); "
                + "%,d pairs in %.3f s%n", r.opsPerSec(), r.opsPerSec() / per.length, min / r.seconds(),
            max / r.seconds(), loops, r.seconds());
        o.printf(Locale.ROOT, "map failures: %d%n", r.mapErrors());
        o.printf(Locale.ROOT, "engine: mode %s, %d cpus, cost %s; bounces %d, IOTLB invalidations %d, lazy flushes %d, "
                + "IOVA cache hits %d, misses %d%n", machine.mode().label(), machine.hardware().cpus(),
            machine.hardware().cost().name(), stats.bounces(), stats.iotlbInvalidations(), stats.lazyFlushes(),
            stats.rcacheHits(), stats.rcacheMisses());
    }

    private static void latencyLine(final PrintWriter o, final String op, final org.HdrHistogram.Histogram h,
        final MapBenchResult.Sums s, final long loops)
    {
        o.printf(Locale.ROOT, "%-5s latency(ns): mean %.1f stddev %.1f p50 %d p90 %d p99 %d p99.9 %d max %d%n", op,
            MapBenchResult.meanNs(s, loops), MapBenchResult.stddevNs(s, loops), MapBenchResult.pct(h, 50),
            MapBenchResult.pct(h, 90), MapBenchResult.pct(h, 99), MapBenchResult.pct(h, 99.9),
            h.getTotalCount() > 0 ? h.getMaxValue() : 0);
    }

    private Map<String, Object> toJson(final MapBenchResult r, final EngineStats stats)
    {
        final Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("threads", threads);
        cfg.put("seconds", seconds);
        cfg.put("node", node);
        cfg.put("dir", DIRECTIONS[dir]);
        cfg.put("granule", granule);
        cfg.put("mapMode", sgMode() ? "sg" : "single");
        cfg.put("dmaBits", bits);
        cfg.put("transNs", xdelay);
        cfg.put("warmupSeconds", warmup);
        cfg.put("mode", machine.mode().label());
        cfg.put("iommu", machine.iommu().name().toLowerCase(Locale.ROOT));
        cfg.put("cpus", machine.hardware().cpus());
        cfg.put("cost", machine.hardware().cost().name());
        cfg.put("costNs", machine.hardware().cost().nanos());
        cfg.put("debug", machine.hardware().debug());
        final Map<String, Object> kernel = new LinkedHashMap<>();
        kernel.put("avg_map_100ns", MapBenchResult.kernelAvg100ns(r.mapSums(), r.loops()));
        kernel.put("map_stddev", MapBenchResult.kernelStddev100ns(r.mapSums(), r.loops()));
        kernel.put("avg_unmap_100ns", MapBenchResult.kernelAvg100ns(r.unmapSums(), r.loops()));
        kernel.put("unmap_stddev", MapBenchResult.kernelStddev100ns(r.unmapSums(), r.loops()));
        final Map<String, Object> thr = new LinkedHashMap<>();
        thr.put("loops", r.loops());
        thr.put("seconds", r.seconds());
        thr.put("opsPerSec", r.opsPerSec());
        thr.put("opsPerSecPerThread", r.opsPerSec() / r.perThread().length);
        thr.put("perThreadLoops", r.perThread());
        final Map<String, Object> root = new LinkedHashMap<>();
        root.put("benchmark", "dma_map_benchmark");
        root.put("config", cfg);
        root.put("kernel", kernel);
        root.put("map", MapBenchResult.latency(r.map(), r.mapSums(), r.loops()));
        root.put("unmap", MapBenchResult.latency(r.unmap(), r.unmapSums(), r.loops()));
        root.put("throughput", thr);
        root.put("mapErrors", r.mapErrors());
        root.put("engine", stats.toMap());
        return root;
    }
}
