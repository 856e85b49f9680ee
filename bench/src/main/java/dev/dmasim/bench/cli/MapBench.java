package dev.dmasim.bench.cli;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;
import org.HdrHistogram.Histogram;

import java.lang.foreign.MemorySegment;

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The kernel's {@code dma_map_benchmark} ({@code kernel/dma/map_benchmark.c}) on a {@link DmaEngine}: {@code threads}
 * threads, each bound to a simulated CPU with its own buffer of {@code granule} pages (in sg mode {@code granule}
 * scattered one-page entries), loop until stopped: fill the buffer with 0x66 unless the direction is FROM_DEVICE,
 * time the map (including the mapping-error check, as the kernel does), busy-wait the transfer delay, time the unmap.
 * The fill goes through a CPU view of the buffer taken once ({@link PhysicalMemory#ramSlice}, like the kernel's
 * memset through the buffer's kernel address), falling back to {@link PhysicalMemory#fill} when there is none, so
 * that the loop allocates nothing.
 * <p>
 * Each thread keeps its own figures (no shared counter in the loop, unlike the kernel's atomic64s, which would only
 * add contention the simulated layer does not have): an HdrHistogram per operation for the nanosecond percentiles,
 * exact sums for mean and deviation, and the kernel's integer 100 ns sums and sums of squares for the tool's lines.
 * They are merged after the threads have been joined. The timed loop allocates nothing.
 * <p>
 * Phases: all threads allocate their buffers and wait at a gate; the run starts them together, lets them warm up
 * (samples discarded by each thread when it sees the measurement phase), measures for {@code seconds}, then stops
 * them. A map failure is counted, not timed, and the loop goes on (the kernel's thread would exit with -ENOMEM).
 */
public final class MapBench
{
    /** Largest latency kept in the histograms (longer samples are clamped): 60 s. */
    static final long HIGHEST_NS = TimeUnit.SECONDS.toNanos(60);
    /** Page size of the simulated machine. */
    static final int PAGE_SIZE = 4096;

    private static final int PHASE_WARMUP = 0;
    private static final int PHASE_MEASURE = 1;
    private static final int PHASE_STOP = 2;

    /**
     * What to run.
     *
     * @param threads       benchmark threads, 1..1024
     * @param seconds       measured duration, seconds (&gt; 0)
     * @param warmupSeconds unmeasured warm-up before it, seconds (&gt;= 0)
     * @param granule       pages per mapping, 1..1024 (sg: entries of one page)
     * @param dir           BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE
     * @param sg            true for {@code dma_map_sg}, false for {@code dma_map_single}
     * @param transNs       busy-wait between map and unmap, ns
     */
    public record Params(int threads, double seconds, double warmupSeconds, int granule, DmaDirection dir, boolean sg,
        long transNs)
    {
        /** Validates the ranges. */
        public Params
        {
            if (threads < 1 || threads > 1024 || granule < 1 || granule > 1024 || !(seconds > 0) ||
                !(warmupSeconds >= 0) || transNs < 0 || dir == null || !dir.isValid())
            {
                throw new IllegalArgumentException("bad map benchmark parameters: threads " + threads + ", seconds " +
                    seconds + ", warmup " + warmupSeconds + ", granule " + granule + ", dir " + dir + ", delay " +
                    transNs);
            }
        }
    }

    /** Called by the controlling thread about every 100 ms with the fraction of the run done (0..1). */
    @FunctionalInterface
    public interface ProgressListener
    {
        /** No progress reporting. */
        ProgressListener NONE = fraction -> { };

        /** @param fraction warm-up plus measurement done so far, 0..1. */
        void progress(double fraction);
    }

    private MapBench()
    {
    }

    /**
     * Runs the benchmark against {@code dev} (attached to {@code engine}) and returns the merged figures.
     *
     * @throws IllegalStateException if a thread cannot allocate its buffer or the engine throws.
     */
    public static MapBenchResult run(final DmaEngine engine, final Device dev, final Params p,
        final ProgressListener progress) throws InterruptedException
    {
        final Control control = new Control();
        final Worker[] workers = new Worker[p.threads()];
        final Thread[] threads = new Thread[p.threads()];
        final CountDownLatch ready = new CountDownLatch(p.threads());
        final CountDownLatch gate = new CountDownLatch(1);
        final int cpus = engine.cpu().cpus();
        for (int i = 0; i < p.threads(); i++)
        {
            workers[i] = new Worker(engine, dev, p, i % cpus, control, ready, gate);
            threads[i] = new Thread(workers[i], "dma-map-benchmark/" + i);
            threads[i].setDaemon(true);
            threads[i].start();
        }
        try
        {
            ready.await();
            final long warmupNs = (long)(p.warmupSeconds() * 1e9);
            final long measureNs = (long)(p.seconds() * 1e9);
            final long total = warmupNs + measureNs;
            final long start = System.nanoTime();
            gate.countDown();
            if (warmupNs > 0)
            {
                sleepUntil(start, warmupNs, start, total, progress, control);
            }
            final long t0 = System.nanoTime();
            control.phase = PHASE_MEASURE;
            sleepUntil(t0, measureNs, start, total, progress, control);
            control.phase = PHASE_STOP;
            final long t1 = System.nanoTime();
            for (final Thread t : threads)
            {
                t.join();
            }
            progress.progress(1.0);
            return merge(p, workers, (t1 - t0) / 1e9);
        }
        finally
        {
            control.phase = PHASE_STOP;
            gate.countDown();
            for (final Thread t : threads)
            {
                if (t != null)
                {
                    t.join();
                }
            }
        }
    }

    private static void sleepUntil(final long from, final long span, final long start, final long total,
        final ProgressListener progress, final Control control) throws InterruptedException
    {
        while (true)
        {
            final long now = System.nanoTime();
            final long left = from + span - now;
            if (left <= 0 || control.failed)
            {
                return;
            }
            progress.progress(Math.min(1.0, (now - start) / (double)total));
            TimeUnit.NANOSECONDS.sleep(Math.min(left, 100_000_000L));
        }
    }

    private static MapBenchResult merge(final Params p, final Worker[] workers, final double seconds)
    {
        final Histogram map = new Histogram(HIGHEST_NS, 3);
        final Histogram unmap = new Histogram(HIGHEST_NS, 3);
        final long[] perThread = new long[workers.length];
        long loops = 0;
        long errors = 0;
        long sumMap100 = 0;
        long sumUnmap100 = 0;
        long sqMap100 = 0;
        long sqUnmap100 = 0;
        double sumMapNs = 0;
        double sumUnmapNs = 0;
        double sqMapNs = 0;
        double sqUnmapNs = 0;
        for (int i = 0; i < workers.length; i++)
        {
            final Worker w = workers[i];
            if (w.failure != null)
            {
                throw new IllegalStateException(w.failure.getMessage(), w.failure);
            }
            map.add(w.mapHist);
            unmap.add(w.unmapHist);
            perThread[i] = w.loops;
            loops += w.loops;
            errors += w.errors;
            sumMap100 += w.sumMap100;
            sumUnmap100 += w.sumUnmap100;
            sqMap100 += w.sqMap100;
            sqUnmap100 += w.sqUnmap100;
            sumMapNs += w.sumMapNs;
            sumUnmapNs += w.sumUnmapNs;
            sqMapNs += w.sqMapNs;
            sqUnmapNs += w.sqUnmapNs;
        }
        return new MapBenchResult(p, seconds, loops, errors, perThread, map, unmap,
            new MapBenchResult.Sums(sumMap100, sqMap100, sumMapNs, sqMapNs),
            new MapBenchResult.Sums(sumUnmap100, sqUnmap100, sumUnmapNs, sqUnmapNs));
    }

    /** The phase every worker polls; written only by the controlling thread (and {@code failed} by workers). */
    private static final class Control
    {
        volatile int phase = PHASE_WARMUP;
        volatile boolean failed;
    }

    /** One benchmark thread: its buffer, its figures. Figures are read only after the thread has been joined. */
    private static final class Worker implements Runnable
    {
        private final DmaEngine engine;
        private final Device dev;
        private final Params p;
        private final int cpu;
        private final Control control;
        private final CountDownLatch ready;
        private final CountDownLatch gate;

        final Histogram mapHist = new Histogram(HIGHEST_NS, 3);
        final Histogram unmapHist = new Histogram(HIGHEST_NS, 3);
        long loops;
        long errors;
        long sumMap100;
        long sumUnmap100;
        long sqMap100;
        long sqUnmap100;
        double sumMapNs;
        double sumUnmapNs;
        double sqMapNs;
        double sqUnmapNs;
        Throwable failure;

        Worker(final DmaEngine engine, final Device dev, final Params p, final int cpu, final Control control,
            final CountDownLatch ready, final CountDownLatch gate)
        {
            this.engine = engine;
            this.dev = dev;
            this.p = p;
            this.cpu = cpu;
            this.control = control;
            this.ready = ready;
            this.gate = gate;
        }

        @Override
        public void run()
        {
            final PageAllocator pages = engine.pages();
            final int granule = p.granule();
            final int order = 32 - Integer.numberOfLeadingZeros(granule - 1);
            long buf = -1;
            long[] sgPages = null;
            ScatterList sgl = null;
            boolean counted = false;
            try
            {
                engine.cpu().bind(cpu);
                if (p.sg())
                {
                    sgPages = allocScattered(pages, granule);
                    sgl = new ScatterList(granule);
                    for (int i = 0; i < granule; i++)
                    {
                        sgl.set(i, sgPages[i], PAGE_SIZE);
                    }
                }
                else
                {
                    buf = pages.allocPages(order, Zone.NORMAL);
                    if (buf < 0)
                    {
                        throw new IllegalStateException("cannot allocate " + granule + " pages for " +
                            Thread.currentThread().getName() + ": the simulated RAM is exhausted");
                    }
                }
                ready.countDown();
                counted = true;
                gate.await();
                if (p.sg())
                {
                    loopSg(sgl, sgPages);
                }
                else
                {
                    loopSingle(buf);
                }
            }
            catch (final Throwable t)
            {
                failure = t;
                control.failed = true;
            }
            finally
            {
                if (!counted)
                {
                    ready.countDown();
                }
                if (buf >= 0)
                {
                    pages.freePages(buf, order);
                }
                if (sgPages != null)
                {
                    for (final long pg : sgPages)
                    {
                        if (pg >= 0)
                        {
                            pages.freePages(pg, 0);
                        }
                    }
                }
            }
        }

        /** {@code granule} single pages that are not physically adjacent (a spacer page between each, freed). */
        private static long[] allocScattered(final PageAllocator pages, final int n)
        {
            final long[] out = new long[n];
            Arrays.fill(out, -1L);
            final long[] spacers = new long[n];
            Arrays.fill(spacers, -1L);
            try
            {
                for (int i = 0; i < n; i++)
                {
                    out[i] = pages.allocPages(0, Zone.NORMAL);
                    spacers[i] = pages.allocPages(0, Zone.NORMAL);
                    if (out[i] < 0 || spacers[i] < 0)
                    {
                        throw new IllegalStateException("cannot allocate " + n + " sg pages for " +
                            Thread.currentThread().getName() + ": the simulated RAM is exhausted");
                    }
                }
            }
            finally
            {
                for (final long s : spacers)
                {
                    if (s >= 0)
                    {
                        pages.freePages(s, 0);
                    }
                }
            }
            return out;
        }

        private void loopSingle(final long buf)
        {
            final Device dev = this.dev;
            final PhysicalMemory mem = engine.memory();
            final DmaDirection dir = p.dir();
            final long size = (long)p.granule() * PAGE_SIZE;
            final boolean fill = dir != DmaDirection.FROM_DEVICE;
            final MemorySegment view = mem.ramSlice(buf, size);
            final long transNs = p.transNs();
            final Control control = this.control;
            int phase = PHASE_WARMUP;
            while (true)
            {
                final int now = control.phase;
                if (now != phase)
                {
                    if (now == PHASE_STOP)
                    {
                        return;
                    }
                    reset();
                    phase = now;
                }
                if (fill)
                {
                    if (view != null)
                    {
                        view.fill((byte)0x66);
                    }
                    else
                    {
                        mem.fill(buf, size, (byte)0x66);
                    }
                }
                final long mapStart = System.nanoTime();
                final long dma = dev.mapPhys(buf, size, dir, 0);
                if (dev.mappingError(dma))
                {
                    errors++;
                    continue;
                }
                final long mapEnd = System.nanoTime();
                delay(transNs);
                final long unmapStart = System.nanoTime();
                dev.unmapPhys(dma, size, dir, 0);
                final long unmapEnd = System.nanoTime();
                record(mapEnd - mapStart, unmapEnd - unmapStart);
            }
        }

        private void loopSg(final ScatterList sgl, final long[] sgPages)
        {
            final Device dev = this.dev;
            final PhysicalMemory mem = engine.memory();
            final DmaDirection dir = p.dir();
            final int nents = p.granule();
            final boolean fill = dir != DmaDirection.FROM_DEVICE;
            final MemorySegment[] views = new MemorySegment[sgPages.length];
            for (int i = 0; i < sgPages.length; i++)
            {
                views[i] = mem.ramSlice(sgPages[i], PAGE_SIZE);
            }
            final long transNs = p.transNs();
            final Control control = this.control;
            int phase = PHASE_WARMUP;
            while (true)
            {
                final int now = control.phase;
                if (now != phase)
                {
                    if (now == PHASE_STOP)
                    {
                        return;
                    }
                    reset();
                    phase = now;
                }
                if (fill)
                {
                    for (int i = 0; i < views.length; i++)
                    {
                        if (views[i] != null)
                        {
                            views[i].fill((byte)0x66);
                        }
                        else
                        {
                            mem.fill(sgPages[i], PAGE_SIZE, (byte)0x66);
                        }
                    }
                }
                final long mapStart = System.nanoTime();
                final int mapped = dev.mapSg(sgl, nents, dir, 0);
                if (mapped == 0)
                {
                    errors++;
                    continue;
                }
                final long mapEnd = System.nanoTime();
                delay(transNs);
                final long unmapStart = System.nanoTime();
                dev.unmapSg(sgl, nents, dir, 0);
                final long unmapEnd = System.nanoTime();
                record(mapEnd - mapStart, unmapEnd - unmapStart);
            }
        }

        /** The kernel's {@code ndelay()}: a busy wait. */
        private static void delay(final long ns)
        {
            if (ns == 0)
            {
                return;
            }
            final long start = System.nanoTime();
            while (System.nanoTime() - start < ns)
            {
                Thread.onSpinWait();
            }
        }

        private void record(final long mapNs, final long unmapNs)
        {
            mapHist.recordValue(Math.min(mapNs, HIGHEST_NS));
            unmapHist.recordValue(Math.min(unmapNs, HIGHEST_NS));
            final long map100 = mapNs / 100;
            final long unmap100 = unmapNs / 100;
            sumMap100 += map100;
            sumUnmap100 += unmap100;
            sqMap100 += map100 * map100;
            sqUnmap100 += unmap100 * unmap100;
            sumMapNs += mapNs;
            sumUnmapNs += unmapNs;
            sqMapNs += (double)mapNs * mapNs;
            sqUnmapNs += (double)unmapNs * unmapNs;
            loops++;
        }

        private void reset()
        {
            mapHist.reset();
            unmapHist.reset();
            loops = 0;
            errors = 0;
            sumMap100 = 0;
            sumUnmap100 = 0;
            sqMap100 = 0;
            sqUnmap100 = 0;
            sumMapNs = 0;
            sumUnmapNs = 0;
            sqMapNs = 0;
            sqUnmapNs = 0;
        }
    }
}
