package dev.dmasim.engine;

import dev.dmasim.engine.check.DmaChecks;
import dev.dmasim.engine.core.Counters;
import dev.dmasim.engine.core.DmaOps;
import dev.dmasim.engine.core.DmaRangeMemory;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.cpu.CpuBinding;
import dev.dmasim.engine.debug.DmaDebug;
import dev.dmasim.engine.direct.DmaDirect;
import dev.dmasim.engine.iommu.DmaIommu;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.engine.trace.DmaTracer;
import dev.dmasim.engine.trace.FaultTracepoint;
import dev.dmasim.engine.trace.TraceSink;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.cache.CacheConfig;
import dev.dmasim.sim.cache.CpuCache;
import dev.dmasim.sim.cache.CpuView;
import dev.dmasim.sim.cache.ObservedMemory;
import dev.dmasim.sim.cache.WriteBackCache;
import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.iommu.Iommu;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.iommu.IommuDomain;
import dev.dmasim.sim.mem.BuddyPageAllocator;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The simulated machine plus the kernel's DMA-mapping layer: attach devices, then map through them.
 * Build with {@link #builder()}; {@link #close()} releases all native memory. Thread-safe.
 *
 * <pre>{@code
 * try (DmaEngine engine = DmaEngine.builder().cpus(2).iommu(IommuMode.LAZY).debug(true).build())
 * {
 *     Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").dmaBits(64));
 *     long dma = dev.mapPhys(phys, 4096, DmaDirection.TO_DEVICE, 0);
 *     ...
 * }
 * }</pre>
 */
public final class DmaEngine implements AutoCloseable
{
    private final EngineContext ctx;
    private final PhysicalMemory memory;
    /** The CPU's view: through the cache model when there is one, else observed by the checks, else {@link #memory}. */
    private final PhysicalMemory cpuMemory;
    /** The cache model, or null. */
    private final WriteBackCache cacheModel;
    private final DmaChecks checks;
    private final boolean ownsMemory;
    private final IommuMode defaultMode;
    private final DmaDirect direct;
    private final DmaIommu dmaIommu;
    private final IommuDomain identity;
    /** {@link Device#ramRanges} of {@link #memory}, shared by every device (immutable). */
    private final Device.RamRange[] ramRanges;
    private final ConcurrentHashMap<String, Device> devices = new ConcurrentHashMap<>();
    private volatile boolean closed;
    private final long startNanos = System.nanoTime();

    private DmaEngine(final Builder b)
    {
        this.memory = b.memory != null ? b.memory : Machines.defaultX86();
        this.ramRanges = Device.ramRanges(memory);
        this.ownsMemory = b.memory == null || b.ownsMemory;
        this.defaultMode = b.mode;
        final KernelLog log = new KernelLog(b.logCapacity).echo(b.echoLog);
        final CpuBinding cpu = new CpuBinding(b.cpus);
        long ramEnd = 0;
        for (final PhysicalMemory.MemRegion r : memory.regions())
        {
            if (r.kind() == PhysicalMemory.MemRegion.Kind.RAM)
            {
                ramEnd = Math.max(ramEnd, r.end());
            }
        }
        if (ramEnd == 0)
        {
            throw new IllegalArgumentException("the physical address space has no RAM");
        }

        // The CPU cache model: CPU accesses (the embedder's through cpuMemory(), the engine's own bounce copies
        // through an unobserved view) go through it; non-coherent devices reach RAM directly, coherent ones snoop.
        if (b.cacheConfig != null)
        {
            this.cacheModel = new WriteBackCache(memory, b.cacheConfig);
        }
        else if (b.cache instanceof WriteBackCache w)
        {
            if (w.memory() != memory)
            {
                throw new IllegalArgumentException("the WriteBackCache is in front of another address space");
            }
            this.cacheModel = w;
        }
        else
        {
            this.cacheModel = null;
        }
        final CpuCache cache = cacheModel != null ? cacheModel : b.cache;
        final PhysicalMemory engineCpu = cacheModel != null ? cacheModel.cpuView() : memory;
        final CpuView userView = cacheModel != null ? cacheModel.cpuView() : null;
        this.checks = b.checks ? new DmaChecks(cache, log) : DmaChecks.disabled();
        if (b.checks && userView != null)
        {
            userView.observer(checks);
        }
        // Checks on, no cache model: the embedder's accesses are observed all the same (a thin wrapper); checks off:
        // the raw memory itself, no indirection.
        this.cpuMemory = userView != null ? userView : b.checks ? new ObservedMemory(memory, checks) : memory;

        final BuddyPageAllocator.Builder pagesBuilder = BuddyPageAllocator.builder(memory);
        Swiotlb swiotlb = null;
        long poolBase = -1;
        long poolBytes = 0;
        if (b.swiotlb.enabled())
        {
            final long slab = (long)Swiotlb.IO_TLB_SEGSIZE << Swiotlb.IO_TLB_SHIFT;
            poolBytes = (b.swiotlb.sizeBytes() + slab - 1) / slab * slab;
            poolBase = placeLow(memory, poolBytes);
            if (poolBase < 0)
            {
                log.log(null, "swiotlb: cannot allocate " + poolBytes + " bytes of low memory; bouncing disabled");
            }
            else
            {
                pagesBuilder.reserve(poolBase, poolBytes);
            }
        }
        final PageAllocator pages = pagesBuilder.build();
        if (poolBase >= 0)
        {
            final int areas = b.swiotlb.areas() != 0 ? b.swiotlb.areas() : Integer.highestOneBit(b.cpus * 2 - 1);
            swiotlb = new Swiotlb(engineCpu, poolBase, poolBytes >>> Swiotlb.IO_TLB_SHIFT, areas, b.swiotlb.force(), log);
        }
        final DmaDebug debug = new DmaDebug(memory, log);
        final Iommu iommu = new Iommu(memory, pages, b.iommuConfig);
        this.ctx = new EngineContext(memory, pages, cache, swiotlb, debug, b.debug, log, new Counters(), cpu, iommu,
            ramEnd, b.checks ? checks : null);
        this.direct = new DmaDirect(ctx);
        this.dmaIommu = new DmaIommu(ctx, direct, b.flushQueue);
        this.identity = iommu.allocDomain(DomainType.IDENTITY);
        trace(b.trace);
        iommu.faultObserver(new FaultTracepoint(ctx, this::deviceByRequesterId));
    }

    private Device deviceByRequesterId(final int rid)
    {
        for (final Device d : devices.values())
        {
            if (d.bus().requesterId() == rid)
            {
                return d;
            }
        }
        return null;
    }

    /** The highest {@code bytes}-sized, 2 MiB-aligned range of RAM below 4 GiB (memblock's top-down low alloc). */
    private static long placeLow(final PhysicalMemory mem, final long bytes)
    {
        final List<PhysicalMemory.MemRegion> regions = new ArrayList<>(mem.regions());
        for (int i = regions.size() - 1; i >= 0; i--)
        {
            final PhysicalMemory.MemRegion r = regions.get(i);
            if (r.kind() != PhysicalMemory.MemRegion.Kind.RAM || r.base() >= (4L << 30))
            {
                continue;
            }
            final long top = Math.min(r.end(), 4L << 30);
            final long base = (top - bytes) & -(2L << 20);
            if (base >= Math.max(r.base(), 2L << 20))
            {
                return base;
            }
        }
        return -1;
    }

    /** @return a builder for the embedded default machine (2 CPUs, no IOMMU, 64 MiB swiotlb, debug off). */
    public static Builder builder()
    {
        return new Builder();
    }

    EngineContext context()
    {
        return ctx;
    }

    Device.RamRange[] ramRanges()
    {
        return ramRanges;
    }

    /**
     * Attaches a device as a driver's probe would: its masks are set to {@code DMA_BIT_MASK(dmaBits)}, it is
     * put in the IOMMU mode of its config or the engine's default (untrusted devices are always STRICT when
     * translated, like the kernel). @throws IllegalArgumentException if the name is taken.
     */
    public Device attach(final DeviceConfig config)
    {
        checkOpen();
        if (config == null)
        {
            throw new IllegalArgumentException("device config is null");
        }
        IommuMode mode = config.iommu() != null ? config.iommu() : defaultMode;
        if (config.untrusted() && mode == IommuMode.LAZY)
        {
            mode = IommuMode.STRICT; // the DMA domain override for untrusted devices
        }
        if (config.dmaOffset() != 0 && mode != IommuMode.NONE)
        {
            throw new IllegalArgumentException("device " + config.bdf() + ": dmaOffset 0x"
                + Long.toHexString(config.dmaOffset()) + " (a dma_range_map) is supported with IommuMode.NONE only, was "
                + mode);
        }
        // Coherent devices snoop the CPU cache; a dma_range_map offset is a property of the bus: the device's
        // transfers see RAM at phys + offset.
        final PhysicalMemory snoop = config.coherent() && cacheModel != null ? cacheModel.coherentView() : ctx.memory;
        final PhysicalMemory dataPath = config.dmaOffset() != 0 ? new DmaRangeMemory(snoop, config.dmaOffset()) : snoop;
        final BusDevice bus = new BusDevice(ctx.memory, dataPath, config.bdf(), config.dmaBits(), config.coherent(),
            config.untrusted());
        final DmaOps ops = mode.translated() ? dmaIommu : direct;
        final Device dev = new Device(this, config, bus, ops, mode);
        if (devices.putIfAbsent(config.bdf(), dev) != null)
        {
            throw new IllegalArgumentException("device " + config.bdf() + " is already attached");
        }
        if (ctx.checks != null)
        {
            ctx.checks.onAttach(dev.context());
        }
        switch (mode)
        {
            case NONE -> bus.attach(null);
            case PASSTHROUGH -> bus.attach(identity);
            case STRICT, LAZY -> dmaIommu.attach(dev.context(), mode == IommuMode.LAZY);
        }
        return dev;
    }

    /**
     * Detaches a device (driver unbind): dma-debug reports mappings still live ("pending DMA allocations"),
     * then its IOMMU domain is torn down. Calls on the device afterwards throw IllegalStateException.
     */
    public void detach(final Device dev)
    {
        if (dev == null || devices.remove(dev.name(), dev) == false)
        {
            throw new IllegalArgumentException("device " + (dev == null ? null : dev.name()) + " is not attached");
        }
        if (ctx.debugEnabled)
        {
            ctx.debug.deviceReleased(dev);
        }
        if (dev.iommuMode().translated())
        {
            dmaIommu.detach(dev.context());
        }
        dev.markDetached();
    }

    /** @return the attached device named {@code bdf}, or null. */
    public Device device(final String bdf)
    {
        return devices.get(bdf);
    }

    /** @return the attached devices. */
    public List<Device> devices()
    {
        return List.copyOf(devices.values());
    }

    /**
     * @return the physical address space as memory and devices see it: uncached (with a cache model, stores
     * through it bypass the CPU cache, like a write through an uncached alias).
     */
    public PhysicalMemory memory()
    {
        return memory;
    }

    /**
     * The CPU's view of the physical address space, what a driver's loads and stores should use: through the CPU
     * cache model when one is configured ({@link Builder#cache(CacheConfig)}; stores stay dirty until a sync for the
     * device cleans them, loads may hit lines that are stale after a device write), else {@link #memory()} itself.
     * With {@link Builder#checks(boolean)} on, its accesses are judged (missing sync for cpu, CPU write while the
     * device owns a buffer), with or without a cache model: without one it is an {@link ObservedMemory} over
     * {@link #memory()} (same bytes, each access told to the checks). {@code ramSlice} returns null whenever the
     * view is cached or observed (a zero-copy view would bypass both); with checks off and no cache model this is
     * {@link #memory()}, unwrapped.
     */
    public PhysicalMemory cpuMemory()
    {
        return cpuMemory;
    }

    /** @return the CPU cache model, or null when none is configured. */
    public WriteBackCache cacheModel()
    {
        return cacheModel;
    }

    /** @return dmasim's own checkers (a disabled instance, with no reports, unless {@link Builder#checks} is on). */
    public DmaChecks checks()
    {
        return checks;
    }

    /** @return the page-frame allocator (buffers for drivers and tests come from here). */
    public PageAllocator pages()
    {
        return ctx.pages;
    }

    /** @return the CPU binding: {@code engine.cpu().bind(n)} pins the calling thread to simulated CPU n. */
    public CpuBinding cpu()
    {
        return ctx.cpu;
    }

    /** @return the dma-debug checker (reports are kept even when nothing is logged). */
    public DmaDebug debug()
    {
        return ctx.debug;
    }

    /** @return true if dma-debug checks are on. */
    public boolean debugEnabled()
    {
        return ctx.debugEnabled;
    }

    /** @return the kernel log (warnings such as "swiotlb buffer is full"). */
    public KernelLog log()
    {
        return ctx.log;
    }

    /** @return the swiotlb pool, or null when disabled. */
    public Swiotlb swiotlb()
    {
        return ctx.swiotlb;
    }

    /** @return the IOMMU hardware. */
    public Iommu iommu()
    {
        return ctx.iommu;
    }

    /** @return the default IOMMU mode for attached devices. */
    public IommuMode defaultMode()
    {
        return defaultMode;
    }

    /** @return a snapshot of every counter. */
    public EngineStats stats()
    {
        return EngineStats.of(ctx, dmaIommu, devices.values());
    }

    /**
     * Starts writing ftrace-format events ({@code dma:*} and, for translated devices, {@code iommu:map/unmap}) to
     * {@code sink}, or stops with null. Timestamps count from the engine's start. The engine does not close the
     * sink. Off by default; when off, each API call pays one field read.
     */
    public void trace(final TraceSink sink)
    {
        ctx.tracer = sink == null ? null : new DmaTracer(sink, startNanos, ctx.cpu);
    }

    /** @return the trace sink in use, or null. */
    public TraceSink trace()
    {
        final DmaTracer t = ctx.tracer;
        return t == null ? null : t.sink();
    }

    /** Drains every lazy flush queue now (an IOTLB flush, then the queued IOVAs are freed). */
    public void flushQueues()
    {
        dmaIommu.flushAll();
    }

    /**
     * Returns every IOVA cached in the per-CPU magazines and depots of every translated device to its tree (the
     * kernel's {@code free_cpu_cached_iovas} and {@code free_global_cached_iovas}). Afterwards, and after
     * {@link #flushQueues()}, {@link EngineStats#liveIovaRanges()} counts only IOVAs that are mapped: a leak check.
     * Call it when no thread is mapping through the engine.
     */
    public void flushIovaCaches()
    {
        dmaIommu.flushIovaCaches();
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("engine is closed");
        }
    }

    /** Detaches nothing, reports nothing: releases the engine's threads and, if it owns it, the native memory. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        dmaIommu.close();
        if (ownsMemory && memory instanceof AutoCloseable c)
        {
            try
            {
                c.close();
            }
            catch (final Exception ex)
            {
                throw new IllegalStateException("closing the address space failed", ex);
            }
        }
    }

    /** Configures a {@link DmaEngine}. Not thread-safe. */
    public static final class Builder
    {
        private PhysicalMemory memory;
        private boolean ownsMemory = true;
        private int cpus = 2;
        private IommuMode mode = IommuMode.NONE;
        private SwiotlbConfig swiotlb = SwiotlbConfig.defaults();
        private boolean debug;
        private IommuConfig iommuConfig = IommuConfig.defaults();
        private CpuCache cache = CpuCache.NONE;
        private CacheConfig cacheConfig;
        private boolean checks;
        private int logCapacity = 1024;
        private boolean echoLog;
        private FlushQueueConfig flushQueue = FlushQueueConfig.defaults();
        private TraceSink trace;

        private Builder()
        {
        }

        /** The physical address space (default {@link Machines#defaultX86()}); the engine closes it. */
        public Builder memory(final PhysicalMemory mem)
        {
            return memory(mem, true);
        }

        /** The physical address space; {@code owned} = whether {@link DmaEngine#close()} closes it. */
        public Builder memory(final PhysicalMemory mem, final boolean owned)
        {
            if (mem == null)
            {
                throw new IllegalArgumentException("memory is null");
            }
            this.memory = mem;
            this.ownsMemory = owned;
            return this;
        }

        /** Number of simulated CPUs (per-CPU caches, swiotlb areas, flush queues): 1..4096, default 2. */
        public Builder cpus(final int n)
        {
            if (n < 1 || n > 4096)
            {
                throw new IllegalArgumentException("cpus must be 1..4096, was " + n);
            }
            this.cpus = n;
            return this;
        }

        /** Default IOMMU mode of attached devices (default NONE: dma-direct). */
        public Builder iommu(final IommuMode m)
        {
            if (m == null)
            {
                throw new IllegalArgumentException("IOMMU mode is null");
            }
            this.mode = m;
            return this;
        }

        /** IOMMU hardware parameters: IOTLB geometry, invalidation cost, fault ring size. */
        public Builder iommuConfig(final IommuConfig c)
        {
            if (c == null)
            {
                throw new IllegalArgumentException("IOMMU config is null");
            }
            this.iommuConfig = c;
            return this;
        }

        /** The lazy-mode flush queue (256 entries per CPU, 10 ms by default). */
        public Builder flushQueue(final FlushQueueConfig c)
        {
            if (c == null)
            {
                throw new IllegalArgumentException("flush queue config is null");
            }
            this.flushQueue = c;
            return this;
        }

        /** The swiotlb pool (default 64 MiB). */
        public Builder swiotlb(final SwiotlbConfig c)
        {
            if (c == null)
            {
                throw new IllegalArgumentException("swiotlb config is null");
            }
            this.swiotlb = c;
            return this;
        }

        /** dma-debug checks on or off (default off). */
        public Builder debug(final boolean on)
        {
            this.debug = on;
            return this;
        }

        /** The CPU cache seen by sync operations of non-coherent devices (default: none modelled). */
        public Builder cache(final CpuCache c)
        {
            if (c == null)
            {
                throw new IllegalArgumentException("cache is null");
            }
            this.cache = c;
            return this;
        }

        /**
         * Models a write-back CPU data cache ({@link WriteBackCache}, 64-byte lines) between the CPUs and RAM, so that
         * non-coherent devices see exactly what a real one would: CPU stores through {@link DmaEngine#cpuMemory()}
         * stay in the cache until a sync for the device cleans them (or an eviction writes them back), lines the
         * CPU holds stay stale after a device write until a sync for the CPU invalidates them. Coherent devices snoop
         * and see no difference. Off by default. Does not turn {@link #checks(boolean)} on.
         */
        public Builder cache(final CacheConfig c)
        {
            if (c == null)
            {
                throw new IllegalArgumentException("cache config is null");
            }
            this.cacheConfig = c;
            return this;
        }

        /**
         * dmasim's own checkers ({@link DmaChecks}; default off): ownership per mapping (streaming, sg,
         * {@code dma_alloc_pages}, 2-step IOVA links), use after unmap (MMIO mappings too), lazy-IOTLB exposure,
         * missing syncs. Independent of {@link #debug(boolean)} and of the cache model: without one,
         * {@link DmaEngine#cpuMemory()} is still observed, but {@code MISSING_SYNC_FOR_DEVICE} cannot be seen
         * (nothing is ever dirty). Slows every map, sync, device transfer and CPU access through
         * {@code cpuMemory()}.
         */
        public Builder checks(final boolean on)
        {
            this.checks = on;
            return this;
        }

        /** How many kernel-log lines to keep (all are counted). */
        public Builder logCapacity(final int n)
        {
            this.logCapacity = n;
            return this;
        }

        /** Print kernel-log lines to standard error as they happen. */
        public Builder echoLog(final boolean on)
        {
            this.echoLog = on;
            return this;
        }

        /** Trace output in the kernel's ftrace text format (default none); see {@link DmaEngine#trace(TraceSink)}. */
        public Builder trace(final TraceSink sink)
        {
            this.trace = sink;
            return this;
        }

        /** @return the engine. */
        public DmaEngine build()
        {
            return new DmaEngine(this);
        }
    }
}
