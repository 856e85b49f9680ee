package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.BenchRecord;
import org.HdrHistogram.Histogram;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The merged figures of one {@link MapBench} run. Latencies are nanoseconds; the kernel-compatible figures are the
 * kernel's integer 100 ns units computed exactly as {@code do_map_benchmark} does. Immutable once built (the
 * histograms are not shared with the threads any more).
 *
 * @param params    what was run
 * @param seconds   measured wall time, seconds
 * @param loops     map+unmap pairs completed in that time, all threads
 * @param mapErrors maps that failed in that time
 * @param perThread pairs completed by each thread
 * @param map       map latencies
 * @param unmap     unmap latencies
 * @param mapSums   map sums
 * @param unmapSums unmap sums
 */
public record MapBenchResult(MapBench.Params params, double seconds, long loops, long mapErrors, long[] perThread,
    Histogram map, Histogram unmap, Sums mapSums, Sums unmapSums)
{
    /**
     * Sums of one operation's samples.
     *
     * @param sum100   sum of the samples in integer 100 ns units (the kernel's {@code sum_map_100ns})
     * @param sumSq100 sum of their squares (the kernel's {@code sum_sq_map})
     * @param sumNs    sum of the samples, ns
     * @param sumSqNs  sum of their squares, ns²
     */
    public record Sums(long sum100, long sumSq100, double sumNs, double sumSqNs)
    {
    }

    /** @return the kernel's average in 100 ns units: {@code sum / loops}, integer division; 0 without loops. */
    public static long kernelAvg100ns(final Sums s, final long loops)
    {
        return loops > 0 ? Long.divideUnsigned(s.sum100(), loops) : 0;
    }

    /** @return the kernel's {@code int_sqrt64(sum_sq / loops - avg * avg)} in 100 ns units; 0 without loops. */
    public static long kernelStddev100ns(final Sums s, final long loops)
    {
        if (loops <= 0)
        {
            return 0;
        }
        final long avg = kernelAvg100ns(s, loops);
        return intSqrt(Long.divideUnsigned(s.sumSq100(), loops) - avg * avg);
    }

    /** @return floor(sqrt(x)) of an unsigned 64-bit value, like the kernel's {@code int_sqrt64}. */
    static long intSqrt(final long x)
    {
        if (x == 0)
        {
            return 0;
        }
        final double d = x < 0 ? (double)(x >>> 1) * 2.0 : (double)x;
        long r = Math.min((long)Math.sqrt(d), 0xFFFF_FFFFL);
        while (r > 0 && Long.compareUnsigned(r * r, x) > 0)
        {
            r--;
        }
        while (Long.compareUnsigned((r + 1) * (r + 1), x) <= 0 && r + 1 < 0x1_0000_0000L)
        {
            r++;
        }
        return r;
    }

    /** @return the mean of the samples, ns (NaN without samples). */
    public static double meanNs(final Sums s, final long loops)
    {
        return loops > 0 ? s.sumNs() / loops : Double.NaN;
    }

    /** @return the population standard deviation, ns (NaN without samples). */
    public static double stddevNs(final Sums s, final long loops)
    {
        if (loops <= 0)
        {
            return Double.NaN;
        }
        final double mean = s.sumNs() / loops;
        return Math.sqrt(Math.max(0.0, s.sumSqNs() / loops - mean * mean));
    }

    /** @return map+unmap pairs per second, all threads. */
    public double opsPerSec()
    {
        return seconds > 0 ? loops / seconds : 0;
    }

    /** @return this run as a report row. */
    public BenchRecord toRecord(final String mode, final int dmaBits, final int cpus, final String cost)
    {
        return new BenchRecord(mode, params.threads(), params.granule(), params.dir().name(),
            params.sg() ? "sg" : "single", dmaBits, params.transNs(), cpus, cost, seconds, loops, mapErrors,
            meanNs(mapSums, loops), stddevNs(mapSums, loops), pct(map, 50), pct(map, 90), pct(map, 99),
            pct(map, 99.9), map.getTotalCount() > 0 ? map.getMaxValue() : 0,
            meanNs(unmapSums, loops), stddevNs(unmapSums, loops), pct(unmap, 50), pct(unmap, 90), pct(unmap, 99),
            pct(unmap, 99.9), unmap.getTotalCount() > 0 ? unmap.getMaxValue() : 0,
            opsPerSec(), kernelAvg100ns(mapSums, loops), kernelStddev100ns(mapSums, loops),
            kernelAvg100ns(unmapSums, loops), kernelStddev100ns(unmapSums, loops));
    }

    /** @return the value at {@code percentile} of {@code h}, 0 when empty. */
    static long pct(final Histogram h, final double percentile)
    {
        return h.getTotalCount() > 0 ? h.getValueAtPercentile(percentile) : 0;
    }

    /** @return the latency figures of one operation by name (for JSON). */
    static Map<String, Object> latency(final Histogram h, final Sums s, final long loops)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("meanNs", meanNs(s, loops));
        m.put("stddevNs", stddevNs(s, loops));
        m.put("p50Ns", pct(h, 50));
        m.put("p90Ns", pct(h, 90));
        m.put("p99Ns", pct(h, 99));
        m.put("p999Ns", pct(h, 99.9));
        m.put("maxNs", h.getTotalCount() > 0 ? h.getMaxValue() : 0);
        m.put("minNs", h.getTotalCount() > 0 ? h.getMinValue() : 0);
        m.put("avg100ns", kernelAvg100ns(s, loops));
        m.put("stddev100ns", kernelStddev100ns(s, loops));
        return m;
    }
}
