package dev.dmasim.bench.stress;

import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.EngineStats;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.Machines;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.iommu.IommuStats;

import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One IOMMU mode of a stress run: a fresh engine on the default machine with three devices (64-bit coherent,
 * 32-bit non-coherent, untrusted), the worker threads, a progress monitor, and the teardown checks that only
 * hold once every thread has released everything: no IOVA, swiotlb slot, flush-queue entry, dma-debug entry,
 * I/O page-table page or page frame left over, and every IOMMU fault explained by a deliberate probe.
 */
final class ModeRun
{
    final StressConfig config;
    final IommuMode mode;
    final DmaEngine engine;
    final DevSlot[] devs;
    private final int modeIndex;
    private final long startFreePages;
    private volatile boolean stop;
    private final AtomicReference<StressViolation> first = new AtomicReference<>();

    ModeRun(final StressConfig config, final IommuMode mode, final int modeIndex)
    {
        this.config = config;
        this.mode = mode;
        this.modeIndex = modeIndex;
        this.engine = DmaEngine.builder()
            .cpus(config.cpus())
            .iommu(mode)
            .iommuConfig(IommuConfig.defaults().withInvalidationCost(config.cost()))
            .swiotlb(SwiotlbConfig.defaults().size(config.swiotlbBytes()))
            .debug(config.debug())
            .logCapacity(4096)
            .build();
        this.startFreePages = engine.pages().freePageCount();
        this.devs = new DevSlot[] {
            new DevSlot(engine.attach(DeviceConfig.pci("0000:03:00.0").driver("stress-nic").dmaBits(64)),
                "64-bit coherent"),
            new DevSlot(engine.attach(DeviceConfig.pci("0000:05:00.0").driver("stress-legacy").dmaBits(32)
                .coherent(false)), "32-bit non-coherent"),
            // An external NVMe-like device: untrusted, with NVMe's min_align_mask. Without it a bounced, unaligned
            // first dma_iova_link fails with -EINVAL in the kernel as here (the bounce loses the in-granule offset).
            new DevSlot(engine.attach(DeviceConfig.pci("0000:06:00.0").driver("stress-tbt").dmaBits(64)
                .untrusted(true).minAlignMask(0xFFF)), "untrusted, min_align_mask 0xfff"),
        };
    }

    boolean stopped()
    {
        return stop;
    }

    boolean failed()
    {
        return first.get() != null;
    }

    /** Records the first violation and stops every thread. */
    void fail(final StressViolation v)
    {
        first.compareAndSet(null, v);
        stop = true;
    }

    /** Runs the threads to the end, then tears down and checks. Closes the engine. */
    ModeResult run()
    {
        try (engine)
        {
            return runAndCheck();
        }
    }

    private ModeResult runAndCheck()
    {
        final int n = config.threads();
        final Worker[] workers = new Worker[n];
        final Thread[] threads = new Thread[n];
        final long slice = Worker.barSliceBytes(n);
        for (int t = 0; t < n; t++)
        {
            final long seed = Pattern.mix(config.seed() + 0x9E3779B97F4A7C15L * (modeIndex * 1024L + t + 1));
            workers[t] = new Worker(this, t, seed, Machines.DEFAULT_BAR_BASE + t * slice, slice);
            threads[t] = new Thread(workers[t], "dmasim-stress-" + t);
        }
        final long start = System.nanoTime();
        final long deadline = config.opsPerThread() > 0 ? Long.MAX_VALUE : start + config.millis() * 1_000_000L;
        for (final Thread t : threads)
        {
            t.start();
        }
        long nextProgress = start + config.progressMillis() * 1_000_000L;
        for (final Thread t : threads)
        {
            while (t.isAlive())
            {
                final long now = System.nanoTime();
                if (now >= deadline)
                {
                    stop = true;
                }
                if (now >= nextProgress)
                {
                    progress(workers, now - start);
                    nextProgress += config.progressMillis() * 1_000_000L;
                }
                final long waitNanos = Math.max(1_000_000L, Math.min(nextProgress, deadline) - now);
                try
                {
                    t.join(Math.max(1, waitNanos / 1_000_000L));
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    fail(new StressViolation("interrupted", "  the stress run was interrupted\n"));
                }
            }
        }
        final long nanos = System.nanoTime() - start;
        EngineStats stats = engine.stats();
        if (!failed())
        {
            stats = teardown(workers);
        }
        return result(workers, nanos, stats);
    }

    private void progress(final Worker[] workers, final long nanos)
    {
        if (config.progress() == null)
        {
            return;
        }
        long ops = 0;
        long calls = 0;
        long errors = 0;
        for (final Worker w : workers)
        {
            ops += w.operations;
            // Benign race: plain counters of running threads, read for progress only.
            for (final long c : w.calls)
            {
                calls += c;
            }
            for (final long e : w.mapErrors)
            {
                errors += e;
            }
        }
        int live = 0;
        for (final DevSlot d : devs)
        {
            live += d.ranges.size();
        }
        final double s = nanos / 1e9;
        config.progress().accept(String.format(Locale.ROOT, "stress: %-11s %6.1f s  ops %9d  calls %10d (%.0f/s)  live ranges %4d" +
            "  map errors %5d  %s", mode.name().toLowerCase(Locale.ROOT), s, ops, calls, calls / s, live, errors,
            failed() ? "FAILING" : "ok"));
    }

