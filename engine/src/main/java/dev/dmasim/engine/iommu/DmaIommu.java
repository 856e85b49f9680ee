package dev.dmasim.engine.iommu;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.Errno;
import dev.dmasim.engine.FlushQueueConfig;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.core.DeviceContext;
import dev.dmasim.engine.core.DmaOps;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.direct.DmaDirect;
import dev.dmasim.engine.iova.IovaDomain;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.engine.trace.DmaTracer;
import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.iommu.IoPageTable;
import dev.dmasim.sim.iommu.IommuDomain;
import dev.dmasim.sim.iommu.IommuProt;
import dev.dmasim.sim.mem.PageAllocator;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicLong;

import static dev.dmasim.engine.core.DeviceContext.hex16;

/**
 * dma-iommu ({@code drivers/iommu/dma-iommu.c}): streaming mappings through an IOMMU DMA (strict) or
 * DMA-FQ (lazy) domain. Each device has its own domain and IOVA allocator (its own IOMMU group). IOVAs are
 * size-aligned and allocated top-down, below 4 GiB first for PCI devices; small sizes come from the per-CPU
 * magazine caches. Strict mode invalidates the IOTLB before an IOVA is reused; lazy mode queues it in the
 * per-CPU flush queue (256 entries / 10 ms). Untrusted devices bounce sub-granule buffers through swiotlb
 * with zeroed padding. Granule 4 KiB. Thread-safe; the rcache-hit map/unmap path takes no global lock.
 *
 * <p>Deliberate differences from the kernel, each to keep a driver bug from corrupting the simulator:
 * an unmap that finds less mapped than it was asked to unmap is logged and its IOVA is not freed (the
 * kernel WARNs and frees, which can hand one IOVA out twice); {@code iovaDestroy} frees the whole
 * allocation, not {@code mapped_len} (the kernel frees a shorter range when the caller passes less);
 * coherent allocations are physically contiguous ({@code iommu_dma_alloc_remap} is not modelled).
 */
public final class DmaIommu implements DmaOps
{
    /** The IOVA granule (bytes): the smallest IOMMU page. */
    public static final long GRANULE = 4096;
    private static final long GMASK = GRANULE - 1;
    private static final int SHIFT = 12;
    /** 48-bit input addresses: the domain aperture's end. */
    private static final long APERTURE_END = (1L << 48) - 1;
    /** {@code iova_rcache_range()}: mappings above this skip the IOVA caches. */
    public static final long RCACHE_RANGE = GRANULE << 5;

    private static final int PROT_READ = IommuProt.READ;
    private static final int PROT_WRITE = IommuProt.WRITE;
    private static final int PROT_CACHE = IommuProt.CACHE;
    private static final int PROT_MMIO = IommuProt.MMIO;
    private static final int PROT_PRIV = IommuProt.PRIV;

    private static final int WARN_UNMAP_SIZE = 3;
    private static final int WARN_NO_BOUNCE = 4;
    private static final int WARN_LINK_ALIGN = 5;
    private static final int WARN_ALIGN = 6;
    private static final int WARN_IOVA_TO_PHYS = 7;

    /** Per-device dma-iommu state: the domain's {@code iommu_dma_cookie}. */
    static final class Cookie
    {
        final IommuDomain domain;
        final IovaDomain iovad;
        final FlushQueue fq;

        Cookie(final IommuDomain domain, final IovaDomain iovad, final FlushQueue fq)
        {
            this.domain = domain;
            this.iovad = iovad;
            this.fq = fq;
        }
    }

    private final EngineContext eng;
    private final DmaDirect direct;
    private final FlushQueueConfig fqConfig;
    private volatile ScheduledThreadPoolExecutor timer;
    private final AtomicLong strictInvalidations = new AtomicLong();
    private final AtomicLong lazyFlushes = new AtomicLong();
    private final AtomicLong iovaSyncs = new AtomicLong();
    private final java.util.Set<Cookie> cookies = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public DmaIommu(final EngineContext eng, final DmaDirect direct, final FlushQueueConfig fqConfig)
    {
        this.eng = eng;
        this.direct = direct;
        this.fqConfig = fqConfig;
    }

    private ScheduledThreadPoolExecutor timer()
    {
        ScheduledThreadPoolExecutor t = timer;
        if (t == null)
        {
            synchronized (this)
            {
                t = timer;
                if (t == null)
                {
                    t = new ScheduledThreadPoolExecutor(1, r ->
                    {
                        final Thread th = new Thread(r, "dmasim-fq-timer");
                        th.setDaemon(true);
                        return th;
                    });
                    t.setRemoveOnCancelPolicy(true);
                    timer = t;
                }
            }
        }
        return t;
    }

