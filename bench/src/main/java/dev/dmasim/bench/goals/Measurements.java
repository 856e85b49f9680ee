package dev.dmasim.bench.goals;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The results of one goals run, by key {@code SimpleClass.method} or {@code SimpleClass.method[k=v,k2=v2]}
 * (the benchmark's parameters in declaration order; a thread group's key uses the group name): the primary
 * score and the secondary metrics ({@code gc.alloc.rate.norm} in B/op, auxiliary counters). Not thread-safe.
 */
public final class Measurements
{
    private final Map<String, Score> primary = new LinkedHashMap<>();
    private final Map<String, Map<String, Double>> secondary = new LinkedHashMap<>();

    /** Records a benchmark's results; a later put of the same key replaces them. */
    public Measurements put(final String key, final Score score, final Map<String, Double> secondaries)
    {
        primary.put(key, score);
        secondary.put(key, Map.copyOf(secondaries));
        return this;
    }

    /** @return the primary score of {@code key}, or null if it was not measured. */
    public Score score(final String key)
    {
        return primary.get(key);
    }

    /** @return secondary metric {@code name} of {@code key}, or NaN. */
    public double secondary(final String key, final String name)
    {
        final Map<String, Double> m = secondary.get(key);
        final Double v = m == null ? null : m.get(name);
        return v == null ? Double.NaN : v;
    }

    /** @return every primary score, in insertion order. */
    public Map<String, Score> scores()
    {
        return Collections.unmodifiableMap(primary);
    }

    /** @return every secondary metric of {@code key} (empty if none). */
    public Map<String, Double> secondaries(final String key)
    {
        return secondary.getOrDefault(key, Map.of());
    }

    /** @return the key of a benchmark label and its parameters, as the goals refer to it. */
    public static String key(final String simpleClass, final String label, final Map<String, String> params)
    {
        final StringBuilder sb = new StringBuilder(simpleClass).append('.').append(label);
        if (!params.isEmpty())
        {
            sb.append('[');
            boolean first = true;
            for (final Map.Entry<String, String> e : params.entrySet())
            {
                if (!first)
                {
                    sb.append(',');
                }
                sb.append(e.getKey()).append('=').append(e.getValue());
                first = false;
            }
            sb.append(']');
        }
        return sb.toString();
    }
}
