package dev.dmasim.bench.stress;

import dev.dmasim.engine.IommuMode;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code dmasim stress} as a library: a randomized mix of every DMA-API call from many threads, with devices moving
 * real bytes through the returned addresses, every byte and invariant verified. Usable from JUnit:
 *
 * <pre>{@code
 * StressResult r = new StressRunner(StressConfig.builder().opsPerThread(2000).build()).run();
 * assertTrue(r.passed(), () -> String.valueOf(r.firstViolation()));
 * }</pre>
 *
 * Each mode of {@link StressConfig#modes()} runs on a fresh engine, in order; the first violation ends the run.
 * Thread-safe in the sense that {@link #run()} may be called again (each call builds new engines).
 */
public final class StressRunner
{
    private final StressConfig config;

    /** @param config what to run. */
    public StressRunner(final StressConfig config)
    {
        if (config == null)
        {
            throw new IllegalArgumentException("stress config is null");
        }
        this.config = config;
    }

    /** @return the configuration. */
    public StressConfig config()
    {
        return config;
    }

    /** Runs every mode (stopping at the first violation). @return what each mode did and found. */
    public StressResult run()
    {
        final List<ModeResult> results = new ArrayList<>();
        int index = 0;
        for (final IommuMode mode : config.modes())
        {
            final ModeResult r = new ModeRun(config, mode, index++).run();
            results.add(r);
            if (!r.passed())
            {
                break;
            }
        }
        return new StressResult(config.seed(), results);
    }
}