    /** Every thread released what it held: flush, check levels, detach, check what detaching gives back. */
    private EngineStats teardown(final Worker[] workers)
    {
        engine.flushQueues();
        engine.flushIovaCaches();
        final EngineStats s = engine.stats();
        final StringBuilder bad = new StringBuilder();
        if (s.liveIovaRanges() != 0)
        {
            bad.append("  IOVA ranges still allocated after every unmap, flush-queue drain and cache flush: ")
                .append(s.liveIovaRanges()).append('\n');
        }
        if (s.swiotlbSlotsUsed() != 0)
        {
            bad.append("  swiotlb slots still used: ").append(s.swiotlbSlotsUsed()).append('\n');
        }
        if (s.pendingFlushes() != 0)
        {
            bad.append("  IOVAs still in flush queues after flushQueues(): ").append(s.pendingFlushes()).append('\n');
        }
        for (final DevSlot d : devs)
        {
            if (d.ranges.size() != 0)
            {
                bad.append("  ").append(d.dev.name()).append(": ").append(d.ranges.size())
                    .append(" ranges left in the stress registry\n");
            }
            if (config.debug() && engine.debug().liveEntries(d.dev) != 0)
            {
                bad.append("  ").append(d.dev.name()).append(": dma-debug still tracks ")
                    .append(engine.debug().liveEntries(d.dev)).append(" mappings\n");
            }
        }
        long probeFaults = 0;
        long swiotlbFull = 0;
        for (final Worker w : workers)
        {
            probeFaults += w.probeFaults;
            swiotlbFull += w.mapErrors[MapErrorCause.SWIOTLB_FULL.ordinal()];
        }
        if (s.faults() != probeFaults)
        {
            bad.append("  the IOMMU recorded ").append(s.faults()).append(" faults, the deliberate post-unmap probes ")
                .append("account for ").append(probeFaults).append('\n');
        }
        if (swiotlbFull > s.swiotlbFailures())
        {
            bad.append("  ").append(swiotlbFull).append(" mapping errors blamed on a full swiotlb, which refused only ")
                .append(s.swiotlbFailures()).append('\n');
        }
        for (final DevSlot d : devs)
        {
            engine.detach(d.dev);
        }
        if (config.debug() && !engine.debug().reports().isEmpty())
        {
            final List<DebugReport> reports = engine.debug().reports();
            bad.append("  dma-debug reported ").append(reports.size()).append(" problem(s); the first:\n  ")
                .append(reports.getFirst().toString().replace("\n", "\n  ")).append('\n');
        }
        final IommuStats hw = engine.iommu().stats();
        if (hw.tablePages() != 0)
        {
            bad.append("  I/O page-table pages still held after every device detached: ").append(hw.tablePages())
                .append('\n');
        }
        final long free = engine.pages().freePageCount();
        if (free != startFreePages)
        {
            bad.append("  page frames: ").append(free).append(" free after teardown, ").append(startFreePages)
                .append(" before the devices attached (").append(startFreePages - free).append(" leaked)\n");
        }
        for (final String line : engine.log().lines())
        {
            if (!line.contains("swiotlb buffer is full") && !line.contains(": Using "))
            {
                bad.append("  unexpected kernel log line: ").append(line).append('\n');
            }
        }
        if (!bad.isEmpty())
        {
            fail(new StressViolation("teardown: the engine did not give everything back", bad + statsLines(s)));
        }
        return s;
    }

    private ModeResult result(final Worker[] workers, final long nanos, final EngineStats stats)
    {
        final Map<OpKind, Long> calls = new EnumMap<>(OpKind.class);
        for (final OpKind k : OpKind.values())
        {
            long c = 0;
            for (final Worker w : workers)
            {
                c += w.calls[k.ordinal()];
            }
            calls.put(k, c);
        }
        final Map<MapErrorCause, Long> errors = new EnumMap<>(MapErrorCause.class);
        for (final MapErrorCause k : MapErrorCause.values())
        {
            long c = 0;
            for (final Worker w : workers)
            {
                c += w.mapErrors[k.ordinal()];
            }
            errors.put(k, c);
        }
        long ops = 0;
        long bytes = 0;
        long probes = 0;
        long skipped = 0;
        long stale = 0;
        for (final Worker w : workers)
        {
            ops += w.operations;
            bytes += w.bytesVerified;
            probes += w.strictProbes;
            skipped += w.probesSkipped;
            stale += w.lazyStaleProbes;
        }
        return new ModeResult(mode, ops, calls, bytes, errors, probes, skipped, stale, nanos, stats, first.get());
    }

    /** @return the engine's counters as indented {@code name=value} lines. */
    static String statsLines(final EngineStats s)
    {
        final StringBuilder sb = new StringBuilder("  engine  ");
        int col = 10;
        for (final Map.Entry<String, Long> e : s.toMap().entrySet())
        {
            final String item = e.getKey() + "=" + e.getValue() + " ";
            if (col + item.length() > 118)
            {
                sb.append("\n          ");
                col = 10;
            }
            sb.append(item);
            col += item.length();
        }
        return sb.toString().stripTrailing() + "\n";
    }
}
