package dev.dmasim.bench.stress;

/**
 * A broken invariant: a one-line {@link #what()} and the full {@link #context()} (op, thread, CPU, device,
 * addresses, the bytes around a mismatch, engine counters), both ready to print. Immutable.
 *
 * @param what    one line: which invariant broke.
 * @param context several lines, each indented by two spaces.
 */
public record StressViolation(String what, String context)
{
    @Override
    public String toString()
    {
        return "violation: " + what + System.lineSeparator() + context;
    }
}
