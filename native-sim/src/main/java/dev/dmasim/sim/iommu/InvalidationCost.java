package dev.dmasim.sim.iommu;

import java.util.Locale;

/**
 * The time an IOTLB invalidation sync command costs the CPU that issues it, modelled as a busy spin of
 * {@link #nanos()} nanoseconds ({@link System#nanoTime()} + {@link Thread#onSpinWait()}) per command, so that strict
 * and lazy invalidation differ as on real machines. Presets, as plausible orders of magnitude for one
 * invalidate-and-sync round trip (not measurements of any particular part):
 * <ul>
 *   <li>{@code none}: 0 ns (the default in tests),</li>
 *   <li>{@code smmuv3}: 500 ns (Arm SMMUv3: TLBI command + CMD_SYNC through the command queue),</li>
 *   <li>{@code vtd}: 1000 ns (Intel VT-d: IOTLB invalidation descriptor + wait descriptor through the queued
 *       invalidation interface).</li>
 * </ul>
 * Immutable and thread-safe.
 *
 * @param name  the preset name, or the nanoseconds as text for a custom cost.
 * @param nanos nanoseconds spun per sync command (&gt;= 0).
 */
public record InvalidationCost(String name, long nanos)
{
    /** No cost. */
    public static final InvalidationCost NONE = new InvalidationCost("none", 0);
    /** Arm SMMUv3 order of magnitude: 500 ns. */
    public static final InvalidationCost SMMUV3 = new InvalidationCost("smmuv3", 500);
    /** Intel VT-d order of magnitude: 1000 ns. */
    public static final InvalidationCost VTD = new InvalidationCost("vtd", 1000);

    /** Validates the components. */
    public InvalidationCost
    {
        if (name == null || name.isBlank())
        {
            throw new IllegalArgumentException("invalidation cost name must not be blank");
        }
        if (nanos < 0)
        {
            throw new IllegalArgumentException("invalidation cost must be >= 0 ns, got " + nanos);
        }
    }

    /** @return a custom cost of {@code nanos} nanoseconds per sync command. */
    public static InvalidationCost ofNanos(final long nanos)
    {
        return new InvalidationCost(Long.toString(nanos), nanos);
    }

    /**
     * Parses a preset name ({@code none}, {@code smmuv3}, {@code vtd}; case-insensitive) or a non-negative number of
     * nanoseconds, optionally suffixed {@code ns} (e.g. {@code 750ns}).
     *
     * @throws IllegalArgumentException naming the text and the accepted values.
     */
    public static InvalidationCost parse(final String text)
    {
        if (text == null)
        {
            throw new IllegalArgumentException("invalidation cost must not be null: expected none, smmuv3, vtd or <n>ns");
        }
        final String t = text.trim().toLowerCase(Locale.ROOT);
        switch (t)
        {
            case "none":
                return NONE;
            case "smmuv3":
                return SMMUV3;
            case "vtd":
                return VTD;
            default:
                break;
        }
        final String digits = t.endsWith("ns") ? t.substring(0, t.length() - 2).trim() : t;
        if (!digits.isEmpty() && digits.chars().allMatch(Character::isDigit) && digits.length() <= 12)
        {
            return ofNanos(Long.parseLong(digits));
        }
        throw new IllegalArgumentException(
            "unknown invalidation cost '" + text + "': expected none, smmuv3 (500 ns), vtd (1000 ns) or a number of " +
            "nanoseconds such as 750ns");
    }

    /** Spins for {@link #nanos()} nanoseconds; returns at once when it is 0. Allocation-free. */
    public void charge()
    {
        final long n = nanos;
        if (n == 0)
        {
            return;
        }
        final long start = System.nanoTime();
        while (System.nanoTime() - start < n)
        {
            Thread.onSpinWait();
        }
    }
}
