package dev.dmasim.engine.trace.jfr;

import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.mem.MemTx;

/**
 * Engine use: the gates of dmasim's JFR events. {@link #beginMap()}/{@link #beginUnmap()} return null (allocating
 * nothing) unless a running recording enables the event; the check is {@code isEnabled()} on a cached, never
 * committed instance, which JFR's instrumentation turns into a read of the event's configuration. Thread-safe.
 *
 * <p>Event names: {@value MapEvent#NAME}, {@value UnmapEvent#NAME}, {@value IommuFaultEvent#NAME}; enable them with
 * e.g. {@code -XX:StartFlightRecording:settings=default,+dmasim.Map#enabled=true} or
 * {@code recording.enable("dmasim.Map")}.
 */
public final class DmaEvents
{
    private static final MapEvent MAP_PROBE = new MapEvent();
    private static final UnmapEvent UNMAP_PROBE = new UnmapEvent();
    private static final IommuFaultEvent FAULT_PROBE = new IommuFaultEvent();

    private DmaEvents()
    {
    }

    /** @return a begun map event, or null when no recording enables {@value MapEvent#NAME}. */
    public static MapEvent beginMap()
    {
        if (!MAP_PROBE.isEnabled())
        {
            return null;
        }
        final MapEvent e = new MapEvent();
        e.begin();
        return e;
    }

    /** Ends and commits {@code e} (from {@link #beginMap()}, not null). */
    public static void commitMap(final MapEvent e, final String device, final long phys, final long dma,
        final long size, final DmaDirection dir, final int nents)
    {
        e.endAndCommit(device, phys, dma, size, dir, nents);
    }

    /** Ends and commits a {@code dma_map_sg} event: first entry's phys, first segment's DMA address, total bytes. */
    public static void commitMapSg(final MapEvent e, final String device, final ScatterList sgl, final int nents,
        final int ents, final DmaDirection dir)
    {
        commitMap(e, device, sgl.phys(0), ents > 0 ? sgl.dmaAddress(0) : -1L, totalLength(sgl, nents), dir, nents);
    }

    /** Ends and commits a {@code dma_unmap_sg} event. */
    public static void commitUnmapSg(final UnmapEvent e, final String device, final ScatterList sgl, final int nents,
        final DmaDirection dir)
    {
        commitUnmap(e, device, sgl.phys(0), sgl.dmaAddress(0), totalLength(sgl, nents), dir, nents);
    }

    private static long totalLength(final ScatterList sgl, final int nents)
    {
        long n = 0;
        for (int i = 0; i < nents; i++)
        {
            n += sgl.length(i);
        }
        return n;
    }

    /** @return a begun unmap event, or null when no recording enables {@value UnmapEvent#NAME}. */
    public static UnmapEvent beginUnmap()
    {
        if (!UNMAP_PROBE.isEnabled())
        {
            return null;
        }
        final UnmapEvent e = new UnmapEvent();
        e.begin();
        return e;
    }

    /** Ends and commits {@code e} (from {@link #beginUnmap()}, not null). */
    public static void commitUnmap(final UnmapEvent e, final String device, final long phys, final long dma,
        final long size, final DmaDirection dir, final int nents)
    {
        e.endAndCommit(device, phys, dma, size, dir, nents);
    }

    /** @return true if a recording enables {@value IommuFaultEvent#NAME}. */
    public static boolean faultEnabled()
    {
        return FAULT_PROBE.isEnabled();
    }

    /** Commits an {@value IommuFaultEvent#NAME} event; {@code access} 1 read, 2 write; {@code reason} a MemTx code. */
    public static void fault(final String device, final long busAddress, final int access, final int reason,
        final int domainId)
    {
        final IommuFaultEvent e = new IommuFaultEvent();
        if (e.shouldCommit())
        {
            e.device = device;
            e.phys = -1;
            e.dma = busAddress;
            e.size = 4096;
            e.direction = (access & 2) != 0 ? "WRITE" : "READ";
            e.reason = reason == MemTx.PERMISSION_FAULT ? "PERMISSION_FAULT"
                : reason == MemTx.TRANSLATION_FAULT ? "TRANSLATION_FAULT" : "MemTx " + reason;
            e.domain = domainId;
            e.commit();
        }
    }
}
