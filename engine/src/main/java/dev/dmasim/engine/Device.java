package dev.dmasim.engine;

import dev.dmasim.engine.core.DeviceContext;
import dev.dmasim.engine.core.DmaOps;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.debug.DebugDevice;
import dev.dmasim.engine.direct.DmaDirect;
import dev.dmasim.engine.iommu.DmaIommu;
import dev.dmasim.engine.iova.IovaDomain;
import dev.dmasim.engine.trace.DmaTracer;
import dev.dmasim.engine.trace.jfr.DmaEvents;
import dev.dmasim.engine.trace.jfr.MapEvent;
import dev.dmasim.engine.trace.jfr.UnmapEvent;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.mem.PhysAddressSpace;
import dev.dmasim.sim.mem.PhysicalMemory;


/**
 * An attached device: the kernel's {@code struct device} with its DMA ops, seen from the driver. Every call
 * is thread-safe. Addresses and sizes are bytes; {@link #DMA_MAPPING_ERROR} is the all-ones error value.
 *
 * <p>Errors the kernel reports as values stay values ({@code DMA_MAPPING_ERROR}, 0 from {@link #mapSg},
 * negative errnos). Programming errors the kernel would {@code BUG_ON} or silently corrupt memory with
 * (null arguments, size &lt;= 0, direction NONE, ranges that overflow, a non-MMIO range that is not RAM)
 * throw {@link IllegalArgumentException} naming the device, the argument and the value, and change nothing.
 * Mistakes dma-debug catches (wrong size, double unmap, ...) are reported by {@code DmaEngine.debug()}.
 *
 * <p>Hot paths ({@link #mapPhys}, {@link #unmapPhys}, the syncs) allocate nothing when dma-debug is off.
 */
public final class Device implements DebugDevice
{
    /** {@code DMA_MAPPING_ERROR}: all ones. */
    public static final long DMA_MAPPING_ERROR = -1L;

    private final DeviceContext ctx;
    private final EngineContext eng;
    private final DmaOps ops;
    private final IommuMode mode;
    /** True when {@link #ops} is dma-direct, which needs the caller's CPU slot only to bounce. */
    private final boolean direct;
    /** The engine memory's RAM ranges ({@link #ramRanges}), or null: every RAM check asks the memory. */
    private final RamRange[] ramRanges;
    /**
     * The RAM range the last RAM check found, or null. A racy cache: written with plain stores by any mapping
     * thread, only when it changes. Entries are immutable (final fields), so a reader sees null or a whole entry,
     * never a torn one, and every entry is a true RAM range of an address space whose layout never changes; a
     * stale entry is as valid as a fresh one. The range says nothing about the space being open: every hit
     * re-reads {@link PhysAddressSpace#isClosed()} (volatile), so a map after close throws as before.
     */
    private RamRange ramHint;
    private volatile boolean detached;

    Device(final DmaEngine owner, final DeviceConfig config, final BusDevice bus, final DmaOps ops,
        final IommuMode mode)
    {
        this.eng = owner.context();
        this.ctx = new DeviceContext(eng, config, bus, this, ops);
        this.ops = ops;
        this.mode = mode;
        this.direct = ops instanceof DmaDirect;
        this.ramRanges = owner.ramRanges();
    }

    /** A maximal run {@code [base, end)} of adjacent RAM regions of {@code space}, bytes. Immutable. */
    record RamRange(PhysAddressSpace space, long base, long end)
    {
    }

    /**
     * @return the RAM of {@code memory} as maximal runs of adjacent RAM regions (what {@code isRam} treats as one
     * range), sorted; null unless it is a {@link PhysAddressSpace}, whose regions are fixed at build time (another
     * implementation might change its layout, so its answers are never cached).
     */
    static RamRange[] ramRanges(final PhysicalMemory memory)
    {
        if (!(memory instanceof PhysAddressSpace space))
        {
            return null;
        }
        final RamRange[] runs = new RamRange[space.ramRuns()];
        for (int i = 0; i < runs.length; i++)
        {
            runs[i] = new RamRange(space, space.ramRunBase(i), space.ramRunEnd(i));
        }
        return runs;
    }

    DeviceContext context()
    {
        return ctx;
    }

    /** @return the device's PCI name, e.g. {@code 0000:03:00.0}. */
    public String name()
    {
        return ctx.name;
    }

    /** @return the configuration it was attached with. */
    public DeviceConfig config()
    {
        return ctx.config;
    }

