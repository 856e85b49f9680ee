package dev.dmasim.engine.trace;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.EngineStats;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.engine.iova.IommuTrace;
import dev.dmasim.engine.iova.IommuTraceParser;
import dev.dmasim.engine.iova.IovaOps;
import dev.dmasim.sim.iommu.InvalidationCost;
import dev.dmasim.sim.iommu.IommuConfig;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code dmasim replay}: replays a parsed ftrace trace ({@link TraceParser}) against a freshly built simulated
 * machine of any configuration and reports what happened ({@link ReplayReport}).
 *
 * <p><b>What is replayed.</b> {@code dma:*} events drive the replay when the trace has any mapping event:
 * {@code dma_map_phys}/{@code dma_map_page}/{@code dma_map_resource} become {@code mapPhys} (+ the
 * {@code dma_mapping_error} check a driver makes), {@code dma_unmap_*} {@code unmapPhys} of the mapping the trace's
 * address names, {@code dma_map_sg} {@code mapSg} of the printed entries, {@code dma_unmap_sg} {@code unmapSg} of
 * the live list with the same first physical address, syncs the matching sync, {@code dma_alloc*}/{@code dma_free*}
 * the allocation calls. The trace's size, direction and attrs are passed as printed, so a driver bug in the trace
 * (wrong size, wrong direction) reaches dma-debug as it did in the kernel. Otherwise the {@code iommu:map} /
 * {@code iommu:unmap} events are grouped into the IOVA allocations behind them ({@link IommuTrace#toIovaOps()})
 * and each allocation is replayed as a {@code mapPhys} (one chunk) or {@code mapSg} (several) on one device.
 *
 * <p><b>Devices</b> are attached one per trace device name; a name that is not a PCI BDF gets a synthetic BDF
 * ({@code 0000:80:00.0} onwards); iommu events (which name no device) go to one device named
 * {@value #IOMMU_DEVICE}. <b>Physical addresses</b> go through {@link PhysRelocator}. <b>CPUs</b>: each event is
 * replayed on simulated CPU {@code cpu % cpus} of its trace line.
 *
 * <p><b>Robustness.</b> Every event is replayed inside a catch-all: an exception is reported with the event's line
 * number and the replay goes on. Unmatched unmaps, frees and syncs are findings (and, with dma-debug on, are shown
 * to dma-debug without touching the backends). At the end every device is released, so dma-debug reports what was
 * left mapped ("device driver has pending DMA allocations").
 *
 * <p><b>Limits.</b> {@code dma_map_sg} prints DMA segment lengths, not entry lengths: when the IOMMU merged
 * entries, entry lengths are reconstructed (each entry but the last runs to the end of its page, the last takes
 * the rest), which keeps the IOVA size. A truncated list replays only the printed entries. Allocation addresses
 * are compared only for translated devices (dma-direct's depend on the page allocator's state). Not thread-safe:
 * one replay per instance, on the calling thread.
 */
public final class TraceReplay
{
    /** The name of the device that replays {@code iommu:map}/{@code iommu:unmap} events. */
    public static final String IOMMU_DEVICE = "iommu";

    private static final Pattern BDF = Pattern.compile("^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\\.[0-7]$");
    private static final long PAGE = 4096;

    /**
     * Replay settings.
     *
     * @param iommu        IOMMU mode of the devices; null = auto (STRICT for iommu-event traces, else NONE).
     * @param cpus         simulated CPUs; 0 = auto (highest CPU in the trace + 1).
     * @param swiotlbBytes bounce pool size; 0 disables swiotlb.
     * @param cost         IOTLB invalidation cost model.
     * @param debug        dma-debug on.
     * @param dmaBits      the devices' DMA mask width.
     * @param traceOut     where the replay's own events go (null: nowhere).
     */
    public record Options(IommuMode iommu, int cpus, long swiotlbBytes, InvalidationCost cost, boolean debug,
        int dmaBits, TraceSink traceOut)
    {
        /** @return auto mode and CPUs, 64 MiB swiotlb, no invalidation cost, dma-debug off, 64-bit devices. */
        public static Options defaults()
        {
            return new Options(null, 0, SwiotlbConfig.DEFAULT_SIZE, InvalidationCost.NONE, false, 64, null);
        }

        public Options iommu(final IommuMode m)
        {
            return new Options(m, cpus, swiotlbBytes, cost, debug, dmaBits, traceOut);
        }

        public Options cpus(final int n)
        {
            return new Options(iommu, n, swiotlbBytes, cost, debug, dmaBits, traceOut);
        }

        public Options swiotlbBytes(final long n)
        {
            return new Options(iommu, cpus, n, cost, debug, dmaBits, traceOut);
        }

        public Options cost(final InvalidationCost c)
        {
            return new Options(iommu, cpus, swiotlbBytes, c, debug, dmaBits, traceOut);
        }

        public Options debug(final boolean on)
        {
            return new Options(iommu, cpus, swiotlbBytes, cost, on, dmaBits, traceOut);
        }

        public Options dmaBits(final int bits)
        {
            return new Options(iommu, cpus, swiotlbBytes, cost, debug, bits, traceOut);
        }

        public Options traceOut(final TraceSink sink)
        {
            return new Options(iommu, cpus, swiotlbBytes, cost, debug, dmaBits, sink);
        }
    }

    private static final class Single
    {
        long traceDma;
        long replayDma;
        long size;
        long bytes;
    }

    private static final class Sg
    {
        ScatterList sgl;
        int n;
        long tracePhys0;
        long traceDma0;
        long bytes;
    }

    private static final class Alloc
    {
        long traceDma;
        DmaBuffer buf;
        long bytes;
    }

    private static final class Dev
    {
        Device dev;
        ReplayReport.DeviceResult r;
        final Map<Long, ArrayDeque<Single>> singles = new HashMap<>();
        final List<Sg> sgs = new ArrayList<>();
        final Map<Long, ArrayDeque<Alloc>> allocs = new HashMap<>();
        boolean translated;
    }

    private final ReplayReport report = new ReplayReport();
    private final Map<String, Dev> devs = new LinkedHashMap<>();
    private DmaEngine engine;
    private PhysRelocator reloc;
    private int cpus;

    private TraceReplay()
    {
    }

    /** Replays {@code trace} (read from {@code source}, a name for the report) on a new engine built from {@code o}. */
    public static ReplayReport replay(final String source, final TraceParser.Parsed trace, final Options o)
    {
        return new TraceReplay().run(source, trace, o);
    }

    private ReplayReport run(final String source, final TraceParser.Parsed trace, final Options o)
    {
        report.source = source;
        report.lines = trace.lines();
        report.otherEvents = trace.otherEvents();
        report.malformedCount = trace.malformed().size();
        report.malformed.addAll(trace.malformed().subList(0, Math.min(trace.malformed().size(), ReplayReport.MAX_LISTED)));
        int maxCpu = 0;
        boolean dmaDriven = false;
        boolean hasIommu = false;
        for (final TraceEvent e : trace.events())
        {
            report.eventCounts.merge(e.name(), 1, Integer::sum);
            maxCpu = Math.max(maxCpu, e.cpu());
            switch (e.type())
            {
                case MAP, MAP_SG, MAP_SG_ERR, ALLOC, ALLOC_PAGES -> dmaDriven = true;
                case IOMMU_MAP -> hasIommu = true;
                default ->
                {
                }
            }
        }
        final IommuMode mode = o.iommu() != null ? o.iommu() : hasIommu && !dmaDriven ? IommuMode.STRICT : IommuMode.NONE;
        cpus = o.cpus() > 0 ? o.cpus() : Math.min(4096, maxCpu + 1);
        report.machine.put("iommu", mode.name().toLowerCase());
        report.machine.put("cpus", Integer.toString(cpus));
        report.machine.put("swiotlb", o.swiotlbBytes() > 0 ? (o.swiotlbBytes() >> 20) + "MiB" : "off");
        report.machine.put("cost", o.cost().name());
        report.machine.put("debug", o.debug() ? "on" : "off");
        report.machine.put("dmaBits", Integer.toString(o.dmaBits()));
        report.addressKind = mode.translated() ? "IOVA" : "DMA address";
        try (DmaEngine eng = DmaEngine.builder()
            .cpus(cpus)
            .iommu(mode)
            .swiotlb(o.swiotlbBytes() > 0 ? SwiotlbConfig.defaults().size(o.swiotlbBytes()) : SwiotlbConfig.disabled())
            .iommuConfig(IommuConfig.defaults().withInvalidationCost(o.cost()))
            .debug(o.debug())
            .trace(o.traceOut())
            .build())
        {
            engine = eng;
            reloc = new PhysRelocator(eng);
            if (dmaDriven)
            {
                if (hasIommu)
                {
                    report.notes.add(new ReplayReport.Finding(0, "iommu:map/unmap events not replayed: the dma:*"
                        + " events drive the replay (the simulated IOMMU makes its own)"));
                }
                replayDma(trace.events(), o);
            }
            else if (hasIommu)
            {
                replayIommu(trace.events(), o);
            }
            finish();
        }
        return report;
    }

    // ------------------------------------------------------------------------------------------------ devices

    private Dev device(final String traceName, final Options o)
    {
        Dev d = devs.get(traceName);
        if (d != null)
        {
            return d;
        }
        String bdf = BDF.matcher(traceName).matches() ? (traceName.length() == 7 ? "0000:" + traceName : traceName)
            : null;
        int bus = 0x80 + devs.size();
        while (bdf == null || engine.device(bdf) != null)
        {
            bdf = String.format("0000:%02x:00.0", bus++ & 0xff);
        }
        d = new Dev();
        d.dev = engine.attach(DeviceConfig.pci(bdf).driver("replay").dmaBits(o.dmaBits()));
        d.r = new ReplayReport.DeviceResult(traceName, bdf);
        d.r.mode = d.dev.iommuMode().name().toLowerCase();
        d.translated = d.dev.iommuMode().translated();
        devs.put(traceName, d);
        report.devices.add(d.r);
        return d;
    }

    private long footprint(final Dev d, final long dma, final long len)
    {
        return d.translated ? ((dma & (PAGE - 1)) + len + PAGE - 1) & -PAGE : len;
    }

    private void bind(final int traceCpu)
    {
        engine.cpu().bind(Math.floorMod(traceCpu, cpus));
    }

    // ------------------------------------------------------------------------------------------------ dma events

    private void replayDma(final List<TraceEvent> events, final Options o)
    {
        for (final TraceEvent e : events)
        {
            try
            {
                switch (e.type())
                {
                    case IOMMU_MAP, IOMMU_UNMAP, IOMMU_FAULT, ALLOC_SGT, ALLOC_SGT_ERR, FREE_SGT ->
                    {
                        report.notReplayed.merge(e.name(), 1, Integer::sum);
                        continue;
                    }
                    default ->
                    {
                    }
                }
                final Dev d = device(e.device(), o);
                bind(e.cpu());
                report.replayed++;
                switch (e.type())
                {
                    case MAP -> map(d, e);
                    case UNMAP -> unmap(d, e);
                    case MAP_SG, MAP_SG_ERR -> mapSg(d, e);
                    case UNMAP_SG -> unmapSg(d, e);
                    case SYNC_SINGLE_FOR_CPU, SYNC_SINGLE_FOR_DEVICE -> syncSingle(d, e);
                    case SYNC_SG_FOR_CPU, SYNC_SG_FOR_DEVICE -> syncSg(d, e);
                    case ALLOC, ALLOC_PAGES -> alloc(d, e);
                    case FREE, FREE_PAGES -> free(d, e);
                    default -> throw new IllegalStateException("unexpected " + e.type());
                }
            }
            catch (final RuntimeException | AssertionError ex)
            {
                report.error(e.line(), e.name() + ": " + ex);
            }
        }
    }

    private void map(final Dev d, final TraceEvent e)
    {
        final boolean mmio = (e.attrs() & DmaAttrs.MMIO) != 0;
        final long phys = mmio ? e.phys() : reloc.map(e.phys(), e.size());
        final long dma = d.dev.mapPhys(phys, e.size(), e.dir(), e.attrs());
        final boolean failed = d.dev.mappingError(dma);
        final boolean traceFailed = e.dma() == Device.DMA_MAPPING_ERROR;
        if (failed)
        {
            d.r.mapFailures++;
            report.failure(e.line(), e.name() + " " + e.device() + " size=" + e.size() + " failed in the replay"
                + (traceFailed ? " (as in the trace)" : " (the trace's succeeded)"));
            return;
        }
        d.r.maps++;
        if (traceFailed)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " failed in the trace but succeeded in the replay"
                + " (unmapped at once)");
            d.dev.unmapPhys(dma, e.size(), e.dir(), e.attrs());
            return;
        }
        report.compare(e.line(), e.device(), e.dma(), dma);
        final Single s = new Single();
        s.traceDma = e.dma();
        s.replayDma = dma;
        s.size = e.size();
        s.bytes = footprint(d, dma, e.size());
        d.singles.computeIfAbsent(e.dma(), k -> new ArrayDeque<>()).push(s);
        d.r.add(dma, s.bytes);
    }

    private void unmap(final Dev d, final TraceEvent e)
    {
        if (e.dma() == Device.DMA_MAPPING_ERROR)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " of DMA_MAPPING_ERROR");
            d.dev.unmapPhys(Device.DMA_MAPPING_ERROR, e.size(), e.dir(), e.attrs());
            d.r.unmaps++;
            return;
        }
        final ArrayDeque<Single> q = d.singles.get(e.dma());
        Single s = null;
        if (q != null)
        {
            for (final Iterator<Single> it = q.iterator(); it.hasNext(); )
            {
                final Single c = it.next();
                if (c.size == e.size())
                {
                    s = c;
                    it.remove();
                    break;
                }
            }
            if (s == null)
            {
                s = q.pop(); // a wrong-size unmap: dma-debug says so
            }
            if (q.isEmpty())
            {
                d.singles.remove(e.dma());
            }
        }
        if (s == null)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " dma_addr=0x" + Long.toHexString(e.dma())
                + " size=" + e.size() + ": no live mapping of the device has this address");
            if (engine.debugEnabled())
            {
                engine.debug().unmapPhys(d.dev, e.dma(), e.size(), e.dir(), e.attrs());
            }
            return;
        }
        d.dev.unmapPhys(s.replayDma, e.size(), e.dir(), e.attrs());
        d.r.unmaps++;
        d.r.remove(s.bytes);
    }

    /** Entry lengths for a {@code dma_map_sg} line (see the class comment). */
    static long[] entryLengths(final TraceEvent e)
    {
        final long[] phys = e.physAddrs();
        final int n = phys.length;
        final long[] len = new long[n];
        final long[] sizes = e.sizes();
        if (sizes != null && e.ents() == e.nents() && sizes.length >= n)
        {
            for (int i = 0; i < n; i++)
            {
                len[i] = sizes[i] > 0 ? sizes[i] : PAGE - (phys[i] & (PAGE - 1));
            }
            return len;
        }
        long rest = 0;
        if (sizes != null && !e.truncated())
        {
            for (final long s : sizes)
            {
                rest += s;
            }
        }
        for (int i = 0; i < n; i++)
        {
            len[i] = PAGE - (phys[i] & (PAGE - 1));
            rest -= len[i];
        }
        if (n > 0 && rest > 0)
        {
            len[n - 1] += rest;
        }
        return len;
    }

    private void mapSg(final Dev d, final TraceEvent e)
    {
        final long[] phys = e.physAddrs();
        final int n = phys.length;
        if (n == 0)
        {
            report.failure(e.line(), e.name() + " " + e.device() + ": no entries printed, nothing to replay");
            return;
        }
        if (e.truncated())
        {
            report.notes.add(new ReplayReport.Finding(e.line(), e.name() + " truncated: replayed the " + n
                + " printed entries of " + e.nents()));
        }
        final long[] len = entryLengths(e);
        final ScatterList sgl = new ScatterList(n);
        for (int i = 0; i < n; i++)
        {
            sgl.set(i, (e.attrs() & DmaAttrs.MMIO) != 0 ? phys[i] : reloc.map(phys[i], len[i]), len[i]);
        }
        final int ents = d.dev.mapSg(sgl, n, e.dir(), e.attrs());
        final boolean traceFailed = e.type() == TraceEvent.Type.MAP_SG_ERR;
        if (ents == 0)
        {
            d.r.mapFailures++;
            report.failure(e.line(), e.name() + " " + e.device() + " nents=" + n + " failed in the replay"
                + (traceFailed ? " (as in the trace, err=" + e.err() + ")" : " (the trace's succeeded)"));
            return;
        }
        d.r.sgMaps++;
        if (traceFailed)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " failed in the trace (err=" + e.err()
                + ") but succeeded in the replay (unmapped at once)");
            d.dev.unmapSg(sgl, n, e.dir(), e.attrs());
            return;
        }
        report.compare(e.line(), e.device(), e.dmaAddrs()[0], sgl.dmaAddress(0));
        final Sg s = new Sg();
        s.sgl = sgl;
        s.n = n;
        s.tracePhys0 = phys[0];
        s.traceDma0 = e.dmaAddrs()[0];
        for (int i = 0; i < ents; i++)
        {
            s.bytes += footprint(d, sgl.dmaAddress(i), sgl.dmaLength(i));
        }
        d.sgs.add(s);
        d.r.add(sgl.dmaAddress(0), s.bytes);
    }

    private void unmapSg(final Dev d, final TraceEvent e)
    {
        final long phys0 = e.physAddrs()[0];
        for (int i = d.sgs.size() - 1; i >= 0; i--)
        {
            final Sg s = d.sgs.get(i);
            if (s.tracePhys0 == phys0)
            {
                d.sgs.remove(i);
                d.dev.unmapSg(s.sgl, s.n, e.dir(), e.attrs());
                d.r.sgUnmaps++;
                d.r.remove(s.bytes);
                return;
            }
        }
        report.finding(e.line(), e.name() + " " + e.device() + " phys_addrs[0]=0x" + Long.toHexString(phys0)
            + ": no live sg mapping of the device starts there");
    }

    private void syncSingle(final Dev d, final TraceEvent e)
    {
        final boolean forCpu = e.type() == TraceEvent.Type.SYNC_SINGLE_FOR_CPU;
        long replay = -1;
        final ArrayDeque<Single> q = d.singles.get(e.dma());
        if (q != null)
        {
            replay = q.peek().replayDma;
        }
        else
        {
            for (final ArrayDeque<Single> qq : d.singles.values())
            {
                final Single s = qq.peek();
                if (Long.compareUnsigned(e.dma() - s.traceDma, s.size) < 0)
                {
                    replay = s.replayDma + (e.dma() - s.traceDma);
                    break;
                }
            }
            if (replay == -1)
            {
                for (final ArrayDeque<Alloc> qa : d.allocs.values())
                {
                    final Alloc a = qa.peek();
                    if (Long.compareUnsigned(e.dma() - a.traceDma, a.buf.size()) < 0)
                    {
                        replay = a.buf.dma() + (e.dma() - a.traceDma);
                        break;
                    }
                }
            }
        }
        if (replay == -1)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " dma_addr=0x" + Long.toHexString(e.dma())
                + ": no live mapping of the device contains this address");
            if (engine.debugEnabled())
            {
                engine.debug().syncSingle(d.dev, e.dma(), e.size(), e.dir(), forCpu);
            }
            return;
        }
        if (forCpu)
        {
            d.dev.syncSingleForCpu(replay, e.size(), e.dir());
        }
        else
        {
            d.dev.syncSingleForDevice(replay, e.size(), e.dir());
        }
        d.r.syncs++;
    }

    private void syncSg(final Dev d, final TraceEvent e)
    {
        for (int i = d.sgs.size() - 1; i >= 0; i--)
        {
            final Sg s = d.sgs.get(i);
            if (s.traceDma0 == e.dma())
            {
                if (e.type() == TraceEvent.Type.SYNC_SG_FOR_CPU)
                {
                    d.dev.syncSgForCpu(s.sgl, s.n, e.dir());
                }
                else
                {
                    d.dev.syncSgForDevice(s.sgl, s.n, e.dir());
                }
                d.r.syncs++;
                return;
            }
        }
        report.finding(e.line(), e.name() + " " + e.device() + " dma_addrs[0]=0x" + Long.toHexString(e.dma())
            + ": no live sg mapping of the device starts there");
    }

    private void alloc(final Dev d, final TraceEvent e)
    {
        final boolean coherent = e.type() == TraceEvent.Type.ALLOC;
        final DmaDirection dir = e.dir() == null || e.dir() == DmaDirection.NONE ? DmaDirection.BIDIRECTIONAL : e.dir();
        final DmaBuffer buf = coherent ? d.dev.allocCoherent(e.size()) : d.dev.allocPages(e.size(), dir);
        final boolean traceFailed = e.dma() == 0 && e.virt() <= 0;
        if (buf == null)
        {
            d.r.mapFailures++;
            report.failure(e.line(), e.name() + " " + e.device() + " size=" + e.size() + " failed in the replay"
                + (traceFailed ? " (as in the trace)" : " (the trace's succeeded)"));
            return;
        }
        d.r.allocs++;
        if (traceFailed)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " failed in the trace but succeeded in the replay"
                + " (freed at once)");
            release(d, buf, coherent, dir);
            return;
        }
        if (d.translated)
        {
            report.compare(e.line(), e.device(), e.dma(), buf.dma());
        }
        final Alloc a = new Alloc();
        a.traceDma = e.dma();
        a.buf = buf;
        a.bytes = footprint(d, buf.dma(), buf.size());
        d.allocs.computeIfAbsent(e.dma(), k -> new ArrayDeque<>()).push(a);
        d.r.add(buf.dma(), a.bytes);
    }

    private void release(final Dev d, final DmaBuffer buf, final boolean coherent, final DmaDirection dir)
    {
        if (coherent)
        {
            d.dev.freeCoherent(buf);
        }
        else
        {
            d.dev.freePages(buf, dir);
        }
    }

    private void free(final Dev d, final TraceEvent e)
    {
        final boolean coherent = e.type() == TraceEvent.Type.FREE;
        final DmaDirection dir = e.dir() == null || e.dir() == DmaDirection.NONE ? DmaDirection.BIDIRECTIONAL : e.dir();
        final ArrayDeque<Alloc> q = d.allocs.get(e.dma());
        if (q == null)
        {
            report.finding(e.line(), e.name() + " " + e.device() + " dma_addr=0x" + Long.toHexString(e.dma())
                + ": no live allocation of the device has this address");
            if (engine.debugEnabled())
            {
                if (coherent)
                {
                    engine.debug().freeCoherent(d.dev, e.size(), Math.max(e.phys(), 0), e.dma());
                }
                else
                {
                    engine.debug().freePages(d.dev, e.size(), Math.max(e.phys(), 0), e.dma(), dir);
                }
            }
            return;
        }
        final Alloc a = q.pop();
        if (q.isEmpty())
        {
            d.allocs.remove(e.dma());
        }
        release(d, a.buf, coherent, dir);
        d.r.frees++;
        d.r.remove(a.bytes);
    }

    // ------------------------------------------------------------------------------------------------ iommu events

    private void replayIommu(final List<TraceEvent> events, final Options o)
    {
        final List<TraceEvent> iommuEvents = new ArrayList<>();
        for (final TraceEvent e : events)
        {
            if (e.type() == TraceEvent.Type.IOMMU_MAP || e.type() == TraceEvent.Type.IOMMU_UNMAP)
            {
                iommuEvents.add(e);
            }
            else
            {
                report.notReplayed.merge(e.name(), 1, Integer::sum);
            }
        }
        final IommuTrace it = IommuTraceParser.fromEvents(iommuEvents);
        final IovaOps ops = it.toIovaOps();
        final Dev d = device(IOMMU_DEVICE, o);
        final boolean[] freeEvent = new boolean[it.count()];
        for (int i = 0; i < ops.count(); i++)
        {
            if (ops.kind(i) == IovaOps.FREE)
            {
                freeEvent[ops.eventIndex(i)] = true;
            }
        }
        for (int ev = 0; ev < it.count(); ev++)
        {
            if (it.kind(ev) == IommuTrace.UNMAP && !freeEvent[ev])
            {
                report.finding(iommuEvents.get(ev).line(), "unmap of IOVA 0x" + Long.toHexString(it.iova(ev))
                    + " that no earlier live map covers");
            }
        }
        report.notes.add(new ReplayReport.Finding(0, it.maps() + " iommu:map and " + it.unmaps()
            + " iommu:unmap events = " + ops.allocations() + " IOVA allocations (" + ops.neverFreed()
            + " never freed in the trace), replayed on device " + d.r.bdf + " with direction BIDIRECTIONAL"));
        final Object[] live = new Object[ops.count()];
        for (int i = 0; i < ops.count(); i++)
        {
            final TraceEvent first = iommuEvents.get(ops.eventIndex(i));
            try
            {
                bind(first.cpu());
                report.replayed++;
                if (ops.kind(i) == IovaOps.ALLOC)
                {
                    live[i] = iommuAlloc(d, it, ops, i, first);
                }
                else
                {
                    iommuFree(d, ops, i, live[ops.partner(i)], first);
                    live[ops.partner(i)] = null;
                }
            }
            catch (final RuntimeException | AssertionError ex)
            {
                report.error(first.line(), first.name() + ": " + ex);
            }
        }
    }

    private Object iommuAlloc(final Dev d, final IommuTrace it, final IovaOps ops, final int op, final TraceEvent first)
    {
        final long start = ops.iova(op);
        final long end = start + ops.length(op);
        final int stop = ops.partner(op) >= 0 ? ops.eventIndex(ops.partner(op)) : it.count();
        final List<Integer> members = new ArrayList<>();
        for (int ev = ops.eventIndex(op); ev < stop; ev++)
        {
            if (it.kind(ev) == IommuTrace.MAP && Long.compareUnsigned(it.iova(ev) - start, end - start) < 0)
            {
                members.add(ev);
            }
        }
        members.sort((a, b) -> Long.compareUnsigned(it.iova(a), it.iova(b)));
        final DmaDirection dir = DmaDirection.BIDIRECTIONAL;
        if (members.size() == 1)
        {
            final int ev = members.get(0);
            final long dma = d.dev.mapPhys(reloc.map(it.paddr(ev), it.size(ev)), it.size(ev), dir, 0);
            if (d.dev.mappingError(dma))
            {
                d.r.mapFailures++;
                report.failure(first.line(), "map of " + it.size(ev) + " bytes failed in the replay");
                return null;
            }
            d.r.maps++;
            report.compare(first.line(), IOMMU_DEVICE, start, dma);
            final Single s = new Single();
            s.replayDma = dma;
            s.size = it.size(ev);
            s.bytes = footprint(d, dma, s.size);
            d.r.add(dma, s.bytes);
            return s;
        }
        final ScatterList sgl = new ScatterList(members.size());
        for (int k = 0; k < members.size(); k++)
        {
            final int ev = members.get(k);
            sgl.set(k, reloc.map(it.paddr(ev), it.size(ev)), it.size(ev));
        }
        final int ents = d.dev.mapSg(sgl, members.size(), dir, 0);
        if (ents == 0)
        {
            d.r.mapFailures++;
            report.failure(first.line(), "sg map of " + members.size() + " chunks failed in the replay");
            return null;
        }
        d.r.sgMaps++;
        report.compare(first.line(), IOMMU_DEVICE, start, sgl.dmaAddress(0));
        final Sg s = new Sg();
        s.sgl = sgl;
        s.n = members.size();
        for (int k = 0; k < ents; k++)
        {
            s.bytes += footprint(d, sgl.dmaAddress(k), sgl.dmaLength(k));
        }
        d.r.add(sgl.dmaAddress(0), s.bytes);
        return s;
    }

    private void iommuFree(final Dev d, final IovaOps ops, final int op, final Object mapping, final TraceEvent e)
    {
        if (mapping instanceof Single s)
        {
            d.dev.unmapPhys(s.replayDma, s.size, DmaDirection.BIDIRECTIONAL, 0);
            d.r.unmaps++;
            d.r.remove(s.bytes);
        }
        else if (mapping instanceof Sg s)
        {
            d.dev.unmapSg(s.sgl, s.n, DmaDirection.BIDIRECTIONAL, 0);
            d.r.sgUnmaps++;
            d.r.remove(s.bytes);
        }
        else
        {
            report.notes.add(new ReplayReport.Finding(e.line(), "unmap of an allocation whose map failed in the"
                + " replay: skipped"));
        }
    }

    // ------------------------------------------------------------------------------------------------ end

    private void finish()
    {
        report.keptBlocks = reloc.kept();
        report.relocated.addAll(reloc.moved());
        report.blockCrossings = reloc.crossings();
        final EngineStats st = engine.stats();
        report.stats = st.toMap();
        report.swiotlbPeakSlots = st.swiotlbSlotsHiwater();
        report.swiotlbTotalSlots = st.swiotlbSlotsTotal();
        report.swiotlbFailures = st.swiotlbFailures();
        for (final Dev d : devs.values())
        {
            if (d.r.liveRanges > 0)
            {
                report.finding(0, d.r.traceName + " (" + d.r.bdf + "): " + d.r.liveRanges + " mappings/allocations ("
                    + d.r.liveBytes + " bytes) still live when the trace ends");
            }
            try
            {
                engine.detach(d.dev); // dma-debug: "device driver has pending DMA allocations while released"
            }
            catch (final RuntimeException ex)
            {
                report.error(0, "releasing " + d.r.bdf + ": " + ex);
            }
        }
        final List<DebugReport> reports = engine.debug().reports();
        report.debugReportCount = reports.size();
        for (final DebugReport r : reports)
        {
            report.debugKinds.merge(r.kind().name(), 1, Integer::sum);
            if (report.debugReports.size() < ReplayReport.MAX_LISTED)
            {
                report.debugReports.add(r.message());
            }
        }
    }
}