    /** {@code iommu_setup_dma_ops} + {@code iommu_dma_init_domain}: gives the device a DMA or DMA-FQ domain. */
    public void attach(final DeviceContext d, final boolean lazy)
    {
        final IommuDomain domain = eng.iommu.allocDomain(lazy ? DomainType.DMA_FQ : DomainType.DMA);
        final IovaDomain iovad = new IovaDomain(GRANULE, 1, eng.cpu.cpus());
        FlushQueue fq = null;
        if (lazy)
        {
            fq = new FlushQueue(eng.cpu.cpus(), fqConfig.entries(), fqConfig.single(), fqConfig.timeoutMillis(),
                () ->
                {
                    eng.iommu.invalidateDomain(domain);
                    lazyFlushes.incrementAndGet();
                },
                (pfn, pages, cpu) -> iovad.freeIovaFast(pfn, pages, cpu), timer());
        }
        final Cookie cookie = new Cookie(domain, iovad, fq);
        cookies.add(cookie);
        d.backendState = cookie;
        d.bus.attach(domain);
        d.pci32bitWorkaround = true;
    }

    /** Tears the device's domain down: drains its flush queue, detaches the bus, frees the page table. */
    public void detach(final DeviceContext d)
    {
        final Cookie c = (Cookie)d.backendState;
        if (c == null)
        {
            return;
        }
        if (c.fq != null)
        {
            c.fq.flushTimeout();
        }
        d.bus.attach(null);
        eng.iommu.invalidateDomain(c.domain);
        eng.iommu.freeDomain(c.domain);
        cookies.remove(c);
        d.backendState = null;
    }

    /** Drains every lazy flush queue now. */
    public void flushAll()
    {
        for (final Cookie c : cookies)
        {
            if (c.fq != null)
            {
                c.fq.flushTimeout();
            }
        }
    }

    /**
     * Returns every IOVA held in the magazine caches and depots of every translated device to its tree
     * ({@code free_cpu_cached_iovas} + {@code free_global_cached_iovas}). Call with no mapping in flight.
     */
    public void flushIovaCaches()
    {
        for (final Cookie c : cookies)
        {
            c.iovad.flushRcaches();
        }
    }

    /** Stops the flush-queue timer thread. */
    public void close()
    {
        flushAll();
        final ScheduledThreadPoolExecutor t = timer;
        if (t != null)
        {
            t.shutdownNow();
        }
    }

    /** @return IOTLB invalidations issued by strict unmaps. */
    public long strictInvalidations()
    {
        return strictInvalidations.get();
    }

    /** @return IOTLB flushes issued by lazy flush queues. */
    public long lazyFlushes()
    {
        return lazyFlushes.get();
    }

    /** @return IOVAs waiting in flush queues (a snapshot). */
    public long pendingFlushes()
    {
        long n = 0;
        for (final Cookie c : cookies)
        {
            if (c.fq != null)
            {
                n += c.fq.pending();
            }
        }
        return n;
    }

    /** @return the IOVA allocator of a translated device (for statistics and tests), or null. */
    public static IovaDomain iovaDomain(final DeviceContext d)
    {
        final Cookie c = (Cookie)d.backendState;
        return c == null ? null : c.iovad;
    }

    private static Cookie cookie(final DeviceContext d)
    {
        final Cookie c = (Cookie)d.backendState;
        if (c == null)
        {
            throw new IllegalStateException(d.name + ": device has no IOMMU domain (detached)");
        }
        return c;
    }

    static long iovaAlign(final long size)
    {
        return (size + GMASK) & ~GMASK;
    }

    /** {@code dma_info_to_prot}. */
    static int prot(final DmaDirection dir, final boolean coherent, final long attrs)
    {
        int prot = coherent && (attrs & DmaAttrs.MMIO) == 0 ? PROT_CACHE : 0;
        if ((attrs & DmaAttrs.PRIVILEGED) != 0)
        {
            prot |= PROT_PRIV;
        }
        if ((attrs & DmaAttrs.MMIO) != 0)
        {
            prot |= PROT_MMIO;
        }
        return switch (dir)
        {
            case BIDIRECTIONAL -> prot | PROT_READ | PROT_WRITE;
            case TO_DEVICE -> prot | PROT_READ;
            case FROM_DEVICE -> prot | PROT_WRITE;
            case NONE -> 0;
        };
    }

    // ------------------------------------------------------------------------------------------------ IOVA

