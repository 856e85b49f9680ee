package dev.dmasim.engine.core;

import dev.dmasim.engine.KernelLog;
import dev.dmasim.engine.check.DmaChecks;
import dev.dmasim.engine.cpu.CpuBinding;
import dev.dmasim.engine.debug.DmaDebug;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.engine.trace.DmaTracer;
import dev.dmasim.sim.cache.CpuCache;
import dev.dmasim.sim.iommu.Iommu;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;

/**
 * What every backend of one engine shares: the hardware (memory, page allocator, CPU cache, IOMMU) and the
 * kernel-side subsystems (swiotlb, dma-debug, log, counters, CPU binding). Immutable after construction.
 */
public final class EngineContext
{
    public final PhysicalMemory memory;
    public final PageAllocator pages;
    public final CpuCache cache;
    /** The bounce pool, or null when swiotlb is disabled. */
    public final Swiotlb swiotlb;
    public final DmaDebug debug;
    public final boolean debugEnabled;
    public final KernelLog log;
    public final Counters counters;
    public final CpuBinding cpu;
    /** The IOMMU hardware unit. */
    public final Iommu iommu;
    /** The end of the highest RAM region (bytes): {@code max_pfn << PAGE_SHIFT}. */
    public final long ramEnd;
    /** dmasim's own checkers (ownership, missing syncs, use after unmap), or null when they are off. */
    public final DmaChecks checks;
    /** The ftrace-format tracer, null while tracing is off (the only cost then: reading this field). */
    public volatile DmaTracer tracer;

    public EngineContext(final PhysicalMemory memory, final PageAllocator pages, final CpuCache cache,
        final Swiotlb swiotlb, final DmaDebug debug, final boolean debugEnabled, final KernelLog log,
        final Counters counters, final CpuBinding cpu, final Iommu iommu, final long ramEnd)
    {
        this(memory, pages, cache, swiotlb, debug, debugEnabled, log, counters, cpu, iommu, ramEnd, null);
    }

    /** As above, with the checkers ({@code null}: off). */
    public EngineContext(final PhysicalMemory memory, final PageAllocator pages, final CpuCache cache,
        final Swiotlb swiotlb, final DmaDebug debug, final boolean debugEnabled, final KernelLog log,
        final Counters counters, final CpuBinding cpu, final Iommu iommu, final long ramEnd, final DmaChecks checks)
    {
        this.memory = memory;
        this.pages = pages;
        this.cache = cache;
        this.swiotlb = swiotlb;
        this.debug = debug;
        this.debugEnabled = debugEnabled;
        this.log = log;
        this.counters = counters;
        this.cpu = cpu;
        this.iommu = iommu;
        this.ramEnd = ramEnd;
        this.checks = checks;
    }

    /** @return true if {@code phys} lies in the swiotlb pool ({@code is_swiotlb_buffer}). */
    public boolean isSwiotlbBuffer(final long phys)
    {
        return swiotlb != null && swiotlb.isSwiotlbBuffer(phys);
    }
}