    /** @return the IOMMU mode in effect for this device (untrusted devices are never LAZY). */
    public IommuMode iommuMode()
    {
        return mode;
    }

    /**
     * @return IOVA ranges this dma-iommu device holds now: mapped, linked, or waiting in a lazy flush queue; not
     * those parked in the per-CPU IOVA caches. 0 for a device on dma-direct or after detach. A snapshot (exact
     * when no other thread maps or unmaps); after {@code engine.flushQueues()} it counts only live mappings.
     */
    public long iovaRangesInUse()
    {
        final IovaDomain iovad = DmaIommu.iovaDomain(ctx);
        return iovad == null ? 0 : iovad.liveRanges() - iovad.cachedIovas();
    }

    /** @return the device-facing side: DMA reads and writes through the IOMMU, translation. */
    public BusDevice bus()
    {
        return ctx.bus;
    }

    /** @return the streaming DMA mask ({@code *dev->dma_mask}). */
    public long dmaMask()
    {
        return ctx.dmaMask;
    }

    /** @return the coherent DMA mask. */
    public long coherentMask()
    {
        return ctx.coherentMask;
    }

    /** @return true if the device is cache-coherent. */
    public boolean coherent()
    {
        return ctx.coherent;
    }

    @Override
    public String driverName()
    {
        return ctx.config.driver();
    }

    @Override
    public String deviceName()
    {
        return ctx.name;
    }

    @Override
    public long maxSegmentSize()
    {
        return ctx.maxSegSize;
    }

    @Override
    public long segmentBoundary()
    {
        return ctx.segBoundary;
    }

    // ------------------------------------------------------------------------------------------------ streaming

