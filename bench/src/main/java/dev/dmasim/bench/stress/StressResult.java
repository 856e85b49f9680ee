package dev.dmasim.bench.stress;

import java.util.List;

/**
 * The outcome of {@link StressRunner#run()}: the seed and one {@link ModeResult} per mode run. A failed mode
 * stops the run, so the last mode holds the violation. Immutable.
 *
 * @param seed  the seed of the run (rerun with it to replay every thread's operation sequence).
 * @param modes per-mode results, in run order.
 */
public record StressResult(long seed, List<ModeResult> modes)
{
    public StressResult
    {
        modes = List.copyOf(modes);
    }

    /** @return true if every mode passed. */
    public boolean passed()
    {
        return firstViolation() == null;
    }

    /** @return the first violation of the run, or null. */
    public StressViolation firstViolation()
    {
        for (final ModeResult m : modes)
        {
            if (m.violation() != null)
            {
                return m.violation();
            }
        }
        return null;
    }

    /** @return 0 when passed, 1 when an invariant broke (the command line's exit code). */
    public int exitCode()
    {
        return passed() ? 0 : 1;
    }
}
