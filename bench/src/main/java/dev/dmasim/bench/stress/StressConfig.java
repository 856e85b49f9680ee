package dev.dmasim.bench.stress;

import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.iommu.InvalidationCost;

import java.util.List;
import java.util.function.Consumer;

/**
 * What a stress run does: how many threads, for how long (or how many operations per thread), with which seed,
 * in which IOMMU modes (each mode runs on a fresh engine, one after the other). Immutable; build with
 * {@link #builder()}.
 *
 * @param threads       worker threads, each bound to simulated CPU {@code thread % cpus}.
 * @param cpus          simulated CPUs of the engine.
 * @param millis        run time per mode in milliseconds; ignored when {@code opsPerThread > 0}.
 * @param opsPerThread  randomized operations per thread per mode (0: run for {@code millis}).
 * @param seed          the one seed every thread's {@code SplittableRandom} is derived from.
 * @param modes         the IOMMU modes to run, in order.
 * @param cost          the IOTLB invalidation cost model.
 * @param debug         dma-debug on (every report is then a violation).
 * @param swiotlbBytes  swiotlb pool size; small on purpose so that "swiotlb full" happens.
 * @param maxLive       live mappings a thread holds at most (they overlap in time with other threads').
 * @param injection     a deliberate bug, for tests of the checks themselves.
 * @param progress      receives a progress line every {@code progressMillis} (null: nowhere).
 * @param progressMillis progress period.
 */
public record StressConfig(int threads, int cpus, long millis, long opsPerThread, long seed, List<IommuMode> modes,
    InvalidationCost cost, boolean debug, long swiotlbBytes, int maxLive, Injection injection, Consumer<String> progress,
    long progressMillis)
{
    /** Every mode, in the order {@code --iommu all} runs them. */
    public static final List<IommuMode> ALL_MODES =
        List.of(IommuMode.NONE, IommuMode.PASSTHROUGH, IommuMode.STRICT, IommuMode.LAZY);

    public StressConfig
    {
        if (threads < 1 || threads > 64)
        {
            throw new IllegalArgumentException("threads must be 1..64, was " + threads);
        }
        if (cpus < 1 || cpus > 4096)
        {
            throw new IllegalArgumentException("cpus must be 1..4096, was " + cpus);
        }
        if (opsPerThread < 0 || (opsPerThread == 0 && millis <= 0))
        {
            throw new IllegalArgumentException("give a run time > 0 or a number of operations per thread > 0");
        }
        if (modes == null || modes.isEmpty())
        {
            throw new IllegalArgumentException("at least one IOMMU mode");
        }
        modes = List.copyOf(modes);
        if (cost == null || injection == null)
        {
            throw new IllegalArgumentException("cost and injection must not be null");
        }
        if (swiotlbBytes < (256L << 10))
        {
            throw new IllegalArgumentException("swiotlb pool must be at least 256 KiB, was " + swiotlbBytes);
        }
        if (maxLive < 1 || maxLive > 1024)
        {
            throw new IllegalArgumentException("maxLive must be 1..1024, was " + maxLive);
        }
        if (progressMillis < 1)
        {
            throw new IllegalArgumentException("progress period must be >= 1 ms, was " + progressMillis);
        }
    }

    /** @return a builder with the command line's defaults: 2 threads, 10 s per mode, every mode, debug on. */
    public static Builder builder()
    {
        return new Builder();
    }

    /** @return a builder holding this configuration. */
    public Builder toBuilder()
    {
        final Builder b = new Builder();
        b.threads = threads;
        b.cpus = cpus;
        b.millis = millis;
        b.opsPerThread = opsPerThread;
        b.seed = seed;
        b.modes = modes;
        b.cost = cost;
        b.debug = debug;
        b.swiotlbBytes = swiotlbBytes;
        b.maxLive = maxLive;
        b.injection = injection;
        b.progress = progress;
        b.progressMillis = progressMillis;
        return b;
    }

    /** Builds a {@link StressConfig}. Not thread-safe. */
    public static final class Builder
    {
        private int threads = 2;
        private int cpus;
        private long millis = 10_000;
        private long opsPerThread;
        private long seed = 0x5eed_d3a5_1a00_0001L;
        private List<IommuMode> modes = ALL_MODES;
        private InvalidationCost cost = InvalidationCost.NONE;
        private boolean debug = true;
        private long swiotlbBytes = 512L << 10;
        private int maxLive = 8;
        private Injection injection = Injection.NONE;
        private Consumer<String> progress;
        private long progressMillis = 1000;

        private Builder()
        {
        }

        /** Worker threads (default 2). */
        public Builder threads(final int n)
        {
            threads = n;
            return this;
        }

        /** Simulated CPUs (default: as many as threads). */
        public Builder cpus(final int n)
        {
            cpus = n;
            return this;
        }

        /** Run time per mode (default 10 s). */
        public Builder millis(final long ms)
        {
            millis = ms;
            return this;
        }

        /** Operations per thread per mode; when set, the run time is ignored. */
        public Builder opsPerThread(final long n)
        {
            opsPerThread = n;
            return this;
        }

        /** The seed. */
        public Builder seed(final long s)
        {
            seed = s;
            return this;
        }

        /** IOMMU modes to run, in order (default all four). */
        public Builder modes(final List<IommuMode> m)
        {
            modes = m;
            return this;
        }

        /** IOTLB invalidation cost (default none). */
        public Builder cost(final InvalidationCost c)
        {
            cost = c;
            return this;
        }

        /** dma-debug (default on). */
        public Builder debug(final boolean on)
        {
            debug = on;
            return this;
        }

        /** swiotlb pool bytes (default 512 KiB: small, so that it fills up now and then). */
        public Builder swiotlbBytes(final long bytes)
        {
            swiotlbBytes = bytes;
            return this;
        }

        /** Live mappings per thread at most (default 8). */
        public Builder maxLive(final int n)
        {
            maxLive = n;
            return this;
        }

        /** A deliberate bug (tests only). */
        public Builder injection(final Injection i)
        {
            injection = i;
            return this;
        }

        /** Where progress lines go (default nowhere). */
        public Builder progress(final Consumer<String> out)
        {
            progress = out;
            return this;
        }

        /** Progress period (default 1 s). */
        public Builder progressMillis(final long ms)
        {
            progressMillis = ms;
            return this;
        }

        /** @return the configuration. @throws IllegalArgumentException naming a bad value. */
        public StressConfig build()
        {
            return new StressConfig(threads, cpus > 0 ? cpus : threads, millis, opsPerThread, seed, modes, cost, debug,
                swiotlbBytes, maxLive, injection, progress, progressMillis);
        }
    }
}
