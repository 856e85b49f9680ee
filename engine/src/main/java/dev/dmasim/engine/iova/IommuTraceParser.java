package dev.dmasim.engine.iova;

import dev.dmasim.engine.trace.TraceEvent;
import dev.dmasim.engine.trace.TraceParser;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The {@code iommu:map} and {@code iommu:unmap} events (Linux 6.1 format) of an ftrace text trace, as an
 * {@link IommuTrace}:
 * <pre>
 * TASK-PID [CPU] FLAGS SECONDS: map: IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu
 * TASK-PID [CPU] FLAGS SECONDS: unmap: IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu
 * </pre>
 * Lines are read by {@link TraceParser} (the general ftrace reader, which also reads the {@code dma:*} events);
 * comment lines, other events and malformed lines are skipped here. Stateless and thread-safe.
 */
public final class IommuTraceParser
{
    private IommuTraceParser()
    {
    }

    /** Parses a trace file. */
    public static IommuTrace parse(final Path path) throws IOException
    {
        return fromEvents(TraceParser.parse(path).events());
    }

    /** Parses a trace from {@code reader} (not closed). */
    public static IommuTrace parse(final BufferedReader reader) throws IOException
    {
        return fromEvents(TraceParser.parse(reader).events());
    }

    /** @return the {@code iommu:map}/{@code iommu:unmap} events among {@code events}, in order. */
    public static IommuTrace fromEvents(final List<TraceEvent> events)
    {
        int n = 0;
        for (final TraceEvent e : events)
        {
            n += isIommu(e) ? 1 : 0;
        }
        final int[] kind = new int[n];
        final int[] cpu = new int[n];
        final long[] ts = new long[n];
        final long[] iova = new long[n];
        final long[] end = new long[n];
        final long[] paddr = new long[n];
        final long[] size = new long[n];
        int i = 0;
        for (final TraceEvent e : events)
        {
            if (!isIommu(e))
            {
                continue;
            }
            kind[i] = e.type() == TraceEvent.Type.IOMMU_MAP ? IommuTrace.MAP : IommuTrace.UNMAP;
            cpu[i] = e.cpu();
            ts[i] = e.timestampNanos();
            iova[i] = e.dma();
            end[i] = e.dma() + e.size();
            paddr[i] = e.type() == TraceEvent.Type.IOMMU_MAP ? e.phys() : -1;
            size[i] = e.size();
            i++;
        }
        return new IommuTrace(n, kind, cpu, ts, iova, end, paddr, size);
    }

    private static boolean isIommu(final TraceEvent e)
    {
        return e.type() == TraceEvent.Type.IOMMU_MAP || e.type() == TraceEvent.Type.IOMMU_UNMAP;
    }
}
