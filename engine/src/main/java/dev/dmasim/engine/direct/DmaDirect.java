package dev.dmasim.engine.direct;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.Errno;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.core.DeviceContext;
import dev.dmasim.engine.core.DmaOps;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.Zone;

import static dev.dmasim.engine.core.DeviceContext.hex16;

/**
 * dma-direct ({@code kernel/dma/direct.c}): bus address = physical address (+ the device's
 * {@code dma_range_map} offset), swiotlb bouncing when the address is beyond the device's reach or bouncing
 * is forced, CPU cache maintenance for non-coherent devices. Never merges scatter-gather entries.
 *
 * <p>Thread-safe and lock-free itself; swiotlb takes its per-area locks. The non-bounced map and unmap
 * allocate nothing and never look up the caller's CPU: every {@code cpu} argument may be {@link #CPU_UNRESOLVED}.
 */
public final class DmaDirect implements DmaOps
{
    /** {@code DMA_MAPPING_ERROR}. */
    public static final long ERROR = -1L;
    /** {@code zone_dma_limit} on x86: 24-bit. */
    public static final long ZONE_DMA_LIMIT = (1L << 24) - 1;

    /**
     * The {@code cpu} argument of a caller that has not looked its CPU slot up: dma-direct needs the slot only to
     * bounce (the swiotlb area), so {@code Device} passes this and the slot is resolved there, at most once per map.
     */
    public static final int CPU_UNRESOLVED = -1;

    private static final int WARN_OVERFLOW = 0;
    private static final int WARN_SWIOTLB_OVERFLOW = 1;
    private static final int WARN_NO_BOUNCE = 2;

    private final EngineContext eng;

    public DmaDirect(final EngineContext eng)
    {
        this.eng = eng;
    }

    /** {@code phys_to_dma}. */
    public static long physToDma(final DeviceContext d, final long phys)
    {
        return phys + d.dmaOffset;
    }

    /** {@code dma_to_phys}. */
    public static long dmaToPhys(final DeviceContext d, final long dma)
    {
        return dma - d.dmaOffset;
    }

    /** {@code dma_capable}: the whole range lies at or below {@code min_not_zero(mask, bus limit)}. */
    public static boolean capable(final DeviceContext d, final long dma, final long size)
    {
        if (dma == ERROR)
        {
            return false;
        }
        final long end = dma + size - 1;
        if (Long.compareUnsigned(end, dma) < 0)
        {
            return false;
        }
        return Long.compareUnsigned(end, d.dmaLimit()) <= 0;
    }

    /** {@code arch_sync_dma_for_device} (arm64): clean for every direction. */
    public static void archSyncForDevice(final EngineContext eng, final long phys, final long size)
    {
        eng.cache.clean(phys, size);
    }

    /** {@code arch_sync_dma_for_cpu} (arm64): invalidate unless the device only read. */
    public static void archSyncForCpu(final EngineContext eng, final long phys, final long size, final DmaDirection dir)
    {
        if (dir != DmaDirection.TO_DEVICE)
        {
            eng.cache.invalidate(phys, size);
        }
    }

