package dev.dmasim.bench.goals;

import java.util.Locale;

/**
 * One JMH score: value, error (half-width of the 99.9 % interval, NaN with too few iterations), unit as JMH
 * prints it ({@code ns/op}, {@code ops/us}, ...). Immutable.
 *
 * @param value the score
 * @param error its error, or NaN
 * @param unit  JMH's unit text
 */
public record Score(double value, double error, String unit)
{
    /** @return the time per operation in nanoseconds (per thread for throughput of one thread). */
    public double nsPerOp()
    {
        final String[] parts = split();
        if (parts[0].equals("ops"))
        {
            return perUnitNanos(parts[1]) / value;
        }
        if (parts[1].equals("op"))
        {
            return value * perUnitNanos(parts[0]);
        }
        throw new IllegalArgumentException("not a time or throughput unit: " + unit);
    }

    /** @return operations per microsecond (aggregate, for a throughput score of a thread group). */
    public double opsPerUs()
    {
        return 1_000.0 / nsPerOp();
    }

    private String[] split()
    {
        final String[] parts = unit.trim().toLowerCase(Locale.ROOT).split("/");
        if (parts.length != 2)
        {
            throw new IllegalArgumentException("not a JMH unit: " + unit);
        }
        return parts;
    }

    private static double perUnitNanos(final String u)
    {
        return switch (u)
        {
            case "ns" -> 1;
            case "us" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "min" -> 60e9;
            default -> throw new IllegalArgumentException("unknown time unit " + u);
        };
    }

    @Override
    public String toString()
    {
        return Double.isNaN(error)
            ? String.format(Locale.ROOT, "%.3f %s", value, unit)
            : String.format(Locale.ROOT, "%.3f ± %.3f %s", value, error, unit);
    }
}