    /**
     * {@code iommu_dma_alloc_iova}: {@code size} bytes (granule multiple) below {@code dmaLimit}, 32-bit first
     * for PCI devices until the first failure. @return the IOVA (bytes) or 0.
     */
    long allocIova(final DeviceContext d, final Cookie c, final long size, final long dmaLimit, final int cpu)
    {
        final long pages = size >>> SHIFT;
        long limit = Long.compareUnsigned(dmaLimit, APERTURE_END) > 0 ? APERTURE_END : dmaLimit;
        limit = DeviceContext.minNotZero(limit, d.busDmaLimit);
        if (d.pci32bitWorkaround && Long.compareUnsigned(limit, 0xFFFF_FFFFL) > 0)
        {
            final long pfn = c.iovad.allocIovaFast(pages, 0xFFFF_FFFFL >>> SHIFT, false, cpu);
            if (pfn != 0)
            {
                return pfn << SHIFT;
            }
            d.pci32bitWorkaround = false;
            eng.log.log(d.name, "Using " + (64 - Long.numberOfLeadingZeros(limit)) + "-bit DMA addresses");
        }
        final long pfn = c.iovad.allocIovaFast(pages, limit >>> SHIFT, true, cpu);
        return pfn << SHIFT;
    }

    /** {@code iommu_dma_free_iova}: through the flush queue when {@code queued}, else straight back. */
    private static void freeIova(final Cookie c, final long iova, final long size, final boolean queued, final int cpu)
    {
        if (queued)
        {
            c.fq.queue(iova >>> SHIFT, size >>> SHIFT, cpu);
        }
        else
        {
            c.iovad.freeIovaFast(iova >>> SHIFT, size >>> SHIFT, cpu);
        }
    }

    /** {@code __iommu_dma_map}. @return the DMA address or {@link DmaDirect#ERROR}. */
    long map(final DeviceContext d, final long phys, final long size, final int prot, final long dmaMask,
        final int cpu)
    {
        final Cookie c = cookie(d);
        final long iovaOff = phys & GMASK;
        if (d.minAlignMask > GMASK)
        {
            d.warnOnce(WARN_ALIGN, "Unsupported alignment constraint");
            return DmaDirect.ERROR;
        }
        final long len = iovaAlign(size + iovaOff);
        final long iova = allocIova(d, c, len, dmaMask, cpu);
        if (iova == 0)
        {
            return DmaDirect.ERROR;
        }
        if (c.domain.map(iova, phys - iovaOff, len, prot) != 0)
        {
            c.iovad.freeIovaFast(iova >>> SHIFT, len >>> SHIFT, cpu);
            return DmaDirect.ERROR;
        }
        DmaTracer.iommuMap(eng, iova, phys - iovaOff, len);
        return iova + iovaOff;
    }

    /** {@code __iommu_dma_unmap}. */
    void unmap(final DeviceContext d, final long dma, final long size, final int cpu)
    {
        final Cookie c = cookie(d);
        final long iovaOff = dma & GMASK;
        final long start = dma - iovaOff;
        final long len = iovaAlign(size + iovaOff);
        final long unmapped = c.domain.unmap(start, len);
        DmaTracer.iommuUnmap(eng, start, len, unmapped);
        if (unmapped != len)
        {
            // Kernel: WARN_ON and free anyway. We keep the IOVA so a bad unmap cannot hand it out twice.
            d.warnOnce(WARN_UNMAP_SIZE, "WARNING: unmap of IOVA " + hex16(start) + " size " + len + " unmapped "
                + unmapped + " bytes; IOVA not freed");
            if (unmapped > 0)
            {
                eng.iommu.invalidateRange(c.domain, start, unmapped);
            }
            return;
        }
        if (c.fq == null)
        {
            eng.iommu.invalidateRange(c.domain, start, len);
            strictInvalidations.incrementAndGet();
            freeIova(c, start, len, false, cpu);
        }
        else
        {
            freeIova(c, start, len, true, cpu);
        }
    }

    /** {@code dev_use_swiotlb}: untrusted devices bounce anything not granule-aligned. */
    private static boolean useSwiotlb(final DeviceContext d)
    {
        return d.untrusted;
    }

    /** {@code iommu_dma_map_swiotlb}. @return the bounce buffer's physical address or {@link DmaDirect#ERROR}. */
    private long mapSwiotlb(final DeviceContext d, final long phys, final long size, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        final Swiotlb swiotlb = eng.swiotlb;
        if (swiotlb == null)
        {
            d.warnOnce(WARN_NO_BOUNCE, "DMA bounce buffers are inactive, unable to map unaligned transaction.");
            return DmaDirect.ERROR;
        }
        // Untrusted devices must not see leftover data around the buffer inside its granules: zero the padding.
        final long tlb = d.untrusted
            ? swiotlb.tblMapSingleZeroPadded(d.name, phys, size, GRANULE, d.minAlignMask, d.segBoundary, dir, attrs, cpu)
            : swiotlb.tblMapSingle(d.name, phys, size, GMASK, d.minAlignMask, d.segBoundary, dir, attrs, cpu);
        if (tlb == Swiotlb.NO_SLOT)
        {
            return DmaDirect.ERROR;
        }
        d.skipSync = false;
        return tlb;
    }