    @Override
    public long mapPhys(final DeviceContext d, final long phys, final long size, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        final boolean mmio = (attrs & DmaAttrs.MMIO) != 0;
        final Swiotlb swiotlb = eng.swiotlb;
        if (swiotlb != null && swiotlb.forceBounce())
        {
            if (mmio)
            {
                overflow(d, phys, size);
                return ERROR;
            }
            if ((attrs & DmaAttrs.REQUIRE_COHERENT) != 0)
            {
                return ERROR; // REQUIRE_COHERENT never bounces ("dma-direct: prevent SWIOTLB path ...")
            }
            return swiotlbMap(d, phys, size, dir, attrs, cpu);
        }
        if (mmio)
        {
            // MMIO first: no range translation, no cache maintenance, never bounced (the v4 regression fix).
            if (!capable(d, phys, size))
            {
                overflow(d, phys, size);
                return ERROR;
            }
            return phys;
        }
        final long dma = physToDma(d, phys);
        if (!capable(d, dma, size))
        {
            if (swiotlb != null && (attrs & DmaAttrs.REQUIRE_COHERENT) == 0)
            {
                return swiotlbMap(d, phys, size, dir, attrs, cpu);
            }
            overflow(d, dma, size);
            return ERROR;
        }
        if (!d.coherent && (attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
        {
            archSyncForDevice(eng, phys, size);
        }
        return dma;
    }

    private void overflow(final DeviceContext d, final long dma, final long size)
    {
        d.warnOnce(WARN_OVERFLOW, "DMA addr " + hex16(dma) + "+" + size + " overflow (mask " + Long.toHexString(d.dmaMask)
            + ", bus limit " + Long.toHexString(d.busDmaLimit) + ").");
    }

    /** {@code swiotlb_map}: bounce, check the bounce address is reachable, clean it for the device. */
    long swiotlbMap(final DeviceContext d, final long phys, final long size, final DmaDirection dir, final long attrs,
        final int cpu)
    {
        final Swiotlb swiotlb = eng.swiotlb;
        final int slot = cpu == CPU_UNRESOLVED ? eng.cpu.current() : cpu;
        final long tlb = swiotlb.tblMapSingle(d.name, phys, size, 0, d.minAlignMask, d.segBoundary, dir, attrs, slot);
        if (tlb == Swiotlb.NO_SLOT)
        {
            return ERROR;
        }
        d.skipSync = false; // dma_reset_need_sync: syncs matter from now on
        final long dma = physToDma(d, tlb);
        if (!capable(d, dma, size))
        {
            swiotlb.tblUnmapSingle(d.name, tlb, size, dir, attrs | DmaAttrs.SKIP_CPU_SYNC);
            d.warnOnce(WARN_SWIOTLB_OVERFLOW, "swiotlb addr " + hex16(dma) + "+" + size + " overflow (mask "
                + Long.toHexString(d.dmaMask) + ", bus limit " + Long.toHexString(d.busDmaLimit) + ").");
            return ERROR;
        }
        if (!d.coherent && (attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
        {
            archSyncForDevice(eng, tlb, size);
        }
        return dma;
    }

    @Override
    public void unmapPhys(final DeviceContext d, final long dma, final long size, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        if ((attrs & DmaAttrs.MMIO) != 0)
        {
            return;
        }
        final long phys = dmaToPhys(d, dma);
        final boolean bounced = eng.isSwiotlbBuffer(phys);
        if ((attrs & DmaAttrs.SKIP_CPU_SYNC) == 0)
        {
            syncForCpu(d, phys, size, dir, bounced); // the pool lookup done once for the sync and the release
        }
        if (bounced)
        {
            eng.swiotlb.tblUnmapSingle(d.name, phys, size, dir, attrs | DmaAttrs.SKIP_CPU_SYNC);
        }
    }

    @Override
    public void syncSingleForCpu(final DeviceContext d, final long dma, final long size, final DmaDirection dir)
    {
        final long phys = dmaToPhys(d, dma);
        syncForCpu(d, phys, size, dir, eng.isSwiotlbBuffer(phys));
    }

    /** {@code dma_direct_sync_single_for_cpu} at {@code phys}; {@code bounced}: it is a swiotlb buffer. */
    private void syncForCpu(final DeviceContext d, final long phys, final long size, final DmaDirection dir,
        final boolean bounced)
    {
        // Order: invalidate the CPU cache first, then copy the bounce buffer into the (now uncached) original.
        if (!d.coherent)
        {
            archSyncForCpu(eng, phys, size, dir);
        }
        if (bounced)
        {
            eng.swiotlb.syncSingleForCpu(d.name, phys, size, dir);
        }
    }

    @Override
    public void syncSingleForDevice(final DeviceContext d, final long dma, final long size, final DmaDirection dir)
    {
        final long phys = dmaToPhys(d, dma);
        // Order: copy into the bounce buffer first, then clean it out of the CPU cache.
        if (eng.isSwiotlbBuffer(phys))
        {
            eng.swiotlb.syncSingleForDevice(d.name, phys, size, dir);
        }
        if (!d.coherent)
        {
            archSyncForDevice(eng, phys, size);
        }
    }

    @Override
    public int mapSg(final DeviceContext d, final ScatterList sgl, final int nents, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        for (int i = 0; i < nents; i++)
        {
            final long len = sgl.length(i);
            final long dma = mapPhys(d, sgl.phys(i), len, dir, attrs, cpu);
            if (dma == ERROR)
            {
                unmapSg(d, sgl, i, dir, attrs | DmaAttrs.SKIP_CPU_SYNC, cpu);
                return -Errno.EIO;
            }
            sgl.setDma(i, dma, len);
        }
        return nents;
    }

    @Override
    public void unmapSg(final DeviceContext d, final ScatterList sgl, final int nents, final DmaDirection dir,
        final long attrs, final int cpu)
    {
        for (int i = 0; i < nents; i++)
        {
            unmapPhys(d, sgl.dmaAddress(i), sgl.dmaLength(i), dir, attrs, cpu);
        }
    }

    @Override
    public void syncSgForCpu(final DeviceContext d, final ScatterList sgl, final int nents, final DmaDirection dir)
    {
        for (int i = 0; i < nents; i++)
        {
            syncSingleForCpu(d, sgl.dmaAddress(i), sgl.dmaLength(i), dir);
        }
    }

    @Override
    public void syncSgForDevice(final DeviceContext d, final ScatterList sgl, final int nents, final DmaDirection dir)
    {
        for (int i = 0; i < nents; i++)
        {
            syncSingleForDevice(d, sgl.dmaAddress(i), sgl.dmaLength(i), dir);
        }
    }

    @Override
    public DmaBuffer alloc(final DeviceContext d, final long size, final boolean coherent, final DmaDirection dir,
        final int cpu)
    {
        final long phys = allocContiguous(eng, d, size);
        if (phys == PageAllocator.NO_PAGE)
        {
            return null;
        }
        final long bytes = pageAlign(size);
        return new DmaBuffer(phys, physToDma(d, phys), bytes, eng.memory.ramSlice(phys, bytes), coherent);
    }

    /**
     * {@code __dma_direct_alloc_pages}: zone from the coherent mask, retry lower zones while the block is not
     * reachable ({@code dma_coherent_ok}), zero it. Shared with dma-iommu's contiguous allocations.
     *
     * @return the block's physical address or {@link PageAllocator#NO_PAGE}.
     */
    public static long allocContiguous(final EngineContext eng, final DeviceContext d, final long size)
    {
        final long bytes = pageAlign(size);
        final int order = order(bytes);
        if (order > PageAllocator.MAX_ORDER)
        {
            return PageAllocator.NO_PAGE;
        }
        final long limit = DeviceContext.minNotZero(d.coherentMask, d.busDmaLimit);
        Zone zone = Long.compareUnsigned(limit, ZONE_DMA_LIMIT) <= 0 ? Zone.DMA
            : Long.compareUnsigned(limit, 0xFFFF_FFFFL) <= 0 ? Zone.DMA32 : Zone.NORMAL;
        while (true)
        {
            final long phys = eng.pages.allocPages(order, zone);
            if (phys != PageAllocator.NO_PAGE)
            {
                if (Long.compareUnsigned(physToDma(d, phys) + bytes - 1, limit) <= 0)
                {
                    eng.memory.fill(phys, bytes, (byte)0);
                    eng.cache.invalidate(phys, bytes); // arch_dma_prep_coherent: no stale CPU lines over the zeros
                    return phys;
                }
                eng.pages.freePages(phys, order);
            }
            if (zone == Zone.NORMAL)
            {
                zone = Zone.DMA32;
            }
            else if (zone == Zone.DMA32)
            {
                zone = Zone.DMA;
            }
            else
            {
                return PageAllocator.NO_PAGE;
            }
        }
    }

    @Override
    public void free(final DeviceContext d, final DmaBuffer buf, final int cpu)
    {
        eng.pages.freePages(buf.phys(), order(buf.size()));
    }

    /** @return {@code size} rounded up to whole 4 KiB pages. */
    public static long pageAlign(final long size)
    {
        return (size + PageAllocator.PAGE_SIZE - 1) & -PageAllocator.PAGE_SIZE;
    }

    /** @return the smallest order whose block holds {@code bytes}. */
    public static int order(final long bytes)
    {
        final long pages = (bytes + PageAllocator.PAGE_SIZE - 1) >>> PageAllocator.PAGE_SHIFT;
        return pages <= 1 ? 0 : 64 - Long.numberOfLeadingZeros(pages - 1);
    }

    @Override
    public boolean supported(final DeviceContext d, final long mask)
    {
        if (Long.compareUnsigned(mask, 0xFFFF_FFFFL) >= 0)
        {
            return true; // every architecture satisfies 32-bit masks
        }
        final long minMask = Math.min(eng.ramEnd - PageAllocator.PAGE_SIZE, ZONE_DMA_LIMIT);
        return Long.compareUnsigned(mask, physToDma(d, minMask)) >= 0;
    }

    @Override
    public long requiredMask(final DeviceContext d)
    {
        final long maxDma = physToDma(d, eng.ramEnd - PageAllocator.PAGE_SIZE);
        final int bits = 64 - Long.numberOfLeadingZeros(maxDma);
        return DeviceContext.bitMask(bits);
    }

    /** {@code dma_addressing_limited}. */
    public boolean addressingLimited(final DeviceContext d)
    {
        return Long.compareUnsigned(d.dmaLimit(), requiredMask(d)) < 0;
    }

    @Override
    public long maxMappingSize(final DeviceContext d)
    {
        final Swiotlb swiotlb = eng.swiotlb;
        if (swiotlb != null && (addressingLimited(d) || swiotlb.forceBounce()))
        {
            return swiotlb.maxMappingSize(d.minAlignMask);
        }
        return Long.MAX_VALUE;
    }

    @Override
    public long optMappingSize(final DeviceContext d)
    {
        return maxMappingSize(d);
    }

    @Override
    public long mergeBoundary(final DeviceContext d)
    {
        return 0;
    }

    @Override
    public boolean needSync(final DeviceContext d, final long dma)
    {
        return !d.coherent || eng.isSwiotlbBuffer(dmaToPhys(d, dma));
    }

    @Override
    public boolean iovaTryAlloc(final DeviceContext d, final IovaState s, final long phys, final long size,
        final int cpu)
    {
        s.clear();
        return false;
    }

    @Override
    public int iovaLink(final DeviceContext d, final IovaState s, final long phys, final long offset, final long size,
        final DmaDirection dir, final long attrs, final int cpu)
    {
        return -Errno.EOPNOTSUPP;
    }

    @Override
    public int iovaSync(final DeviceContext d, final IovaState s, final long offset, final long size)
    {
        return -Errno.EOPNOTSUPP;
    }

    @Override
    public void iovaUnlink(final DeviceContext d, final IovaState s, final long offset, final long size,
        final DmaDirection dir, final long attrs, final int cpu)
    {
    }

    @Override
    public void iovaFree(final DeviceContext d, final IovaState s, final int cpu)
    {
    }

    @Override
    public void iovaDestroy(final DeviceContext d, final IovaState s, final long mappedLen, final DmaDirection dir,
        final long attrs, final int cpu)
    {
    }
}
