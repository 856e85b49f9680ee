package dev.dmasim.bench.goals;

/**
 * One evaluated goal.
 *
 * @param id       the goal number and sub-goal, e.g. {@code 3.1500B}
 * @param name     what is compared
 * @param measured the measured value (NaN when a benchmark it needs was not run)
 * @param shown    the measured value as printed (with its unit, e.g. {@code 7.4x}, {@code 12.9 ns})
 * @param target   the target as printed, e.g. {@code >= 5x}
 * @param met      true if the target is met
 * @param detail   the figures it was computed from
 * @param info     true for a context figure printed next to the goals: not a goal, never counted
 */
public record GoalResult(String id, String name, double measured, String shown, String target, boolean met,
    String detail, boolean info)
{
    /** A goal (not a context figure). */
    public GoalResult(final String id, final String name, final double measured, final String shown,
        final String target, final boolean met, final String detail)
    {
        this(id, name, measured, shown, target, met, detail, false);
    }

    /** @return {@code MET}, {@code MISSED}, {@code INFO} for a context figure, or {@code NOT RUN} when nothing was measured. */
    public String status()
    {
        return Double.isNaN(measured) ? "NOT RUN" : info ? "INFO" : met ? "MET" : "MISSED";
    }
}