    // ------------------------------------------------------------------------------------------------ single

    @Override
    public long mapPhys(final DeviceContext d, final long phys, final long size, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        final boolean mmio = (attrs & DmaAttrs.MMIO) != 0;
        long p = phys;
        if (useSwiotlb(d) && ((phys | size) & GMASK) != 0)
        {
            if (mmio)
            {
                return DmaDirect.ERROR;
            }
            p = mapSwiotlb(d, phys, size, dir, attrs, cpu);
            if (p == DmaDirect.ERROR)
            {
                return DmaDirect.ERROR;
            }
        }
        if (!d.coherent && (attrs & (DmaAttrs.SKIP_CPU_SYNC | DmaAttrs.MMIO)) == 0)
        {
            DmaDirect.archSyncForDevice(eng, p, size);
        }
        final long iova = map(d, p, size, prot(dir, d.coherent, attrs), d.dmaMask, cpu);
        if (iova == DmaDirect.ERROR && eng.isSwiotlbBuffer(p))
        {
            eng.swiotlb.tblUnmapSingle(d.name, p, size, dir, attrs);
        }
        return iova;
    }

    @Override
    public void unmapPhys(final DeviceContext d, final long dma, final long size, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        if ((attrs & DmaAttrs.MMIO) != 0)
        {
            unmap(d, dma, size, cpu);
            return;
        }
        final long phys = cookie(d).domain.iovaToPhys(dma);
        if (phys == -1)
        {
            d.warnOnce(WARN_IOVA_TO_PHYS, "WARNING: unmap of " + hex16(dma) + ": no translation (not mapped)");
            return;
        }
        if ((attrs & DmaAttrs.SKIP_CPU_SYNC) == 0 && !d.coherent)
        {
            DmaDirect.archSyncForCpu(eng, phys, size, dir);
        }
        unmap(d, dma, size, cpu);
        if (eng.isSwiotlbBuffer(phys))
        {
            eng.swiotlb.tblUnmapSingle(d.name, phys, size, dir, attrs);
        }
    }

    @Override
    public void syncSingleForCpu(final DeviceContext d, final long dma, final long size, final DmaDirection dir)
    {
        final long phys = cookie(d).domain.iovaToPhys(dma);
        if (phys == -1)
        {
            return;
        }
        if (!d.coherent)
        {
            DmaDirect.archSyncForCpu(eng, phys, size, dir);
        }
        if (eng.isSwiotlbBuffer(phys))
        {
            eng.swiotlb.syncSingleForCpu(d.name, phys, size, dir);
        }
    }

    @Override
    public void syncSingleForDevice(final DeviceContext d, final long dma, final long size, final DmaDirection dir)
    {
        final long phys = cookie(d).domain.iovaToPhys(dma);
        if (phys == -1)
        {
            return;
        }
        if (eng.isSwiotlbBuffer(phys))
        {
            eng.swiotlb.syncSingleForDevice(d.name, phys, size, dir);
        }
        if (!d.coherent)
        {
            DmaDirect.archSyncForDevice(eng, phys, size);
        }
    }

    // ------------------------------------------------------------------------------------------------ sg