    /** {@code dma_map_phys}: maps {@code [phys, phys+size)} for the device. @return the DMA address or error. */
    public long mapPhys(final long phys, final long size, final DmaDirection dir, final long attrs)
    {
        checkRange("mapPhys", phys, size, attrs);
        checkDir("mapPhys", dir);
        final MapEvent jfr = DmaEvents.beginMap();
        final long dma;
        if ((attrs & DmaAttrs.REQUIRE_COHERENT) != 0 && !ctx.coherent)
        {
            dma = DMA_MAPPING_ERROR;
        }
        else
        {
            dma = ops.mapPhys(ctx, phys, size, dir, attrs, cpu());
        }
        if (dma == DMA_MAPPING_ERROR)
        {
            eng.counters.mapErrors.increment();
        }
        else
        {
            eng.counters.maps.increment();
        }
        if (eng.debugEnabled)
        {
            eng.debug.mapPhys(this, phys, size, dir, dma, attrs);
        }
        if (eng.checks != null && dma != DMA_MAPPING_ERROR)
        {
            eng.checks.onMap(ctx, phys, size, dir, dma, attrs);
        }
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.mapPhys(ctx.name, phys, dma, size, dir, attrs);
        }
        if (jfr != null)
        {
            DmaEvents.commitMap(jfr, ctx.name, phys, dma, size, dir, 0);
        }
        return dma;
    }

    /** {@code dma_unmap_phys}: size, direction and attrs must be those of the map. */
    public void unmapPhys(final long dma, final long size, final DmaDirection dir, final long attrs)
    {
        checkSize("unmapPhys", size);
        checkDir("unmapPhys", dir);
        final UnmapEvent jfr = DmaEvents.beginUnmap();
        // Report first: a backend may refuse an unmap it cannot honour (e.g. a second unmap of a bounce slot). When
        // dma-debug knows no such mapping, the backend is left alone: it holds nothing to release, and a stale
        // address must not release (or copy back over) whatever reuses its slots now.
        final boolean known = !eng.debugEnabled || eng.debug.unmapPhys(this, dma, size, dir, attrs);
        if (eng.checks != null)
        {
            eng.checks.onUnmap(ctx, dma, size, dir, attrs);
        }
        if (known && dma != DMA_MAPPING_ERROR)
        {
            ops.unmapPhys(ctx, dma, size, dir, attrs, cpu());
        }
        eng.counters.unmaps.increment();
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.unmapPhys(ctx.name, dma, size, dir, attrs);
        }
        if (jfr != null)
        {
            DmaEvents.commitUnmap(jfr, ctx.name, -1L, dma, size, dir, 0);
        }
    }

    /** {@code dma_map_page_attrs}: {@code mapPhys(pfn * 4096 + offset)}; MMIO attrs are refused with an error. */
    public long mapPage(final long pfn, final long offset, final long size, final DmaDirection dir, final long attrs)
    {
        checkLive("mapPage");
        if (pfn < 0 || offset < 0 || pfn > (Long.MAX_VALUE >>> 12))
        {
            throw new IllegalArgumentException(ctx.name + ": mapPage: pfn " + pfn + " / offset " + offset + " invalid");
        }
        if ((attrs & DmaAttrs.MMIO) != 0)
        {
            return DMA_MAPPING_ERROR;
        }
        return mapPhys((pfn << 12) + offset, size, dir, attrs);
    }

    /** {@code dma_unmap_page_attrs}: does nothing when MMIO is passed. */
    public void unmapPage(final long dma, final long size, final DmaDirection dir, final long attrs)
    {
        checkLive("unmapPage");
        if ((attrs & DmaAttrs.MMIO) != 0)
        {
            return;
        }
        unmapPhys(dma, size, dir, attrs);
    }

    /** {@code dma_map_resource}: {@code mapPhys} with {@link DmaAttrs#MMIO}. */
    public long mapResource(final long phys, final long size, final DmaDirection dir, final long attrs)
    {
        return mapPhys(phys, size, dir, attrs | DmaAttrs.MMIO);
    }

    /** {@code dma_unmap_resource}. */
    public void unmapResource(final long dma, final long size, final DmaDirection dir, final long attrs)
    {
        unmapPhys(dma, size, dir, attrs | DmaAttrs.MMIO);
    }

    /** {@code dma_mapping_error}: true for the error value; marks the mapping checked for dma-debug. */
    public boolean mappingError(final long dma)
    {
        checkLive("mappingError");
        if (eng.debugEnabled)
        {
            eng.debug.mappingError(this, dma);
        }
        return dma == DMA_MAPPING_ERROR;
    }

    // ------------------------------------------------------------------------------------------------ sg

    /**
     * {@code dma_map_sg_attrs}: maps entries {@code 0..nents-1}. @return the number of DMA segments (&lt;= nents;
     * an IOMMU may merge), 0 on any error. Unmap and sync with the original {@code nents}.
     */
    public int mapSg(final ScatterList sgl, final int nents, final DmaDirection dir, final long attrs)
    {
        final int ents = mapSgInternal("mapSg", sgl, nents, dir, attrs);
        return Math.max(ents, 0);
    }

    /**
     * {@code dma_map_sgtable}: maps {@code origNents} entries and stores the count in {@code nents}.
     * @return 0, or {@code -EINVAL}, {@code -ENOMEM}, {@code -EIO}, {@code -EREMOTEIO}; {@code -EOPNOTSUPP} for
     * {@link DmaAttrs#REQUIRE_COHERENT} on a non-coherent device.
     */
    public int mapSgtable(final SgTable sgt, final DmaDirection dir, final long attrs)
    {
        if (sgt == null)
        {
            throw new IllegalArgumentException(ctx.name + ": mapSgtable: sg table is null");
        }
        final int ents = mapSgInternal("mapSgtable", sgt.sgl(), sgt.origNents(), dir, attrs);
        if (ents < 0)
        {
            // -EOPNOTSUPP (REQUIRE_COHERENT on a non-coherent device) is returned before any backend runs; other
            // backend values than the four documented ones become -EIO, as in __dma_map_sg_attrs.
            return ents == -Errno.EINVAL || ents == -Errno.ENOMEM || ents == -Errno.EIO || ents == -Errno.EREMOTEIO
                || ents == -Errno.EOPNOTSUPP ? ents : -Errno.EIO;
        }
        sgt.nents(ents);
        return 0;
    }

    private int mapSgInternal(final String op, final ScatterList sgl, final int nents, final DmaDirection dir,
        final long attrs)
    {
        checkSg(op, sgl, nents);
        checkDir(op, dir);
        for (int i = 0; i < nents; i++)
        {
            checkRange(op, sgl.phys(i), sgl.length(i), attrs);
        }
        sgl.clearDma(nents);
        final MapEvent jfr = DmaEvents.beginMap();
        final int ents;
        if ((attrs & DmaAttrs.REQUIRE_COHERENT) != 0 && !ctx.coherent)
        {
            ents = -Errno.EOPNOTSUPP;
        }
        else
        {
            ents = ops.mapSg(ctx, sgl, nents, dir, attrs, cpu());
        }
        if (ents > 0)
        {
            eng.counters.sgMaps.increment();
            if (eng.debugEnabled)
            {
                eng.debug.mapSg(this, sgl, nents, ents, dir, attrs);
            }
            if (eng.checks != null)
            {
                eng.checks.onMapSg(ctx, sgl, nents, ents, dir, attrs);
            }
        }
        else
        {
            eng.counters.mapErrors.increment();
        }
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.mapSgResult(ctx.name, sgl, nents, ents, dir, attrs);
        }
        if (jfr != null)
        {
            DmaEvents.commitMapSg(jfr, ctx.name, sgl, nents, ents, dir);
        }
        return ents;
    }

    /** {@code dma_unmap_sg_attrs}: {@code nents} must be the value passed to {@link #mapSg}, not its result. */
    public void unmapSg(final ScatterList sgl, final int nents, final DmaDirection dir, final long attrs)
    {
        checkSg("unmapSg", sgl, nents);
        checkDir("unmapSg", dir);
        final UnmapEvent jfr = DmaEvents.beginUnmap();
        if (eng.debugEnabled)
        {
            eng.debug.unmapSg(this, sgl, nents, dir);
        }
        if (eng.checks != null)
        {
            eng.checks.onUnmapSg(ctx, sgl, nents);
        }
        ops.unmapSg(ctx, sgl, nents, dir, attrs, cpu());
        eng.counters.sgUnmaps.increment();
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.unmapSg(ctx.name, sgl, nents, dir, attrs);
        }
        if (jfr != null)
        {
            DmaEvents.commitUnmapSg(jfr, ctx.name, sgl, nents, dir);
        }
    }

    /** {@code dma_unmap_sgtable}. */
    public void unmapSgtable(final SgTable sgt, final DmaDirection dir, final long attrs)
    {
        if (sgt == null)
        {
            throw new IllegalArgumentException(ctx.name + ": unmapSgtable: sg table is null");
        }
        unmapSg(sgt.sgl(), sgt.origNents(), dir, attrs);
    }

    // ------------------------------------------------------------------------------------------------ sync

    /** {@code dma_sync_single_for_cpu}: any sub-range of a mapping. */
    public void syncSingleForCpu(final long dma, final long size, final DmaDirection dir)
    {
        syncSingle("syncSingleForCpu", dma, size, dir, true);
    }

    /** {@code dma_sync_single_for_device}. */
    public void syncSingleForDevice(final long dma, final long size, final DmaDirection dir)
    {
        syncSingle("syncSingleForDevice", dma, size, dir, false);
    }

    private void syncSingle(final String op, final long dma, final long size, final DmaDirection dir,
        final boolean forCpu)
    {
        checkSize(op, size);
        checkDir(op, dir);
        // dma-debug checks first (the kernel checks after the sync; the report is the same): a sync of memory
        // no mapping contains is reported and not passed on, since the backend has nothing to sync there; the
        // checks then do not move ownership either (no cache maintenance happened)
        final boolean known = !eng.debugEnabled || eng.debug.syncSingle(this, dma, size, dir, forCpu);
        if (eng.checks != null && known)
        {
            eng.checks.onSync(ctx, dma, size, forCpu);
        }
        if (known && (eng.debugEnabled || !ctx.skipSync))
        {
            if (forCpu)
            {
                ops.syncSingleForCpu(ctx, dma, size, dir);
            }
            else
            {
                ops.syncSingleForDevice(ctx, dma, size, dir);
            }
            eng.counters.syncs.increment();
            final DmaTracer tracer = eng.tracer;
            if (tracer != null)
            {
                tracer.syncSingle(ctx.name, dma, size, dir, forCpu);
            }
        }
    }

    /** {@code dma_sync_sg_for_cpu}: with the {@code nents} given to {@link #mapSg}. */
    public void syncSgForCpu(final ScatterList sgl, final int nents, final DmaDirection dir)
    {
        syncSg("syncSgForCpu", sgl, nents, dir, true);
    }

    /** {@code dma_sync_sg_for_device}. */
    public void syncSgForDevice(final ScatterList sgl, final int nents, final DmaDirection dir)
    {
        syncSg("syncSgForDevice", sgl, nents, dir, false);
    }

    private void syncSg(final String op, final ScatterList sgl, final int nents, final DmaDirection dir,
        final boolean forCpu)
    {
        checkSg(op, sgl, nents);
        checkDir(op, dir);
        if (eng.checks != null)
        {
            eng.checks.onSyncSg(ctx, sgl, nents, forCpu);
        }
        if (!ctx.skipSync || eng.debugEnabled)
        {
            if (forCpu)
            {
                ops.syncSgForCpu(ctx, sgl, nents, dir);
            }
            else
            {
                ops.syncSgForDevice(ctx, sgl, nents, dir);
            }
            eng.counters.syncs.increment();
            final DmaTracer tracer = eng.tracer;
            if (tracer != null)
            {
                tracer.syncSg(ctx.name, sgl, nents, dir, forCpu);
            }
            if (eng.debugEnabled)
            {
                eng.debug.syncSg(this, sgl, nents, dir, forCpu);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ alloc

    /** {@code dma_alloc_coherent}: zeroed, whole pages. @return the buffer, or null when it cannot be satisfied. */
    public DmaBuffer allocCoherent(final long size)
    {
        checkSize("allocCoherent", size);
        final DmaBuffer buf = ops.alloc(ctx, size, true, DmaDirection.BIDIRECTIONAL, eng.cpu.current());
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.alloc(ctx.name, buf, size, DmaDirection.BIDIRECTIONAL, true);
        }
        if (buf != null)
        {
            eng.counters.allocs.increment();
            if (eng.debugEnabled)
            {
                eng.debug.allocCoherent(this, buf.size(), buf.phys(), buf.dma());
            }
            if (eng.checks != null)
            {
                eng.checks.onAlloc(ctx, buf, DmaDirection.BIDIRECTIONAL);
            }
        }
        return buf;
    }

    /** {@code dma_free_coherent}; null is a no-op. */
    public void freeCoherent(final DmaBuffer buf)
    {
        checkLive("freeCoherent");
        if (buf == null)
        {
            return;
        }
        if (eng.debugEnabled)
        {
            eng.debug.freeCoherent(this, buf.size(), buf.phys(), buf.dma());
        }
        if (eng.checks != null)
        {
            eng.checks.onFree(ctx, buf);
        }
        ops.free(ctx, buf, eng.cpu.current());
        eng.counters.frees.increment();
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.free(ctx.name, buf, DmaDirection.BIDIRECTIONAL, true);
        }
    }

    /**
     * {@code dma_alloc_pages}: non-coherent memory (zeroed, whole pages); sync it like a streaming mapping.
     * @return the buffer, or null.
     */
    public DmaBuffer allocPages(final long size, final DmaDirection dir)
    {
        checkSize("allocPages", size);
        checkDir("allocPages", dir);
        final DmaBuffer buf = ops.alloc(ctx, size, false, dir, eng.cpu.current());
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.alloc(ctx.name, buf, size, dir, false);
        }
        if (buf != null)
        {
            eng.counters.allocs.increment();
            if (eng.debugEnabled)
            {
                eng.debug.allocPages(this, buf.size(), buf.phys(), buf.dma(), dir);
            }
            if (eng.checks != null)
            {
                eng.checks.onAlloc(ctx, buf, dir);
            }
        }
        return buf;
    }

    /** {@code dma_free_pages}. */
    public void freePages(final DmaBuffer buf, final DmaDirection dir)
    {
        checkLive("freePages");
        if (buf == null)
        {
            return;
        }
        checkDir("freePages", dir);
        if (eng.debugEnabled)
        {
            eng.debug.freePages(this, buf.size(), buf.phys(), buf.dma(), dir);
        }
        if (eng.checks != null)
        {
            eng.checks.onFree(ctx, buf);
        }
        ops.free(ctx, buf, eng.cpu.current());
        eng.counters.frees.increment();
        final DmaTracer tracer = eng.tracer;
        if (tracer != null)
        {
            tracer.free(ctx.name, buf, dir, false);
        }
    }

    // ------------------------------------------------------------------------------------------------ masks

    /** {@code dma_set_mask}. @return 0 or {@code -EIO} when the backend cannot support the mask. */
    public int setMask(final long mask)
    {
        checkLive("setMask");
        if (!ops.supported(ctx, mask))
        {
            return -Errno.EIO;
        }
        ctx.dmaMask = mask;
        ctx.skipSync = ctx.coherent; // dma_setup_need_sync
        return 0;
    }

    /** {@code dma_set_coherent_mask}. @return 0 or {@code -EIO}. */
    public int setCoherentMask(final long mask)
    {
        checkLive("setCoherentMask");
        if (!ops.supported(ctx, mask))
        {
            return -Errno.EIO;
        }
        ctx.coherentMask = mask;
        return 0;
    }

    /** {@code dma_set_mask_and_coherent}: the coherent mask is set only if the streaming mask was. */
    public int setMaskAndCoherent(final long mask)
    {
        final int rc = setMask(mask);
        if (rc == 0)
        {
            setCoherentMask(mask);
        }
        return rc;
    }

    /** {@code dma_get_required_mask}. */
    public long requiredMask()
    {
        checkLive("requiredMask");
        return ops.requiredMask(ctx);
    }

    /** {@code dma_max_mapping_size}, bytes; {@link Long#MAX_VALUE} for "no limit" (the kernel's SIZE_MAX). */
    public long maxMappingSize()
    {
        checkLive("maxMappingSize");
        return ops.maxMappingSize(ctx);
    }

    /** {@code dma_opt_mapping_size}, bytes. */
    public long optMappingSize()
    {
        checkLive("optMappingSize");
        return ops.optMappingSize(ctx);
    }

    /** {@code dma_get_merge_boundary}: 0 when segments cannot be merged. */
    public long mergeBoundary()
    {
        checkLive("mergeBoundary");
        return ops.mergeBoundary(ctx);
    }

    /** {@code dma_need_sync}. */
    public boolean needSync(final long dma)
    {
        checkLive("needSync");
        if (ctx.skipSync && !eng.debugEnabled)
        {
            return false;
        }
        return ops.needSync(ctx, dma);
    }

    /** {@code dma_need_unmap}: false only for a direct device that skips syncs, with dma-debug off. */
    public boolean needUnmap()
    {
        checkLive("needUnmap");
        return !(mode == IommuMode.NONE || mode == IommuMode.PASSTHROUGH) || !ctx.skipSync || eng.debugEnabled;
    }

    // ------------------------------------------------------------------------------------------------ 2-step

    /** {@code dma_iova_try_alloc}: false (use the streaming API) without an IOMMU, for size 0, or on exhaustion. */
    public boolean iovaTryAlloc(final IovaState s, final long phys, final long size)
    {
        checkState("iovaTryAlloc", s);
        if (size <= 0 || phys < 0)
        {
            s.clear();
            return false;
        }
        return ops.iovaTryAlloc(ctx, s, phys, size, eng.cpu.current());
    }

    /** {@code dma_iova_link}: maps {@code [phys, phys+size)} at {@code addr + offset}, without an IOTLB sync. */
    public int iovaLink(final IovaState s, final long phys, final long offset, final long size,
        final DmaDirection dir, final long attrs)
    {
        checkState("iovaLink", s);
        checkRange("iovaLink", phys, size, attrs);
        checkDir("iovaLink", dir);
        if (offset < 0)
        {
            throw new IllegalArgumentException(ctx.name + ": iovaLink: offset must be >= 0, was " + offset);
        }
        final int rc = ops.iovaLink(ctx, s, phys, offset, size, dir, attrs, eng.cpu.current());
        if (rc == 0)
        {
            eng.counters.iovaLinks.increment();
            if (eng.checks != null)
            {
                eng.checks.onIovaLink(ctx, s, phys, offset, size, dir, attrs);
            }
        }
        return rc;
    }

    /** {@code dma_iova_sync}: makes linked ranges visible to the device; required before use. */
    public int iovaSync(final IovaState s, final long offset, final long size)
    {
        checkState("iovaSync", s);
        final int rc = ops.iovaSync(ctx, s, offset, size);
        if (rc == 0 && eng.checks != null)
        {
            eng.checks.onIovaSync(ctx, s, offset, size);
        }
        return rc;
    }

    /** {@code dma_iova_unlink}: unmaps and syncs the IOTLB at once; the IOVA stays allocated. */
    public void iovaUnlink(final IovaState s, final long offset, final long size, final DmaDirection dir,
        final long attrs)
    {
        checkState("iovaUnlink", s);
        checkSize("iovaUnlink", size);
        checkDir("iovaUnlink", dir);
        ops.iovaUnlink(ctx, s, offset, size, dir, attrs, eng.cpu.current());
        eng.counters.iovaUnlinks.increment();
        if (eng.checks != null)
        {
            eng.checks.onIovaUnlink(ctx, s, offset, size); // after: a refused unlink changes nothing
        }
    }

    /** {@code dma_iova_free}: returns the whole range; everything must be unlinked. */
    public void iovaFree(final IovaState s)
    {
        checkState("iovaFree", s);
        ops.iovaFree(ctx, s, eng.cpu.current());
        if (eng.checks != null)
        {
            eng.checks.onIovaFree(ctx, s);
        }
    }

    /** {@code dma_iova_destroy}: unlinks {@code [0, mappedLen)} and frees, possibly through the flush queue. */
    public void iovaDestroy(final IovaState s, final long mappedLen, final DmaDirection dir, final long attrs)
    {
        checkState("iovaDestroy", s);
        checkDir("iovaDestroy", dir);
        if (mappedLen < 0)
        {
            throw new IllegalArgumentException(ctx.name + ": iovaDestroy: mappedLen must be >= 0, was " + mappedLen);
        }
        ops.iovaDestroy(ctx, s, mappedLen, dir, attrs, eng.cpu.current());
        if (eng.checks != null)
        {
            eng.checks.onIovaDestroy(ctx, s, mappedLen);
        }
    }

    // ------------------------------------------------------------------------------------------------ checks

    /**
     * @return the calling thread's CPU slot for a backend call; {@link DmaDirect#CPU_UNRESOLVED} for dma-direct,
     * which looks it up itself when it bounces (the lookup was a third of a direct map+unmap).
     */
    private int cpu()
    {
        return direct ? DmaDirect.CPU_UNRESOLVED : eng.cpu.current();
    }

    void markDetached()
    {
        detached = true;
    }

    private void checkLive(final String op)
    {
        if (detached)
        {
            throw new IllegalStateException(ctx.name + ": " + op + ": device was detached");
        }
    }

    private void checkSize(final String op, final long size)
    {
        checkLive(op);
        if (size <= 0)
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": size must be > 0, was " + size);
        }
    }

    private void checkRange(final String op, final long phys, final long size, final long attrs)
    {
        checkSize(op, size);
        if (phys < 0 || phys + size < phys)
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": phys 0x" + Long.toHexString(phys) + " + size "
                + size + " overflows the physical address space");
        }
        if ((attrs & DmaAttrs.MMIO) == 0 && !isRam(phys, size))
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": phys 0x" + Long.toHexString(phys) + " size "
                + size + ": [0x" + Long.toHexString(phys) + ", 0x" + Long.toHexString(phys + size)
                + ") is not RAM (map device memory with mapResource/DmaAttrs.MMIO)");
        }
    }

    /**
     * {@code eng.memory.isRam(phys, size)} for a range that does not overflow: a hit in {@link #ramHint} costs two
     * compares and the volatile closed flag; a miss asks the memory (which throws once closed) and remembers the
     * range it found.
     */
    private boolean isRam(final long phys, final long size)
    {
        final RamRange hint = ramHint;
        if (hint != null && phys >= hint.base && phys + size <= hint.end && !hint.space.isClosed())
        {
            return true;
        }
        if (!eng.memory.isRam(phys, size))
        {
            return false;
        }
        final RamRange[] runs = ramRanges;
        if (runs != null)
        {
            for (final RamRange r : runs)
            {
                if (phys >= r.base && phys < r.end)
                {
                    ramHint = r;
                    break;
                }
            }
        }
        return true;
    }

    private void checkDir(final String op, final DmaDirection dir)
    {
        if (dir == null || dir == DmaDirection.NONE)
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": direction must be BIDIRECTIONAL, TO_DEVICE or"
                + " FROM_DEVICE, was " + dir);
        }
    }

    private void checkSg(final String op, final ScatterList sgl, final int nents)
    {
        checkLive(op);
        if (sgl == null)
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": scatterlist is null");
        }
        if (nents < 1 || nents > sgl.capacity())
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": nents must be 1.." + sgl.capacity() + ", was "
                + nents);
        }
    }

    private void checkState(final String op, final IovaState s)
    {
        checkLive(op);
        if (s == null)
        {
            throw new IllegalArgumentException(ctx.name + ": " + op + ": IovaState is null");
        }
    }

    @Override
    public String toString()
    {
        return "Device[" + ctx.name + ", " + mode + (ctx.coherent ? ", coherent" : ", non-coherent")
            + (ctx.untrusted ? ", untrusted" : "") + ", mask=0x" + Long.toHexString(ctx.dmaMask) + "]";
    }
}
