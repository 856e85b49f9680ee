package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.BenchRecord;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * A benchmark matrix (the main job and {@code dmasim sweep}): runs {@link MapBench} once per {@link Cell}, each on a
 * freshly built engine so that no cell inherits another's IOVA caches or swiotlb state, and reports progress: a live
 * bar when standard error is a terminal, otherwise one line per finished cell.
 */
final class Matrix
{
    /**
     * One configuration to measure.
     *
     * @param mode    how the device maps
     * @param threads benchmark threads
     * @param granule pages per mapping (sg: entries)
     * @param dir     DMA direction
     * @param sg      scatter-gather mode
     */
    record Cell(BenchMode mode, int threads, int granule, DmaDirection dir, boolean sg)
    {
        String label()
        {
            return String.format(Locale.ROOT, "%s threads=%d granule=%d%s%s", mode.label(), threads, granule,
                dir == DmaDirection.BIDIRECTIONAL ? "" : " " + dir.name(), sg ? " sg" : "");
        }
    }

    /** Called with each finished cell's record (e.g. to append it to the CSV). */
    @FunctionalInterface
    interface CellSink
    {
        void accept(BenchRecord r) throws IOException;
    }

    private final Function<BenchMode, DmaEngine.Builder> engines;
    private final int dmaBits;
    private final String cost;
    private final double seconds;
    private final double warmup;
    private final Progress bar;
    private final PrintWriter err;

    /**
     * @param engines builds the engine of a cell's mode
     * @param dmaBits the device's DMA mask width
     * @param cost    the invalidation cost name (for the records)
     * @param seconds measured seconds per cell
     * @param warmup  warm-up seconds per cell
     * @param err     standard error: progress
     */
    Matrix(final Function<BenchMode, DmaEngine.Builder> engines, final int dmaBits, final String cost,
        final double seconds, final double warmup, final PrintWriter err)
    {
        this.engines = engines;
        this.dmaBits = dmaBits;
        this.cost = cost;
        this.seconds = seconds;
        this.warmup = warmup;
        this.err = err;
        this.bar = new Progress(err, Progress.isTerminal());
    }

    /** Runs each mode once briefly, unrecorded, so the first cells do not pay for JIT compilation. */
    void warmJit(final List<BenchMode> modes, final double secondsPerMode) throws InterruptedException
    {
        for (int i = 0; i < modes.size(); i++)
        {
            final int done = i;
            final String label = "warming up the JIT: " + modes.get(i).label();
            run(new Cell(modes.get(i), 1, 1, DmaDirection.BIDIRECTIONAL, false), secondsPerMode, 0,
                f -> bar.draw((done + f) / modes.size(), label));
        }
        bar.clear();
    }

    /** Runs {@code cells} in order, passing each record to {@code sink} as soon as it is measured. */
    List<BenchRecord> runAll(final List<Cell> cells, final CellSink sink) throws InterruptedException, IOException
    {
        final List<BenchRecord> out = new ArrayList<>();
        final long start = System.nanoTime();
        for (int i = 0; i < cells.size(); i++)
        {
            final Cell c = cells.get(i);
            final int index = i;
            final String label = String.format(Locale.ROOT, "cell %d/%d %s", i + 1, cells.size(), c.label());
            final BenchRecord r = run(c, seconds, warmup, f ->
            {
                final double done = (index + f) / cells.size();
                final double elapsed = (System.nanoTime() - start) / 1e9;
                final long eta = done > 0.01 ? Math.round(elapsed / done - elapsed) : -1;
                bar.draw(done, label + (eta >= 0 ? "  eta " + eta + " s" : ""));
            });
            sink.accept(r);
            out.add(r);
            if (!bar.live())
            {
                err.printf(Locale.ROOT, "[%d/%d] %s: map p50 %d ns, unmap p50 %d ns, %.3f Mops/s%s%n", i + 1,
                    cells.size(), c.label(), r.mapP50Ns(), r.unmapP50Ns(), r.mops(),
                    r.mapErrors() > 0 ? ", " + r.mapErrors() + " map failures" : "");
                err.flush();
            }
        }
        bar.clear();
        return out;
    }

    private BenchRecord run(final Cell c, final double secs, final double warm,
        final MapBench.ProgressListener progress) throws InterruptedException
    {
        try (DmaEngine engine = engines.apply(c.mode()).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci(MapBenchCommand.DEVICE).driver("dma_map_benchmark")
                .dmaBits(dmaBits));
            final MapBench.Params p = new MapBench.Params(c.threads(), secs, warm, c.granule(), c.dir(), c.sg(), 0);
            final MapBenchResult r = MapBench.run(engine, dev, p, progress);
            return r.toRecord(c.mode().label(), dmaBits, engine.cpu().cpus(), cost);
        }
    }
}
