package dev.dmasim.bench.stress;

import dev.dmasim.bench.report.Json;

import dev.dmasim.engine.IommuMode;

import java.util.Locale;
import java.util.Map;

/** Formats a {@link StressResult} as the command line prints it: a text summary, or JSON. Stateless. */
public final class StressReport
{
    private StressReport()
    {
    }

    /** @return the first line of every run: the seed and how to rerun with it. */
    public static String seedLine(final long seed)
    {
        return "stress: seed 0x" + Long.toHexString(seed) + " \u2014 rerun with --seed 0x" + Long.toHexString(seed);
    }

    /** @return the text summary: per mode, calls by kind and the checks' counters; then PASS or FAIL. */
    public static String text(final StressResult result)
    {
        final StringBuilder sb = new StringBuilder();
        for (final ModeResult m : result.modes())
        {
            final String mode = m.mode().name().toLowerCase(Locale.ROOT);
            sb.append(String.format(Locale.ROOT, "== %s: %s, %.1f s, %d operations, %d calls (%.0f calls/s)%n", mode,
                m.passed() ? "pass" : "FAIL", m.nanos() / 1e9, m.operations(), m.totalCalls(), m.callsPerSecond()));
            int col = 0;
            for (final Map.Entry<OpKind, Long> e : m.calls().entrySet())
            {
                if (e.getKey().translatedOnly() && !m.mode().translated())
                {
                    continue;
                }
                sb.append(String.format(Locale.ROOT, "  %-20s %10d", e.getKey().label(), e.getValue()));
                if (++col % 3 == 0)
                {
                    sb.append('\n');
                }
            }
            if (col % 3 != 0)
            {
                sb.append('\n');
            }
            sb.append(String.format(Locale.ROOT, "  bytes verified %d (%.1f MiB)%n", m.bytesVerified(),
                m.bytesVerified() / 1048576.0));
            sb.append("  mapping errors ").append(m.totalMappingErrors());
            String sep = ": ";
            for (final Map.Entry<MapErrorCause, Long> e : m.mappingErrors().entrySet())
            {
                if (e.getValue() != 0)
                {
                    sb.append(sep).append(e.getKey().label()).append(' ').append(e.getValue());
                    sep = ", ";
                }
            }
            sb.append('\n');
            sb.append(String.format(Locale.ROOT,
                "  post-unmap probes: %d faulted as required, %d reached a possibly reused address, %d lazy stale reads%n",
                m.strictProbes(), m.probesSkipped(), m.lazyStaleProbes()));
            final var s = m.stats();
            sb.append(String.format(Locale.ROOT,
                "  IOMMU: %d IOTLB invalidations (%d strict, %d lazy flushes), %d stale hits, %d faults; " +
                "swiotlb: %d bounces, %d slots high-water, %d refusals%n",
                s.iotlbInvalidations(), s.strictInvalidations(), s.lazyFlushes(), s.staleHits(), s.faults(),
                s.bounces(), s.swiotlbSlotsHiwater(), s.swiotlbFailures()));
            if (m.violation() != null)
            {
                sb.append(m.violation()).append('\n');
            }
        }
        sb.append(result.passed() ? "PASS" : "FAIL").append('\n');
        return sb.toString();
    }

    /** @return the result as one JSON object. */
    public static String json(final StressResult result)
    {
        final StringBuilder sb = new StringBuilder("{\"seed\":\"0x").append(Long.toHexString(result.seed()))
            .append("\",\"pass\":").append(result.passed()).append(",\"modes\":[");
        boolean firstMode = true;
        for (final ModeResult m : result.modes())
        {
            sb.append(firstMode ? "" : ",").append("{\"mode\":\"").append(name(m.mode())).append("\",\"pass\":")
                .append(m.passed()).append(",\"seconds\":").append(String.format(Locale.ROOT, "%.3f", m.nanos() / 1e9))
                .append(",\"operations\":").append(m.operations()).append(",\"callsPerSecond\":")
                .append(String.format(Locale.ROOT, "%.1f", m.callsPerSecond())).append(",\"calls\":{");
            boolean first = true;
            for (final Map.Entry<OpKind, Long> e : m.calls().entrySet())
            {
                sb.append(first ? "" : ",").append('"').append(e.getKey().label()).append("\":").append(e.getValue());
                first = false;
            }
            sb.append("},\"bytesVerified\":").append(m.bytesVerified()).append(",\"mappingErrors\":{");
            first = true;
            for (final Map.Entry<MapErrorCause, Long> e : m.mappingErrors().entrySet())
            {
                sb.append(first ? "" : ",").append('"').append(e.getKey().name().toLowerCase(Locale.ROOT))
                    .append("\":").append(e.getValue());
                first = false;
            }
            sb.append("},\"strictProbes\":").append(m.strictProbes()).append(",\"probesSkipped\":")
                .append(m.probesSkipped()).append(",\"lazyStaleProbes\":").append(m.lazyStaleProbes())
                .append(",\"stats\":{");
            first = true;
            for (final Map.Entry<String, Long> e : m.stats().toMap().entrySet())
            {
                sb.append(first ? "" : ",").append('"').append(e.getKey()).append("\":").append(e.getValue());
                first = false;
            }
            sb.append("},\"violation\":");
            if (m.violation() == null)
            {
                sb.append("null");
            }
            else
            {
                sb.append("{\"what\":").append(quote(m.violation().what())).append(",\"context\":")
                    .append(quote(m.violation().context())).append('}');
            }
            sb.append('}');
            firstMode = false;
        }
        return sb.append("]}").toString();
    }

    private static String name(final IommuMode m)
    {
        return m.name().toLowerCase(Locale.ROOT);
    }

    private static String quote(final String s)
    {
        final StringBuilder sb = new StringBuilder(s.length() + 2);
        Json.quote(sb, s);
        return sb.toString();
    }
}