    @Override
    public int mapSg(final DeviceContext d, final ScatterList sg, final int nents, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        if (useSwiotlb(d))
        {
            return mapSgSwiotlb(d, sg, nents, dir, attrs, cpu);
        }
        if ((attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
        {
            syncSgForDevice(d, sg, nents, dir);
        }
        final long mask = d.segBoundary;
        long iovaLen = 0;
        int prev = -1;
        long prevPhys = 0;
        long prevLen = 0;
        for (int i = 0; i < nents; i++)
        {
            final long sPhys = sg.phys(i);
            final long sIovaOff = sPhys & GMASK;
            final long sLength = sg.length(i);
            final long padLen = (mask - iovaLen + 1) & mask;
            // Stash the unaligned parts in the unused DMA fields, align the CPU side (reversibly).
            sg.setDma(i, sIovaOff, sLength);
            final long aligned = iovaAlign(sLength + sIovaOff);
            sg.setCpu(i, sPhys - sIovaOff, aligned);
            if (padLen != 0 && Long.compareUnsigned(padLen, aligned - 1) < 0)
            {
                sg.setCpu(prev, prevPhys, prevLen + padLen); // entry prev as set by the previous iteration
                iovaLen += padLen;
            }
            iovaLen += aligned;
            prev = i;
            prevPhys = sPhys - sIovaOff;
            prevLen = aligned;
        }
        final Cookie c = cookie(d);
        final long iova = allocIova(d, c, iovaLen, d.dmaMask, cpu);
        if (iova == 0)
        {
            invalidateSg(sg, nents);
            return -Errno.ENOMEM;
        }
        // iommu_map_sg: the entries back to back from iova, one page-table walk per leaf table (not per entry); on
        // failure nothing stays mapped
        final int rc = c.domain.mapSegments(iova, sg, SG_SEGMENTS, nents, prot(dir, d.coherent, attrs));
        if (rc != 0)
        {
            c.iovad.freeIovaFast(iova >>> SHIFT, iovaLen >>> SHIFT, cpu);
            invalidateSg(sg, nents);
            // iommu_dma_map_sg passes -ENOMEM (no page-table page) through; anything else is -EINVAL
            return rc == -Errno.ENOMEM ? -Errno.ENOMEM : -Errno.EINVAL;
        }
        DmaTracer.iommuMapSg(eng, iova, sg, nents);
        return finaliseSg(d, sg, nents, iova);
    }

    /** The CPU side of a scatter list as page-table segments (stateless, so shared). */
    private static final IoPageTable.SegmentSource<ScatterList> SG_SEGMENTS = new IoPageTable.SegmentSource<>()
    {
        @Override
        public long phys(final ScatterList list, final int i)
        {
            return list.phys(i);
        }

        @Override
        public long length(final ScatterList list, final int i)
        {
            return list.length(i);
        }
    };

    /**
     * {@code __finalise_sg}: restores each entry and emits merged DMA segments. Each segment's DMA side is written
     * once, when it is complete (the next segment starts, or the list ends), and entries that start no segment get
     * {@code (-1, 0)} as in the kernel; entry {@code i}'s stash is read before anything is written to it.
     *
     * @return the segment count.
     */
    private static int finaliseSg(final DeviceContext d, final ScatterList sg, final int nents, final long iova)
    {
        final long segMask = d.segBoundary;
        final long maxLen = d.maxSegSize;
        long dmaAddr = iova;
        long curLen = 0;
        boolean open = false; // the kernel's cur_len != 0: the current segment may take the next entry
        int cur = 0;
        int count = 0;
        long curAddr = 0;
        for (int i = 0; i < nents; i++)
        {
            final long sIovaOff = sg.dmaAddress(i);
            final long sLength = sg.dmaLength(i);
            final long sIovaLen = sg.length(i);
            sg.setCpu(i, sg.phys(i) + sIovaOff, sLength);
            if (open && sIovaOff == 0 && (dmaAddr & segMask) != 0 && maxLen - curLen >= sLength)
            {
                curLen += sLength;
            }
            else
            {
                if (count > 0)
                {
                    sg.setDma(cur, curAddr, curLen); // the previous segment is complete
                    cur++;
                }
                curLen = sLength;
                count++;
                curAddr = dmaAddr + sIovaOff;
            }
            if (i != cur)
            {
                sg.setDma(i, -1L, 0);
            }
            dmaAddr += sIovaLen;
            open = sLength + sIovaOff >= sIovaLen;
        }
        if (count > 0)
        {
            sg.setDma(cur, curAddr, curLen);
        }
        return count;
    }

    /** {@code __invalidate_sg}: restore the CPU side after a failed map. */
    private static void invalidateSg(final ScatterList sg, final int nents)
    {
        for (int i = 0; i < nents; i++)
        {
            final long off = sg.dmaAddress(i);
            final long len = sg.dmaLength(i);
            sg.setCpu(i, sg.phys(i) + (off != -1L ? off : 0), len != 0 ? len : sg.length(i));
            sg.setDma(i, -1L, 0);
        }
    }

    private int mapSgSwiotlb(final DeviceContext d, final ScatterList sg, final int nents, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        sg.flags(sg.flags() | ScatterList.FLAG_SWIOTLB);
        for (int i = 0; i < nents; i++)
        {
            final long dma = mapPhys(d, sg.phys(i), sg.length(i), dir, attrs, cpu);
            if (dma == DmaDirect.ERROR)
            {
                for (int j = 0; j < i; j++)
                {
                    unmapPhys(d, sg.dmaAddress(j), sg.dmaLength(j), dir, attrs | DmaAttrs.SKIP_CPU_SYNC, cpu);
                }
                return -Errno.EIO;
            }
            sg.setDma(i, dma, sg.length(i));
        }
        return nents;
    }

    @Override
    public void unmapSg(final DeviceContext d, final ScatterList sg, final int nents, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        if ((sg.flags() & ScatterList.FLAG_SWIOTLB) != 0)
        {
            for (int i = 0; i < nents; i++)
            {
                unmapPhys(d, sg.dmaAddress(i), sg.dmaLength(i), dir, attrs, cpu);
            }
            return;
        }
        if ((attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
        {
            syncSgForCpu(d, sg, nents, dir);
        }
        long start = 0;
        long end = 0;
        for (int i = 0; i < nents; i++)
        {
            if (sg.dmaLength(i) == 0)
            {
                break;
            }
            if (i == 0)
            {
                start = sg.dmaAddress(i);
            }
            end = sg.dmaAddress(i) + sg.dmaLength(i);
        }
        if (end != 0)
        {
            unmap(d, start, end - start, cpu);
        }
    }

    @Override
    public void syncSgForCpu(final DeviceContext d, final ScatterList sg, final int nents, final DmaDirection dir)
    {
        if ((sg.flags() & ScatterList.FLAG_SWIOTLB) != 0)
        {
            for (int i = 0; i < nents; i++)
            {
                syncSingleForCpu(d, sg.dmaAddress(i), sg.length(i), dir);
            }
        }
        else if (!d.coherent)
        {
            for (int i = 0; i < nents; i++)
            {
                DmaDirect.archSyncForCpu(eng, sg.phys(i), sg.length(i), dir);
            }
        }
    }

    @Override
    public void syncSgForDevice(final DeviceContext d, final ScatterList sg, final int nents, final DmaDirection dir)
    {
        if ((sg.flags() & ScatterList.FLAG_SWIOTLB) != 0)
        {
            for (int i = 0; i < nents; i++)
            {
                syncSingleForDevice(d, sg.dmaAddress(i), sg.length(i), dir);
            }
        }
        else if (!d.coherent)
        {
            for (int i = 0; i < nents; i++)
            {
                DmaDirect.archSyncForDevice(eng, sg.phys(i), sg.length(i));
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ alloc

    @Override
    public DmaBuffer alloc(final DeviceContext d, final long size, final boolean coherent, final DmaDirection dir,
        final int cpu)
    {
        final long phys = DmaDirect.allocContiguous(eng, d, size);
        if (phys == PageAllocator.NO_PAGE)
        {
            return null;
        }
        final long bytes = DmaDirect.pageAlign(size);
        final DmaDirection mapDir = coherent ? DmaDirection.BIDIRECTIONAL : dir;
        final long dma = map(d, phys, bytes, prot(mapDir, d.coherent, 0), coherent ? d.coherentMask : d.dmaMask,
            cpu);
        if (dma == DmaDirect.ERROR)
        {
            eng.pages.freePages(phys, DmaDirect.order(bytes));
            return null;
        }
        return new DmaBuffer(phys, dma, bytes, eng.memory.ramSlice(phys, bytes), coherent);
    }

    @Override
    public void free(final DeviceContext d, final DmaBuffer buf, final int cpu)
    {
        unmap(d, buf.dma(), buf.size(), cpu);
        eng.pages.freePages(buf.phys(), DmaDirect.order(buf.size()));
    }

    // ------------------------------------------------------------------------------------------------ limits

    @Override
    public boolean supported(final DeviceContext d, final long mask)
    {
        return true;
    }

    @Override
    public long requiredMask(final DeviceContext d)
    {
        return 0xFFFF_FFFFL;
    }

    @Override
    public long maxMappingSize(final DeviceContext d)
    {
        if (d.untrusted && eng.swiotlb != null)
        {
            return eng.swiotlb.maxMappingSize(d.minAlignMask);
        }
        return Long.MAX_VALUE;
    }

    @Override
    public long optMappingSize(final DeviceContext d)
    {
        return Math.min(maxMappingSize(d), RCACHE_RANGE);
    }

    @Override
    public long mergeBoundary(final DeviceContext d)
    {
        return GMASK;
    }

    @Override
    public boolean needSync(final DeviceContext d, final long dma)
    {
        return true;
    }

    // ------------------------------------------------------------------------------------------------ 2-step

    @Override
    public boolean iovaTryAlloc(final DeviceContext d, final IovaState s, final long phys, final long size,
        final int cpu)
    {
        s.clear();
        if ((size & IovaState.USE_SWIOTLB) != 0)
        {
            return false;
        }
        final long iovaOff = phys & GMASK;
        final long addr = allocIova(d, cookie(d), iovaAlign(size + iovaOff), d.dmaMask, cpu);
        if (addr == 0)
        {
            return false;
        }
        s.set(addr + iovaOff, size);
        return true;
    }

    private static void checkInUse(final DeviceContext d, final IovaState s, final String op)
    {
        if (!s.inUse())
        {
            throw new IllegalArgumentException(d.name + ": " + op + ": the IovaState holds no IOVA allocation");
        }
    }

    private static void checkWithin(final DeviceContext d, final IovaState s, final String op, final long offset,
        final long size)
    {
        final long pad = s.addr() & GMASK;
        final long limit = iovaAlign(s.size() + pad) - pad;
        if (offset < 0 || size < 0 || offset + size > limit || offset + size < offset)
        {
            throw new IllegalArgumentException(d.name + ": " + op + ": [" + offset + ", " + (offset + size)
                + ") is outside the IOVA allocation of " + s.size() + " bytes");
        }
    }

    private int linkRange(final DeviceContext d, final Cookie c, final long addr, final long phys, final long size,
        final DmaDirection dir, final long attrs)
    {
        if (!d.coherent && (attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
        {
            DmaDirect.archSyncForDevice(eng, phys, size);
        }
        final int rc = c.domain.map(addr, phys, size, prot(dir, d.coherent, attrs));
        if (rc == 0)
        {
            DmaTracer.iommuMap(eng, addr, phys, size);
        }
        return rc == 0 ? 0 : rc;
    }

    @Override
    public int iovaLink(final DeviceContext d, final IovaState s, final long phys, final long offset, final long size,
        final DmaDirection dir, final long attrs, final int cpu)
    {
        checkInUse(d, s, "iovaLink");
        checkWithin(d, s, "iovaLink", offset, size);
        final Cookie c = cookie(d);
        final long startPad = phys & GMASK;
        if (startPad != 0 && offset > 0)
        {
            d.warnOnce(WARN_LINK_ALIGN, "WARNING: dma_iova_link of an unaligned physical address at offset "
                + offset + " (only the first link may start unaligned)");
            return -Errno.EIO;
        }
        final int rc;
        if (useSwiotlb(d) && ((phys | size) & GMASK) != 0)
        {
            rc = linkSwiotlb(d, c, s, phys, offset, size, dir, attrs, cpu);
        }
        else
        {
            rc = linkRange(d, c, s.addr() + offset - startPad, phys - startPad, iovaAlign(size + startPad), dir,
                attrs);
        }
        if (rc == 0)
        {
            s.addLinked(size);
        }
        return rc;
    }

    private int bounceAndLink(final DeviceContext d, final Cookie c, final long addr, final long phys,
        final long bounceLen, final DmaDirection dir, final long attrs, final long startPad, final int cpu)
    {
        final long bounce = mapSwiotlb(d, phys, bounceLen, dir, attrs, cpu);
        if (bounce == DmaDirect.ERROR)
        {
            return -Errno.ENOMEM;
        }
        final int rc = linkRange(d, c, addr - startPad, bounce - startPad, iovaAlign(bounceLen), dir, attrs);
        if (rc != 0)
        {
            eng.swiotlb.tblUnmapSingle(d.name, bounce, bounceLen, dir, attrs);
        }
        return rc;
    }

    private int linkSwiotlb(final DeviceContext d, final Cookie c, final IovaState s, final long phys,
        final long offset, final long size, final DmaDirection dir, final long attrs, final int cpu)
    {
        final long startPad = phys & GMASK;
        final long endPad = (phys + size) & GMASK;
        final long addr = s.addr() + offset;
        long mapped = 0;
        long rest = size;
        if (startPad != 0)
        {
            final long bounceLen = Math.min(rest, GRANULE - startPad);
            final int rc = bounceAndLink(d, c, addr, phys, bounceLen, dir, attrs, startPad, cpu);
            if (rc != 0)
            {
                return rc;
            }
            s.markSwiotlb();
            mapped += bounceLen;
            rest -= bounceLen;
            if (rest == 0)
            {
                return 0;
            }
        }
        rest -= endPad;
        int rc = rest > 0 ? linkRange(d, c, addr + mapped, phys + mapped, rest, dir, attrs) : 0;
        if (rc == 0)
        {
            mapped += rest;
            if (endPad != 0)
            {
                rc = bounceAndLink(d, c, addr + mapped, phys + mapped, endPad, dir, attrs, 0, cpu);
                if (rc == 0)
                {
                    s.markSwiotlb();
                }
            }
        }
        if (rc != 0 && mapped > 0)
        {
            // Undo what this link mapped (the kernel unlinks from offset 0; we unlink this link's own range).
            // unlink() debits the linked-byte count, which this failed link never credited: credit it first.
            s.addLinked(mapped);
            unlink(d, s, offset, mapped, dir, attrs, false, cpu);
        }
        return rc;
    }

    @Override
    public int iovaSync(final DeviceContext d, final IovaState s, final long offset, final long size)
    {
        checkInUse(d, s, "iovaSync");
        checkWithin(d, s, "iovaSync", offset, size);
        final long addr = s.addr() + offset;
        final long pad = addr & GMASK;
        eng.iommu.syncMap(cookie(d).domain, addr - pad, iovaAlign(size + pad));
        iovaSyncs.incrementAndGet();
        return 0;
    }

    private void unlinkRangeSlow(final DeviceContext d, final Cookie c, final long start, final long size,
        final DmaDirection dir, final long attrs)
    {
        long addr = start;
        final long end = start + size;
        long pad = addr & GMASK;
        do
        {
            final long phys = c.domain.iovaToPhys(addr);
            if (phys == -1)
            {
                d.warnOnce(WARN_IOVA_TO_PHYS, "WARNING: dma_iova_unlink of " + hex16(addr) + ": not linked");
                return;
            }
            final long len = Math.min(end - addr, GRANULE - pad);
            if (!d.coherent && (attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
            {
                DmaDirect.archSyncForCpu(eng, phys, len, dir);
            }
            if (eng.isSwiotlbBuffer(phys))
            {
                eng.swiotlb.tblUnmapSingle(d.name, phys, len, dir, attrs);
            }
            addr += len;
            pad = 0;
        }
        while (addr < end);
    }

    /** {@code __iommu_dma_iova_unlink}. */
    private void unlink(final DeviceContext d, final IovaState s, final long offset, final long size,
        final DmaDirection dir, final long attrs, final boolean freeIova, final int cpu)
    {
        final Cookie c = cookie(d);
        final long addr = s.addr() + offset;
        final long pad = addr & GMASK;
        if (s.usesSwiotlb() || (!d.coherent && (attrs & DmaAttrs.SKIP_CPU_SYNC) == 0))
        {
            unlinkRangeSlow(d, c, addr, size, dir, attrs);
        }
        final boolean queued = freeIova && c.fq != null;
        final long len = iovaAlign(size + pad);
        final long start = addr - pad;
        final long unmapped = c.domain.unmap(start, len);
        DmaTracer.iommuUnmap(eng, start, len, unmapped);
        if (unmapped != len)
        {
            d.warnOnce(WARN_UNMAP_SIZE, "WARNING: dma_iova unlink of IOVA " + hex16(start) + " size " + len
                + " unmapped " + unmapped + " bytes");
        }
        if (!queued)
        {
            eng.iommu.invalidateRange(c.domain, start, Math.max(len, GRANULE));
            strictInvalidations.incrementAndGet();
        }
        s.addLinked(-size);
        if (freeIova)
        {
            final long allocPad = s.addr() & GMASK;
            freeIova(c, s.addr() - allocPad, iovaAlign(s.size() + allocPad), queued, cpu);
            s.clear();
        }
    }

    @Override
    public void iovaUnlink(final DeviceContext d, final IovaState s, final long offset, final long size,
        final DmaDirection dir, final long attrs, final int cpu)
    {
        checkInUse(d, s, "iovaUnlink");
        checkWithin(d, s, "iovaUnlink", offset, size);
        unlink(d, s, offset, size, dir, attrs, false, cpu);
    }

    @Override
    public void iovaFree(final DeviceContext d, final IovaState s, final int cpu)
    {
        checkInUse(d, s, "iovaFree");
        final long linked = s.linkedBytes();
        if (linked != 0)
        {
            eng.log.log(d.name, "dma_iova_free with " + linked + " bytes still linked at IOVA " + hex16(s.addr())
                + " (unlink first)");
            if (eng.debugEnabled)
            {
                eng.debug.iovaImbalance(d.debugDevice, s.addr(), s.size(), linked, "dma_iova_free");
            }
        }
        final Cookie c = cookie(d);
        final long pad = s.addr() & GMASK;
        freeIova(c, s.addr() - pad, iovaAlign(s.size() + pad), false, cpu);
        s.clear();
    }

    @Override
    public void iovaDestroy(final DeviceContext d, final IovaState s, final long mappedLen, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        checkInUse(d, s, "iovaDestroy");
        if (mappedLen == 0)
        {
            iovaFree(d, s, cpu);
            return;
        }
        checkWithin(d, s, "iovaDestroy", 0, mappedLen);
        final long linked = s.linkedBytes();
        if (linked != mappedLen)
        {
            eng.log.log(d.name, "dma_iova_destroy of " + mappedLen + " bytes but " + linked + " bytes are linked at IOVA "
                + hex16(s.addr()));
            if (eng.debugEnabled)
            {
                eng.debug.iovaImbalance(d.debugDevice, s.addr(), mappedLen, linked, "dma_iova_destroy");
            }
        }
        unlink(d, s, 0, mappedLen, dir, attrs, true, cpu);
    }
}
