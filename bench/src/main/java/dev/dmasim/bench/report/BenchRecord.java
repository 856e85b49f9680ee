package dev.dmasim.bench.report;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One cell of a map/unmap benchmark: its configuration and what was measured. A row of {@code results.csv} and an
 * element of {@code results.json}; the column names are the component names. Latencies are nanoseconds per call;
 * the {@code kernel*} figures are the kernel tool's integer 100 ns units (avg and {@code int_sqrt} standard deviation).
 * Immutable.
 *
 * @param mode             none, passthrough, strict, lazy or swiotlb (dma-direct with every mapping bounced)
 * @param threads          benchmark threads
 * @param granule          pages per mapping (single) or sg entries of one page (sg)
 * @param dir              BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE
 * @param mapMode          single or sg
 * @param dmaBits          the device's DMA mask width, bits
 * @param transNs          busy-wait between map and unmap, ns
 * @param cpus             simulated CPUs of the engine
 * @param cost             IOTLB invalidation cost preset (none, smmuv3, vtd, or ns)
 * @param seconds          measured wall time, seconds
 * @param loops            map+unmap pairs completed
 * @param mapErrors        maps that returned DMA_MAPPING_ERROR (not timed, not in the latencies)
 * @param mapMeanNs        mean map latency
 * @param mapStddevNs      standard deviation of map latency
 * @param mapP50Ns         median map latency
 * @param mapP90Ns         90th percentile
 * @param mapP99Ns         99th percentile
 * @param mapP999Ns        99.9th percentile
 * @param mapMaxNs         largest map latency
 * @param unmapMeanNs      mean unmap latency
 * @param unmapStddevNs    standard deviation of unmap latency
 * @param unmapP50Ns       median unmap latency
 * @param unmapP90Ns       90th percentile
 * @param unmapP99Ns       99th percentile
 * @param unmapP999Ns      99.9th percentile
 * @param unmapMaxNs       largest unmap latency
 * @param opsPerSec        map+unmap pairs per second, all threads
 * @param kernelMap100ns   the kernel's avg_map_100ns
 * @param kernelMapSd100ns the kernel's map_stddev
 * @param kernelUnmap100ns the kernel's avg_unmap_100ns
 * @param kernelUnmapSd100ns the kernel's unmap_stddev
 */
public record BenchRecord(String mode, int threads, int granule, String dir, String mapMode, int dmaBits, long transNs,
    int cpus, String cost, double seconds, long loops, long mapErrors,
    double mapMeanNs, double mapStddevNs, long mapP50Ns, long mapP90Ns, long mapP99Ns, long mapP999Ns, long mapMaxNs,
    double unmapMeanNs, double unmapStddevNs, long unmapP50Ns, long unmapP90Ns, long unmapP99Ns, long unmapP999Ns,
    long unmapMaxNs, double opsPerSec, long kernelMap100ns, long kernelMapSd100ns, long kernelUnmap100ns,
    long kernelUnmapSd100ns)
{
    /** @return the CSV header: the component names. */
    public static List<String> csvHeader()
    {
        final List<String> h = new ArrayList<>();
        for (final RecordComponent c : BenchRecord.class.getRecordComponents())
        {
            h.add(c.getName());
        }
        return h;
    }

    /** @return this record's fields as CSV values (doubles with 3 decimals). */
    public List<String> csvFields()
    {
        final List<String> out = new ArrayList<>();
        for (final Object v : Reflect.componentsOf(this).values())
        {
            out.add(v instanceof Double d ? String.format(Locale.ROOT, "%.3f", d) : String.valueOf(v));
        }
        return out;
    }

    /** @return the record read back from CSV fields in {@link #csvHeader()} order. */
    public static BenchRecord fromCsv(final List<String> fields)
    {
        final RecordComponent[] comps = BenchRecord.class.getRecordComponents();
        if (fields.size() != comps.length)
        {
            throw new IllegalArgumentException("expected " + comps.length + " CSV fields, got " + fields.size());
        }
        final Object[] args = new Object[comps.length];
        final Class<?>[] types = new Class<?>[comps.length];
        for (int i = 0; i < comps.length; i++)
        {
            final Class<?> t = comps[i].getType();
            types[i] = t;
            final String f = fields.get(i);
            try
            {
                args[i] = t == int.class ? Integer.parseInt(f) : t == long.class ? Long.parseLong(f) :
                    t == double.class ? Double.parseDouble(f) : f;
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("column " + comps[i].getName() + ": '" + f + "' is not a number");
            }
        }
        try
        {
            return BenchRecord.class.getDeclaredConstructor(types).newInstance(args);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** @return what identifies the cell's configuration (a resumed sweep skips cells whose key is present). */
    public String key()
    {
        return key(mode, threads, granule, dir, mapMode, dmaBits, transNs, cpus, cost);
    }

    /** @return the {@link #key()} of a cell with this configuration. */
    public static String key(final String mode, final int threads, final int granule, final String dir,
        final String mapMode, final int dmaBits, final long transNs, final int cpus, final String cost)
    {
        return mode + "/t" + threads + "/g" + granule + "/" + dir + "/" + mapMode + "/b" + dmaBits + "/x" + transNs +
            "/c" + cpus + "/" + cost;
    }

    /** @return map+unmap pairs per second, millions. */
    public double mops()
    {
        return opsPerSec / 1e6;
    }

    /** @return the components by name, for JSON. */
    public Map<String, Object> toMap()
    {
        return Reflect.componentsOf(this);
    }
}
