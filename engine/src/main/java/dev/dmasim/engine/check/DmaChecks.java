package dev.dmasim.engine.check;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.check.CheckReport.Kind;
import dev.dmasim.engine.core.DeviceContext;
import dev.dmasim.sim.bus.Access;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.bus.DmaObserver;
import dev.dmasim.sim.cache.CpuAccessObserver;
import dev.dmasim.sim.cache.CpuCache;
import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.iommu.IommuDomain;
import dev.dmasim.sim.mem.MemTx;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * dmasim's own DMA checkers, beyond dma-debug (reference §7 #16–#19): per live mapping it knows who owns the buffer
 * (CPU or device), whether the device wrote it since the CPU last synced, and, with a CPU cache model, whether the
 * CPU holds dirty lines of it; it remembers recent unmaps. From the driver's calls (hooks in {@code Device}), the
 * device's transfers (a {@link DmaObserver} on each {@link BusDevice}) and the CPU's accesses through
 * {@code DmaEngine.cpuMemory()} (a {@link CpuAccessObserver}) it reports, as {@link CheckReport}s:
 * <ul>
 *   <li>{@link Kind#MISSING_SYNC_FOR_DEVICE}: a non-coherent device reads a TO_DEVICE/BIDIRECTIONAL mapping whose
 *       CPU lines are dirty (needs a cache model: {@code DmaEngine.builder().cache(CacheConfig)});</li>
 *   <li>{@link Kind#MISSING_SYNC_FOR_CPU}: the CPU reads a FROM_DEVICE/BIDIRECTIONAL mapping the device wrote,
 *       before {@code syncSingleForCpu} or the unmap;</li>
 *   <li>{@link Kind#CPU_WRITE_WHILE_DEVICE_OWNS} and {@link Kind#DEVICE_ACCESS_WHILE_CPU_OWNS}: ownership;</li>
 *   <li>{@link Kind#USE_AFTER_UNMAP}: a device access to a recently unmapped bus address, in every mode (silent
 *       success without translation, a fault in strict mode, a fault or a stale hit in lazy mode);</li>
 *   <li>{@link Kind#STALE_IOTLB_ACCESS}: the access succeeded through a stale IOTLB entry; summarised by
 *       {@link #exposureSummary()};</li>
 *   <li>{@link Kind#MISSING_IOVA_SYNC}: the device used a 2-step link before a {@code dma_iova_sync} covered it;</li>
 *   <li>{@link Kind#DEVICE_ACCESS_WRONG_DIRECTION}: the device wrote a TO_DEVICE mapping or read a FROM_DEVICE one
 *       (silent without an IOMMU, a permission fault behind one).</li>
 * </ul>
 * The CPU-side kinds judge the accesses made through {@code DmaEngine.cpuMemory()}, with or without a cache model
 * (without one it is an {@link dev.dmasim.sim.cache.ObservedMemory}); accesses through {@code engine.memory()} or a
 * {@code DmaBuffer.segment()} are not seen.
 * <p>
 * <b>Ownership.</b> A streaming map and {@code syncForDevice} give the buffer to the device; {@code syncForCpu}
 * gives it to the CPU (ownership is per mapping: a partial sync moves the whole mapping); {@code dma_alloc_pages}
 * buffers start CPU-owned; coherent allocations are shared and never checked.
 * <p>
 * <b>2-step IOVA API.</b> Each successful {@code dma_iova_link} is a mapping ({@code "iova"}) with its direction:
 * the link is the map (it cleans the CPU cache for a non-coherent device, unless {@code DMA_ATTR_SKIP_CPU_SYNC}),
 * so the device owns the range from the link on. {@code dma_iova_sync} is an IOTLB sync, not a CPU-cache sync: it
 * moves no ownership, but the kernel requires it before the device uses what was linked, so a device access to a
 * granule no {@code dma_iova_sync} covered since the link is {@link Kind#MISSING_IOVA_SYNC}. A driver that keeps a
 * link and hands it back and forth uses {@code dma_sync_single_for_cpu/_for_device} on its IOVA (dma-iommu honours
 * them on any mapped IOVA). {@code dma_iova_unlink} and {@code dma_iova_destroy} are the unmap: the CPU owns the
 * buffer again (invalidated for the CPU unless SKIP_CPU_SYNC) and a device access afterwards is
 * {@link Kind#USE_AFTER_UNMAP} (a fault after an unlink, which always invalidates; a stale hit or a fault after a lazy
 * destroy, whose IOTLB flush is queued). Links that {@code dma_iova_free}, or a destroy shorter than what was linked,
 * leave behind are retired <i>still mapped</i>: a device access through them succeeds and is reported too. A link is
 * retired whole by the first unlink that overlaps it.
 * <p>
 * <b>MMIO</b> ({@code mapResource}, {@code DMA_ATTR_MMIO}, mapping {@code "resource"} or an MMIO {@code "sg"}): no
 * CPU cache is involved and syncs do not apply, so only the lifetime (use after unmap) and the direction are
 * checked.
 * <p>
 * A report is made once per mapping, kind and ownership epoch (a sync starts a new epoch; an unmapped
 * mapping reports each kind once), so a long burst does not flood the list; every stale-IOTLB access is counted in
 * the exposure summary. The first report is also written to the kernel log.
 * <p>
 * Off by default ({@code DmaEngine.builder().checks(true)} turns it on). When off the engine holds no checker on
 * its hot paths (a null test on a final field) and {@code engine.checks()} is a disabled instance whose queries
 * return nothing. When on, every hooked call and every device or CPU access takes this checker's lock and may
 * allocate (stacks, reports, index entries): it is a debugging tool, not for benchmarks.
 * <p>
 * <b>Invariants / ordering.</b> All mutable state (the live-mapping indexes, the recent-unmap ring, counters,
 * reports) is guarded by one monitor, {@code this}; queries copy under it. Hooks run on the caller's thread: the
 * device's thread for transfers (after the bytes moved), the CPU thread for CPU accesses (after the access, outside
 * any cache lock), the driver's thread for map/unmap/sync. Lock order: this checker, then a cache set lock (the
 * dirty-line query); the cache never calls back while holding a set lock, so there is no cycle. The engine's own
 * CPU-side copies (swiotlb bounces) use an unobserved CPU view, so only the embedder's accesses are judged. A
 * transfer racing with the driver's unmap on another thread is judged in whatever order the two take the lock,
 * as dma-debug does.
 */
@SuppressWarnings("exports") // the on* hooks take the engine-internal DeviceContext: only Device calls them
public final class DmaChecks implements CpuAccessObserver
{
    /** Default number of reports kept (all are counted). */
    public static final int DEFAULT_REPORT_CAPACITY = 1024;
    /** Default number of recent unmaps remembered for use-after-unmap detection. */
    public static final int DEFAULT_RECENT_UNMAPS = 4096;

    private static final long PAGE_SHIFT = 12;
    private static final int STACK_DEPTH = 8;
    private static final StackWalker WALKER = StackWalker.getInstance();
    /** Mapping type of a 2-step link. */
    private static final String IOVA = "iova";
    /** Mapping type of an MMIO single mapping ({@code dma_map_resource}, {@code DMA_ATTR_MMIO}). */
    private static final String RESOURCE = "resource";

    private final boolean enabled;
    private final CpuCache cache;
    private final KernelLog log;
    private final int reportCapacity;
    private final int recentCapacity;

    private final Map<DeviceContext, DeviceState> devices = new IdentityHashMap<>();
    private final HashMap<Long, ArrayList<Mapping>> byCpuPage = new HashMap<>();
    private final ArrayDeque<Mapping> recentUnmaps = new ArrayDeque<>();
    private final ArrayList<CheckReport> reports = new ArrayList<>();
    private final long[] counts = new long[Kind.values().length];
    private final TreeMap<String, Long> exposurePerDevice = new TreeMap<>();
    private long dropped;
    private long exposureCount;
    private long exposureMax;
    private long exposureSum;
    private long visitEpoch;

    /**
     * @param cache the CPU cache model (dirty-line queries), or {@link CpuCache#NONE}.
     * @param log   where the first report is written.
     */
    public DmaChecks(final CpuCache cache, final KernelLog log)
    {
        this(true, cache, log, DEFAULT_REPORT_CAPACITY, DEFAULT_RECENT_UNMAPS);
    }

    private DmaChecks(final boolean enabled, final CpuCache cache, final KernelLog log, final int reportCapacity,
        final int recentCapacity)
    {
        this.enabled = enabled;
        this.cache = cache == null ? CpuCache.NONE : cache;
        this.log = log;
        this.reportCapacity = reportCapacity;
        this.recentCapacity = recentCapacity;
    }

    /** @return an instance that checks nothing (what {@code engine.checks()} is when checks are off). */
    public static DmaChecks disabled()
    {
        return new DmaChecks(false, CpuCache.NONE, null, 0, 0);
    }

    // ================================================================================================ queries

    /** @return true if the checks are on. */
    public boolean enabled()
    {
        return enabled;
    }

    /** @return the reports kept (the first {@link #DEFAULT_REPORT_CAPACITY}), oldest first; a snapshot. */
    public synchronized List<CheckReport> reports()
    {
        return List.copyOf(reports);
    }

    /** @return the kept reports of {@code kind}, oldest first. */
    public synchronized List<CheckReport> reports(final Kind kind)
    {
        final List<CheckReport> out = new ArrayList<>();
        for (final CheckReport r : reports)
        {
            if (r.kind() == kind)
            {
                out.add(r);
            }
        }
        return out;
    }

    /** @return how many reports of {@code kind} were made (kept or not). */
    public synchronized long count(final Kind kind)
    {
        return counts[kind.ordinal()];
    }

    /** @return how many reports were made in total. */
    public synchronized long totalCount()
    {
        long n = 0;
        for (final long c : counts)
        {
            n += c;
        }
        return n;
    }

    /** @return reports made but not kept (the list was full). */
    public synchronized long droppedReports()
    {
        return dropped;
    }

    /** @return the stale-IOTLB exposure of the run so far. */
    public synchronized ExposureSummary exposureSummary()
    {
        return new ExposureSummary(exposureCount, exposureMax,
            exposureCount == 0 ? 0.0 : (double)exposureSum / exposureCount,
            Collections.unmodifiableMap(new TreeMap<>(exposurePerDevice)));
    }

    /** @return live mappings tracked (streaming, sg and allocations). */
    public synchronized int liveMappings()
    {
        int n = 0;
        for (final DeviceState d : devices.values())
        {
            n += d.live.size();
        }
        return n;
    }

    /** Forgets the reports, counters and exposure (not the mappings). */
    public synchronized void clearReports()
    {
        reports.clear();
        java.util.Arrays.fill(counts, 0);
        dropped = 0;
        exposureCount = 0;
        exposureMax = 0;
        exposureSum = 0;
        exposurePerDevice.clear();
    }

    // ================================================================================================ hooks

    /** Engine hook: a device was attached; its transfers are observed from now on. */
    public void onAttach(final DeviceContext d)
    {
        if (!enabled)
        {
            return;
        }
        final DeviceState s;
        synchronized (this)
        {
            s = devices.computeIfAbsent(d, DeviceState::new);
        }
        d.bus.observer(s);
    }

    /** Engine hook: {@code dma_map_phys} returned {@code dma} (not the error value). */
    public synchronized void onMap(final DeviceContext d, final long phys, final long size, final DmaDirection dir,
        final long dma, final long attrs)
    {
        if (!enabled)
        {
            return;
        }
        final boolean mmio = (attrs & DmaAttrs.MMIO) != 0;
        final Mapping m = new Mapping(state(d), mmio ? RESOURCE : "single", dir, false, new long[] {dma},
            new long[] {size}, new long[] {phys}, new long[] {size}, captureStack());
        m.mmio = mmio;
        m.deviceOwns = true;
        register(m);
    }

    /** Engine hook: {@code dma_unmap_phys} is about to run. */
    public synchronized void onUnmap(final DeviceContext d, final long dma, final long size, final DmaDirection dir,
        final long attrs)
    {
        if (!enabled)
        {
            return;
        }
        final Mapping m = state(d).startingAt(dma, (attrs & DmaAttrs.MMIO) != 0 ? RESOURCE : "single");
        if (m != null)
        {
            retire(m);
        }
    }

    /** Engine hook: {@code dma_map_sg} mapped {@code nents} entries into {@code ents} DMA segments. */
    public synchronized void onMapSg(final DeviceContext d, final ScatterList sgl, final int nents, final int ents,
        final DmaDirection dir, final long attrs)
    {
        if (!enabled || ents <= 0)
        {
            return;
        }
        final long[] dma = new long[ents];
        final long[] dmaLen = new long[ents];
        for (int i = 0; i < ents; i++)
        {
            dma[i] = sgl.dmaAddress(i);
            dmaLen[i] = sgl.dmaLength(i);
        }
        final long[] cpu = new long[nents];
        final long[] cpuLen = new long[nents];
        for (int i = 0; i < nents; i++)
        {
            cpu[i] = sgl.phys(i);
            cpuLen[i] = sgl.length(i);
        }
        final Mapping m = new Mapping(state(d), "sg", dir, false, dma, dmaLen, cpu, cpuLen, captureStack());
        m.mmio = (attrs & DmaAttrs.MMIO) != 0;
        m.deviceOwns = true;
        register(m);
    }

    /** Engine hook: {@code dma_unmap_sg} is about to run. */
    public synchronized void onUnmapSg(final DeviceContext d, final ScatterList sgl, final int nents)
    {
        if (!enabled || nents < 1)
        {
            return;
        }
        final Mapping m = state(d).startingAt(sgl.dmaAddress(0), "sg");
        if (m != null)
        {
            retire(m);
        }
    }

    /** Engine hook: {@code dma_sync_single_for_cpu} ({@code forCpu}) or {@code _for_device}, before it runs. */
    public synchronized void onSync(final DeviceContext d, final long dma, final long size, final boolean forCpu)
    {
        if (!enabled)
        {
            return;
        }
        final Mapping m = state(d).covering(dma);
        if (m != null && !m.mmio)
        {
            m.sync(forCpu);
        }
    }

    /** Engine hook: {@code dma_sync_sg_for_cpu}/{@code _for_device}, before it runs. */
    public synchronized void onSyncSg(final DeviceContext d, final ScatterList sgl, final int nents,
        final boolean forCpu)
    {
        if (!enabled || nents < 1)
        {
            return;
        }
        final Mapping m = state(d).startingAt(sgl.dmaAddress(0), "sg");
        if (m != null && !m.mmio)
        {
            m.sync(forCpu);
        }
    }

    /** Engine hook: a coherent ({@code dma_alloc_coherent}) or non-coherent ({@code dma_alloc_pages}) allocation. */
    public synchronized void onAlloc(final DeviceContext d, final DmaBuffer buf, final DmaDirection dir)
    {
        if (!enabled || buf == null)
        {
            return;
        }
        final Mapping m = new Mapping(state(d), buf.coherent() ? "coherent" : "pages", dir, buf.coherent(),
            new long[] {buf.dma()}, new long[] {buf.size()}, new long[] {buf.phys()}, new long[] {buf.size()},
            captureStack());
        m.deviceOwns = false; // dma_alloc_pages: sync for the device before it uses the buffer
        register(m);
    }

    /** Engine hook: the allocation is about to be freed. */
    public synchronized void onFree(final DeviceContext d, final DmaBuffer buf)
    {
        if (!enabled || buf == null)
        {
            return;
        }
        final Mapping m = state(d).startingAt(buf.dma(), buf.coherent() ? "coherent" : "pages");
        if (m != null)
        {
            retire(m);
        }
    }

    // ------------------------------------------------------------------------------------------------ 2-step IOVA

    /** Engine hook: {@code dma_iova_link} of {@code [phys, phys+size)} at {@code s.addr() + offset} returned 0. */
    public synchronized void onIovaLink(final DeviceContext d, final IovaState s, final long phys, final long offset,
        final long size, final DmaDirection dir, final long attrs)
    {
        if (!enabled)
        {
            return;
        }
        final DeviceState dev = state(d);
        IovaLinks links = dev.iovas.get(s);
        if (links != null && links.base != s.addr())
        {
            // The state was allocated anew while it still held links: nothing unlinked them, the IOMMU still maps them.
            retireLinks(links, 0, -1, true);
            links = null;
        }
        if (links == null)
        {
            links = new IovaLinks(s.addr());
            dev.iovas.put(s, links);
        }
        final Mapping m = new Mapping(dev, IOVA, dir, false, new long[] {s.addr() + offset}, new long[] {size},
            new long[] {phys}, new long[] {size}, captureStack());
        m.mmio = (attrs & DmaAttrs.MMIO) != 0;
        m.iotlbSynced = new BitSet();
        m.deviceOwns = true; // the link is the map: the CPU cache was cleaned for the device (unless SKIP_CPU_SYNC)
        register(m);
        links.links.add(m);
    }

    /** Engine hook: {@code dma_iova_sync} of {@code [s.addr() + offset, +size)} returned 0. */
    public synchronized void onIovaSync(final DeviceContext d, final IovaState s, final long offset, final long size)
    {
        if (!enabled || size <= 0)
        {
            return;
        }
        final IovaLinks links = state(d).iovas.get(s);
        if (links == null)
        {
            return;
        }
        final long start = links.base + offset;
        final long first = start >>> PAGE_SHIFT;
        final long last = (start + size - 1) >>> PAGE_SHIFT;
        for (int i = 0; i < links.links.size(); i++)
        {
            links.links.get(i).markIovaSynced(first, last);
        }
    }

    /** Engine hook: {@code dma_iova_unlink} of {@code [s.addr() + offset, +size)} returned. */
    public synchronized void onIovaUnlink(final DeviceContext d, final IovaState s, final long offset, final long size)
    {
        if (!enabled)
        {
            return;
        }
        final IovaLinks links = state(d).iovas.get(s);
        if (links != null)
        {
            retireLinks(links, links.base + offset, size, false);
        }
    }

    /**
     * Engine hook: {@code dma_iova_destroy} of the first {@code mappedLen} bytes returned (the state is cleared):
     * links in that range are unmapped; any others stay mapped in the IOMMU.
     */
    public synchronized void onIovaDestroy(final DeviceContext d, final IovaState s, final long mappedLen)
    {
        if (!enabled)
        {
            return;
        }
        final IovaLinks links = state(d).iovas.remove(s);
        if (links != null)
        {
            if (mappedLen > 0)
            {
                retireLinks(links, links.base, mappedLen, false);
            }
            retireLinks(links, 0, -1, true);
        }
    }

    /** Engine hook: {@code dma_iova_free} returned (the state is cleared): links left stay mapped in the IOMMU. */
    public synchronized void onIovaFree(final DeviceContext d, final IovaState s)
    {
        if (!enabled)
        {
            return;
        }
        final IovaLinks links = state(d).iovas.remove(s);
        if (links != null)
        {
            retireLinks(links, 0, -1, true);
        }
    }

    /**
     * Retires the links overlapping {@code [start, start+len)} of {@code links} ({@code len < 0}: all of them).
     * {@code leftMapped}: the IOMMU still maps them (freed or destroyed without an unlink).
     */
    private void retireLinks(final IovaLinks links, final long start, final long len, final boolean leftMapped)
    {
        for (final Iterator<Mapping> it = links.links.iterator(); it.hasNext(); )
        {
            final Mapping m = it.next();
            if (len < 0 || m.overlapsDma(start, len))
            {
                it.remove();
                m.leftMapped = leftMapped;
                retire(m);
            }
        }
    }

    /** CPU access through {@code engine.cpuMemory()}. */
    @Override
    public synchronized void onCpuAccess(final long phys, final long len, final boolean write)
    {
        if (!enabled || byCpuPage.isEmpty())
        {
            return;
        }
        final long visit = ++visitEpoch;
        final long end = phys + len;
        for (long page = phys >>> PAGE_SHIFT, last = (end - 1) >>> PAGE_SHIFT; page <= last; page++)
        {
            final ArrayList<Mapping> list = byCpuPage.get(page);
            if (list == null)
            {
                continue;
            }
            for (int i = 0; i < list.size(); i++)
            {
                final Mapping m = list.get(i);
                if (m.visit == visit)
                {
                    continue;
                }
                m.visit = visit;
                if (m.shared || !m.deviceOwns || !m.overlapsCpu(phys, len))
                {
                    continue;
                }
                if (write)
                {
                    report(m, Kind.CPU_WRITE_WHILE_DEVICE_OWNS, phys, len, -1, null,
                        "CPU write to [" + hex(phys) + ", +" + len + ") of " + m.describe() + " while the device owns it"
                            + (m.type.equals(IOVA)
                                ? " (after dma_iova_link/dma_sync_single_for_device, before dma_sync_single_for_cpu/"
                                    + "dma_iova_unlink)"
                                : " (after map/dma_sync_*_for_device, before dma_sync_*_for_cpu/unmap)")
                            + ": the device may read stale memory, and a later cache eviction may overwrite what the"
                            + " device wrote");
                }
                else if (m.deviceWrote && m.dir.deviceWrites())
                {
                    report(m, Kind.MISSING_SYNC_FOR_CPU, phys, len, -1, null,
                        "CPU read of [" + hex(phys) + ", +" + len + ") of " + m.describe() + " after the device wrote"
                            + " it, without " + syncCall(m, true) + " or " + (m.type.equals(IOVA) ? "dma_iova_unlink"
                            : "unmap") + " first: missing sync for cpu (stale cache lines may be read)");
                }
            }
        }
    }

    // ================================================================================================ internals

    private DeviceState state(final DeviceContext d)
    {
        return devices.computeIfAbsent(d, DeviceState::new);
    }

    private void register(final Mapping m)
    {
        m.dev.add(m);
        for (int i = 0; !m.mmio && i < m.cpu.length; i++)
        {
            forPages(m.cpu[i], m.cpuLen[i], page -> byCpuPage.computeIfAbsent(page, k -> new ArrayList<>(2)).add(m));
        }
    }

    private void retire(final Mapping m)
    {
        m.dev.remove(m);
        for (int i = 0; !m.mmio && i < m.cpu.length; i++)
        {
            forPages(m.cpu[i], m.cpuLen[i], page ->
            {
                final ArrayList<Mapping> list = byCpuPage.get(page);
                if (list != null)
                {
                    list.remove(m);
                    if (list.isEmpty())
                    {
                        byCpuPage.remove(page);
                    }
                }
            });
        }
        m.unmapNanos = System.nanoTime();
        m.unmapStack = captureStack();
        m.reported = 0;
        recentUnmaps.addFirst(m);
        if (recentUnmaps.size() > recentCapacity)
        {
            recentUnmaps.removeLast();
        }
    }

    private interface PageAction
    {
        void apply(long page);
    }

    private static void forPages(final long addr, final long len, final PageAction action)
    {
        if (len <= 0)
        {
            return;
        }
        for (long page = addr >>> PAGE_SHIFT, last = (addr + len - 1) >>> PAGE_SHIFT; page <= last; page++)
        {
            action.apply(page);
        }
    }

    private Mapping recentCovering(final DeviceState dev, final long busAddr)
    {
        for (final Iterator<Mapping> it = recentUnmaps.iterator(); it.hasNext(); )
        {
            final Mapping m = it.next();
            if (m.dev == dev && m.coversDma(busAddr))
            {
                return m;
            }
        }
        return null;
    }

    /** Called with the lock held. */
    private void deviceAccess(final DeviceState dev, final long busAddr, final long phys, final long len,
        final int access, final int rc, final boolean staleHit)
    {
        final String what = Access.name(access);
        if (!staleHit)
        {
            final Mapping m = dev.covering(busAddr);
            if (m != null)
            {
                if ((access == Access.WRITE ? !m.dir.deviceWrites() : !m.dir.deviceReads()))
                {
                    report(m, Kind.DEVICE_ACCESS_WRONG_DIRECTION, busAddr, len, -1, null,
                        "device " + what + " at bus address " + hex(busAddr) + " (+" + len + ") of " + m.describe()
                            + ": the mapping's direction forbids it (" + (rc == MemTx.OK
                            ? "nothing checks the direction: the access succeeded" : "the access faulted (" + MemTx.name(rc) + ")")
                            + ")");
                }
                if (m.iotlbSynced != null && !m.iovaSynced(busAddr))
                {
                    report(m, Kind.MISSING_IOVA_SYNC, busAddr, len, -1, null,
                        "device " + what + " at IOVA " + hex(busAddr) + " (+" + len + ") of " + m.describe()
                            + " before dma_iova_sync covered it: dma_iova_sync must follow dma_iova_link before the"
                            + " device uses the range (the IOMMU may not see the new page-table entries yet)");
                }
                if (rc != MemTx.OK || m.shared || m.mmio)
                {
                    return;
                }
                if (!m.deviceOwns)
                {
                    report(m, Kind.DEVICE_ACCESS_WHILE_CPU_OWNS, busAddr, len, -1, null,
                        "device " + what + " at bus address " + hex(busAddr) + " (+" + len + ") of " + m.describe()
                            + " while the CPU owns it (after dma_sync_*_for_cpu, before dma_sync_*_for_device)");
                }
                if (access == Access.WRITE)
                {
                    m.deviceWrote = true;
                }
                else if (!dev.ctx.coherent && m.dir.deviceReads())
                {
                    // The lines the device actually reached (the buffer, or its bounce slot: the orig of a bounced
                    // mapping may stay dirty legitimately, the bounce copy read it through the cache).
                    final long line = phys >= 0 ? cache.firstDirtyLine(phys, len) : -1L;
                    if (line >= 0)
                    {
                        report(m, Kind.MISSING_SYNC_FOR_DEVICE, line, len, -1, null,
                            "device read at bus address " + hex(busAddr) + " (+" + len + ") of " + m.describe()
                                + " while CPU cache line " + hex(line) + " is dirty: missing " + syncCall(m, false)
                                + (m.type.equals(IOVA) ? " (dma_iova_link cleans only what the CPU wrote before it,"
                                    + " and nothing with DMA_ATTR_SKIP_CPU_SYNC)" : "")
                                + " (the device read stale memory)");
                    }
                }
                return;
            }
        }
        final Mapping u = recentCovering(dev, busAddr);
        if (u == null)
        {
            return;
        }
        final long since = System.nanoTime() - u.unmapNanos;
        final IommuDomain domain = dev.ctx.bus.domain();
        final boolean translated = domain != null && domain.type() != DomainType.IDENTITY;
        if (staleHit)
        {
            exposureCount++;
            exposureSum += since;
            exposureMax = Math.max(exposureMax, since);
            exposurePerDevice.merge(dev.ctx.name, 1L, Long::sum);
            report(u, Kind.STALE_IOTLB_ACCESS, busAddr, len, since, u.unmapStack,
                "device " + what + " at IOVA " + hex(busAddr) + " (+" + len + ") reached physical " + hex(phys)
                    + " through a stale IOTLB entry " + since + " ns after the unmap of " + u.describe()
                    + " (lazy flush not yet done: exposure window)");
        }
        // A translated access that succeeded without a stale hit reached a live translation the checks do not know of
        // (the IOVA may be reused): not judged, unless the mapping was retired still mapped.
        if (staleHit || !translated || rc != MemTx.OK || u.leftMapped)
        {
            final String outcome = rc != MemTx.OK ? "faulted (" + MemTx.name(rc) + ")"
                : staleHit ? "succeeded through a stale IOTLB entry"
                : !translated ? "succeeded silently (no IOMMU: memory corruption)"
                : "succeeded: the link was never unlinked (dma_iova_free/dma_iova_destroy without dma_iova_unlink),"
                    + " the IOMMU still maps it";
            report(u, Kind.USE_AFTER_UNMAP, busAddr, len, since, u.unmapStack,
                "device " + what + " at bus address " + hex(busAddr) + " (+" + len + ") " + since + " ns after the"
                    + " unmap of " + u.describe() + ": use after unmap; the access " + outcome);
        }
    }

    private void report(final Mapping m, final Kind kind, final long address, final long length, final long since,
        final StackTraceElement[] unmapStack, final String text)
    {
        final int bit = 1 << kind.ordinal();
        if ((m.reported & bit) != 0)
        {
            return;
        }
        m.reported |= bit;
        counts[kind.ordinal()]++;
        final CheckReport r = new CheckReport(kind, m.dev.ctx.name, m.type, m.dma[0], m.cpu[0], m.size(), m.dir,
            address, length, "DMA-CHECK " + m.dev.ctx.name + ": " + kind + ": " + text, m.mapStack, captureStack(),
            unmapStack, since);
        if (reports.size() < reportCapacity)
        {
            reports.add(r);
        }
        else
        {
            dropped++;
        }
        if (totalCountLocked() == 1 && log != null)
        {
            log.log(m.dev.ctx.name, r.message());
        }
    }

    private long totalCountLocked()
    {
        long n = 0;
        for (final long c : counts)
        {
            n += c;
        }
        return n;
    }

    private static StackTraceElement[] captureStack()
    {
        return WALKER.walk(frames -> frames
            .dropWhile(f -> isInternal(f.getClassName()))
            .limit(STACK_DEPTH)
            .map(StackWalker.StackFrame::toStackTraceElement)
            .toArray(StackTraceElement[]::new));
    }

    private static boolean isInternal(final String cls)
    {
        return cls.equals(DmaChecks.class.getName()) || cls.startsWith(DmaChecks.class.getName() + "$")
            || cls.equals("dev.dmasim.engine.Device")
            || cls.startsWith("dev.dmasim.sim.") || cls.startsWith("dev.dmasim.engine.direct.")
            || cls.startsWith("dev.dmasim.engine.iommu.");
    }

    /** @return the call that syncs {@code m} for the CPU or the device, for messages. */
    private static String syncCall(final Mapping m, final boolean forCpu)
    {
        final String to = forCpu ? "_for_cpu" : "_for_device";
        return m.type.equals("sg") ? "dma_sync_sg" + to
            : m.type.equals(IOVA) ? "dma_sync_single" + to + " on the IOVA" : "dma_sync_single" + to;
    }

    private static String hex(final long v)
    {
        return "0x" + Long.toHexString(v);
    }

    /** Per device: its live mappings by DMA page, and its transfer observer. */
    private final class DeviceState implements DmaObserver
    {
        final DeviceContext ctx;
        final ArrayList<Mapping> live = new ArrayList<>();
        final HashMap<Long, ArrayList<Mapping>> byDmaPage = new HashMap<>();
        /** The live links of each 2-step state, by the state's identity. */
        final IdentityHashMap<IovaState, IovaLinks> iovas = new IdentityHashMap<>();

        DeviceState(final DeviceContext ctx)
        {
            this.ctx = ctx;
        }

        void add(final Mapping m)
        {
            live.add(m);
            for (int i = 0; i < m.dma.length; i++)
            {
                forPages(m.dma[i], m.dmaLen[i], page -> byDmaPage.computeIfAbsent(page, k -> new ArrayList<>(2)).add(m));
            }
        }

        void remove(final Mapping m)
        {
            live.remove(m);
            for (int i = 0; i < m.dma.length; i++)
            {
                forPages(m.dma[i], m.dmaLen[i], page ->
                {
                    final ArrayList<Mapping> list = byDmaPage.get(page);
                    if (list != null)
                    {
                        list.remove(m);
                        if (list.isEmpty())
                        {
                            byDmaPage.remove(page);
                        }
                    }
                });
            }
        }

        /** @return the newest live mapping whose DMA ranges contain {@code dma}, or null. */
        Mapping covering(final long dma)
        {
            final ArrayList<Mapping> list = byDmaPage.get(dma >>> PAGE_SHIFT);
            if (list == null)
            {
                return null;
            }
            for (int i = list.size() - 1; i >= 0; i--)
            {
                if (list.get(i).coversDma(dma))
                {
                    return list.get(i);
                }
            }
            return null;
        }

        /** @return the newest live mapping of {@code type} whose first DMA address is {@code dma}, or null. */
        Mapping startingAt(final long dma, final String type)
        {
            final ArrayList<Mapping> list = byDmaPage.get(dma >>> PAGE_SHIFT);
            if (list == null)
            {
                return null;
            }
            for (int i = list.size() - 1; i >= 0; i--)
            {
                final Mapping m = list.get(i);
                if (m.dma[0] == dma && m.type.equals(type))
                {
                    return m;
                }
            }
            return null;
        }

        @Override
        public void onDeviceAccess(final BusDevice dev, final long busAddr, final long phys, final long len,
            final int access, final int memTx, final boolean staleHit)
        {
            synchronized (DmaChecks.this)
            {
                deviceAccess(this, busAddr, phys, len, access, memTx, staleHit);
            }
        }
    }

    /** The links of one 2-step state; {@code base} is the state's address at the first link. Guarded by the lock. */
    private static final class IovaLinks
    {
        final long base;
        final ArrayList<Mapping> links = new ArrayList<>(2);

        IovaLinks(final long base)
        {
            this.base = base;
        }
    }

    /** One live (or recently unmapped) mapping or allocation. Guarded by the checker's lock. */
    private static final class Mapping
    {
        final DeviceState dev;
        final String type;
        final DmaDirection dir;
        final boolean shared;
        final long[] dma;
        final long[] dmaLen;
        final long[] cpu;
        final long[] cpuLen;
        final StackTraceElement[] mapStack;
        /** MMIO: no CPU side (no cache, no ownership, no syncs). */
        boolean mmio;
        /** 2-step links only: the IOVA granules (from the first) a {@code dma_iova_sync} covered; else null. */
        BitSet iotlbSynced;
        /** Retired while the IOMMU still maps it (a 2-step link freed or destroyed without an unlink). */
        boolean leftMapped;
        boolean deviceOwns;
        boolean deviceWrote;
        int reported;
        long visit;
        long unmapNanos;
        StackTraceElement[] unmapStack;

        Mapping(final DeviceState dev, final String type, final DmaDirection dir, final boolean shared,
            final long[] dma, final long[] dmaLen, final long[] cpu, final long[] cpuLen,
            final StackTraceElement[] mapStack)
        {
            this.dev = dev;
            this.type = type;
            this.dir = dir;
            this.shared = shared;
            this.dma = dma;
            this.dmaLen = dmaLen;
            this.cpu = cpu;
            this.cpuLen = cpuLen;
            this.mapStack = mapStack;
        }

        void sync(final boolean forCpu)
        {
            deviceOwns = !forCpu;
            if (forCpu)
            {
                deviceWrote = false;
            }
            reported = 0; // a new ownership epoch
        }

        long size()
        {
            long n = 0;
            for (final long l : cpuLen)
            {
                n += l;
            }
            return n;
        }

        boolean coversDma(final long addr)
        {
            for (int i = 0; i < dma.length; i++)
            {
                if (addr - dma[i] >= 0 && addr - dma[i] < dmaLen[i])
                {
                    return true;
                }
            }
            return false;
        }

        boolean overlapsDma(final long start, final long len)
        {
            for (int i = 0; i < dma.length; i++)
            {
                if (start < dma[i] + dmaLen[i] && dma[i] < start + len)
                {
                    return true;
                }
            }
            return false;
        }

        /** Marks the IOVA granules {@code [first, last]} (absolute granule numbers) synced. */
        void markIovaSynced(final long first, final long last)
        {
            final long base = dma[0] >>> PAGE_SHIFT;
            final long end = (dma[0] + dmaLen[0] - 1) >>> PAGE_SHIFT;
            final long from = Math.max(first, base);
            final long to = Math.min(last, end);
            if (from <= to)
            {
                iotlbSynced.set((int)(from - base), (int)(to - base) + 1);
            }
        }

        boolean iovaSynced(final long busAddr)
        {
            return iotlbSynced.get((int)((busAddr >>> PAGE_SHIFT) - (dma[0] >>> PAGE_SHIFT)));
        }

        boolean overlapsCpu(final long phys, final long len)
        {
            for (int i = 0; i < cpu.length; i++)
            {
                if (phys < cpu[i] + cpuLen[i] && cpu[i] < phys + len)
                {
                    return true;
                }
            }
            return false;
        }

        String describe()
        {
            return type + " mapping [dma=" + hex(dma[0]) + ", phys=" + hex(cpu[0]) + ", size=" + size() + ", "
                + dir.kernelName() + (dma.length > 1 || cpu.length > 1 ? ", " + cpu.length + " entries" : "") + "]";
        }
    }
}
