package dev.dmasim.engine.iova;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the ftrace text output of the {@code iommu:map} and {@code iommu:unmap} events (Linux 6.1 format):
 * <pre>
 * TASK-PID [CPU] FLAGS SECONDS: map: IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu
 * TASK-PID [CPU] FLAGS SECONDS: unmap: IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu
 * </pre>
 * Comment lines and other events are skipped. Stateless and thread-safe.
 */
public final class IommuTraceParser
{
    private static final Pattern EVENT = Pattern.compile(
        "^.*?\\[(\\d+)]\\s+\\S+\\s+(\\d+)\\.(\\d+):\\s+(map|unmap): IOMMU: iova=0x([0-9a-fA-F]+) - 0x([0-9a-fA-F]+)" +
        "(?: paddr=0x([0-9a-fA-F]+))? size=(\\d+)");

    private IommuTraceParser()
    {
    }

    /** Parses a trace file. */
    public static IommuTrace parse(final Path path) throws IOException
    {
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8))
        {
            return parse(reader);
        }
    }

    /** Parses a trace from {@code reader} (not closed). */
    public static IommuTrace parse(final BufferedReader reader) throws IOException
    {
        int capacity = 1024;
        int n = 0;
        int[] kind = new int[capacity];
        int[] cpu = new int[capacity];
        long[] ts = new long[capacity];
        long[] iova = new long[capacity];
        long[] end = new long[capacity];
        long[] paddr = new long[capacity];
        long[] size = new long[capacity];
        String line;
        while ((line = reader.readLine()) != null)
        {
            if (line.startsWith("#") || line.indexOf("IOMMU:") < 0)
            {
                continue;
            }
            final Matcher m = EVENT.matcher(line);
            if (!m.find())
            {
                continue;
            }
            if (n == capacity)
            {
                capacity *= 2;
                kind = java.util.Arrays.copyOf(kind, capacity);
                cpu = java.util.Arrays.copyOf(cpu, capacity);
                ts = java.util.Arrays.copyOf(ts, capacity);
                iova = java.util.Arrays.copyOf(iova, capacity);
                end = java.util.Arrays.copyOf(end, capacity);
                paddr = java.util.Arrays.copyOf(paddr, capacity);
                size = java.util.Arrays.copyOf(size, capacity);
            }
            cpu[n] = Integer.parseInt(m.group(1));
            final String frac = (m.group(3) + "000000000").substring(0, 9);
            ts[n] = Long.parseLong(m.group(2)) * 1_000_000_000L + Long.parseLong(frac);
            kind[n] = "map".equals(m.group(4)) ? IommuTrace.MAP : IommuTrace.UNMAP;
            iova[n] = Long.parseUnsignedLong(m.group(5), 16);
            end[n] = Long.parseUnsignedLong(m.group(6), 16);
            paddr[n] = m.group(7) == null ? -1 : Long.parseUnsignedLong(m.group(7), 16);
            size[n] = Long.parseLong(m.group(8));
            n++;
        }
        return new IommuTrace(n, kind, cpu, ts, iova, end, paddr, size);
    }
}
