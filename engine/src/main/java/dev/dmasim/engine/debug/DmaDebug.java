package dev.dmasim.engine.debug;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.debug.DebugReport.Kind;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * dma-debug ({@code kernel/dma/debug.c}): records every mapping and allocation the engine makes and checks
 * each unmap, free and sync against the record, reporting misuse as {@link DebugReport}s with the kernel's
 * message texts. Addresses and sizes are bytes; device addresses are unsigned.
 *
 * <p><b>Structure.</b> Entries live in a hash of {@value #HASH_SIZE} buckets keyed by
 * {@code (dma >>> 13) & 16383} (8 KiB windows of device address), each with its own lock. Unmap looks up
 * {@code (dev, dma)} exactly in one bucket, best fit by (size, type, direction, sg count) among several
 * matches; several matches and no perfect fit count as "not found", as in the kernel. Sync looks for a
 * containing mapping, walking buckets backwards from the address's bucket down to address 0 (at most
 * {@value #HASH_SIZE} buckets). Active device-writable mappings are also tracked by the physical cacheline
 * number of their <em>first</em> byte ({@value #L1_CACHE_BYTES}-byte lines) for the EEXIST check; the overlap
 * count saturates at {@value #ACTIVE_CACHELINE_MAX_OVERLAP} like the kernel's three radix-tree tags.
 *
 * <p><b>Checks.</b> All of reference §5.2 that apply to simulated RAM. Not modelled, because dmasim has no
 * kernel stack, kernel text/rodata, vmalloc area or kernel virtual addresses: "maps memory from stack",
 * "maps memory from kernel text or rodata", "maps memory from invalid area / vmalloc area". Also not modelled:
 * the entry pool (entries are plain objects, so neither "pool grown" nor "out of memory - disabling" occur)
 * and radix-tree ENOMEM.
 *
 * <p><b>Reporting.</b> Every report is kept ({@link #reports()}) and counted ({@link #errorCount()},
 * {@link #count(Kind)}); like the kernel's {@code num_errors=1}, only the first is written to the
 * {@link KernelLog} unless {@link #allErrors(boolean)} is set. A driver filter, as {@code driver_filter} in
 * debugfs, limits logging (not keeping) to one driver.
 *
 * <p><b>Thread-safety.</b> All methods are thread-safe. Hooks are a slow path: they lock one bucket at a time
 * (never two), then the cacheline table, then the report list, in that order only, so they cannot deadlock.
 * An enabled instance allocates (entries, stacks, reports); a disabled one ({@link #DmaDebug(PhysicalMemory,
 * KernelLog, boolean)} with {@code false}) returns from every hook at once and allocates nothing. Hooks never
 * throw on driver bugs: they report. They throw {@link IllegalArgumentException} only for null arguments.
 */
public final class DmaDebug
{
    /** Buckets in the entry hash ({@code HASH_SIZE}). */
    public static final int HASH_SIZE = 16384;
    /** Device-address bits below the bucket index ({@code HASH_FN_SHIFT}): 8 KiB per bucket. */
    public static final int HASH_FN_SHIFT = 13;
    /** log2 of the L1 cacheline size used for overlap tracking. */
    public static final int L1_CACHE_SHIFT = 6;
    /** The L1 cacheline size (bytes) used for overlap tracking. */
    public static final int L1_CACHE_BYTES = 1 << L1_CACHE_SHIFT;
    /** The most overlapping mappings of one cacheline the kernel can count (3 radix-tree tags). */
    public static final int ACTIVE_CACHELINE_MAX_OVERLAP = 7;
    /** Frames saved per entry at map time by default ({@code DMA_DEBUG_STACKTRACE_ENTRIES}). */
    public static final int STACK_DEPTH = 5;
    /** {@code DMA_MAPPING_ERROR}: all ones. */
    public static final long DMA_MAPPING_ERROR = -1L;

    static final String PREFIX = "DMA-API: ";

    private static final int HASH_FN_MASK = HASH_SIZE - 1;
    private static final int MAP_ERR_CHECK_NOT_APPLICABLE = 0;
    private static final int MAP_ERR_NOT_CHECKED = 1;
    private static final int MAP_ERR_CHECKED = 2;
    private static final String[] MAP_ERR_NAMES =
        {"dma map error check not applicable", "dma map error not checked", "dma map error checked"};
    private static final Kind[] KINDS = Kind.values();
    private static final StackWalker WALKER = StackWalker.getInstance();

    private final PhysicalMemory mem;
    private final KernelLog log;
    private final boolean enabled;
    private final Bucket[] buckets;
    /** Cacheline number -> overlap state; guarded by itself. */
    private final Map<Long, ActiveLine> activeLines;
    private final AtomicLong errorCount = new AtomicLong();
    private final AtomicLong liveEntries = new AtomicLong();
    private final AtomicLongArray kindCounts = new AtomicLongArray(KINDS.length);
    /** All reports, oldest first; guarded by itself, as are the two fields below. */
    private final List<DebugReport> reports;
    private int showNumErrors = 1;
    private int numErrorsSetting = 1;
    /** Guarded by {@link #activeLines}. */
    private boolean overlapLimitWarned;
    private volatile boolean showAllErrors;
    private volatile String driverFilter;
    private volatile int dmaCacheAlignment = L1_CACHE_BYTES;
    private volatile boolean bounceUnalignedKmalloc;
    private volatile int stackDepth = STACK_DEPTH;

    /**
     * An enabled dma-debug.
     *
     * @param mem the physical address space, asked {@link PhysicalMemory#isRam} for the MMIO-of-RAM check.
     * @param log where the first report (or every report, see {@link #allErrors(boolean)}) is written.
     */
    public DmaDebug(final PhysicalMemory mem, final KernelLog log)
    {
        this(mem, log, true);
    }

    /**
     * @param mem     the physical address space, asked {@link PhysicalMemory#isRam} for the MMIO-of-RAM check.
     * @param log     where reports are written.
     * @param enabled false for {@code dma_debug=off}: every hook returns at once and nothing is allocated.
     */
    public DmaDebug(final PhysicalMemory mem, final KernelLog log, final boolean enabled)
    {
        this.mem = notNull(mem, "mem");
        this.log = notNull(log, "log");
        this.enabled = enabled;
        if (enabled)
        {
            buckets = new Bucket[HASH_SIZE];
            for (int i = 0; i < HASH_SIZE; i++)
            {
                buckets[i] = new Bucket();
            }
            activeLines = new HashMap<>();
            reports = new ArrayList<>();
        }
        else
        {
            buckets = null;
            activeLines = null;
            reports = null;
        }
    }

    // ------------------------------------------------------------------------------------------------ settings

    /** @return true unless constructed disabled. */
    public boolean enabled()
    {
        return enabled;
    }

    /** debugfs {@code all_errors}: write every report to the log, not only the first {@code num_errors}. */
    public DmaDebug allErrors(final boolean on)
    {
        showAllErrors = on;
        return this;
    }

    /** debugfs {@code num_errors}: how many further reports to write to the log (initially 1). */
    public DmaDebug numErrors(final int n)
    {
        if (enabled)
        {
            synchronized (reports)
            {
                numErrorsSetting = Math.max(0, n);
                showNumErrors = numErrorsSetting;
            }
        }
        return this;
    }

    /** debugfs {@code driver_filter}: log only reports for devices of this driver; null or empty: all. */
    public DmaDebug driverFilter(final String driverName)
    {
        driverFilter = driverName == null || driverName.isEmpty() ? null : driverName;
        return this;
    }

    /**
     * {@code dma_get_cache_alignment()} in bytes (default {@value #L1_CACHE_BYTES}, as on arm64). The EEXIST
     * report is made only when it is at least {@value #L1_CACHE_BYTES}; an x86 kernel returns 1 and so never
     * reports overlaps.
     */
    public DmaDebug dmaCacheAlignment(final int bytes)
    {
        dmaCacheAlignment = bytes;
        return this;
    }

    /**
     * {@code CONFIG_DMA_BOUNCE_UNALIGNED_KMALLOC}: when on, overlaps are not reported for devices whose
     * {@link DebugDevice#swiotlbActive()} is true (the bounce makes them harmless).
     */
    public DmaDebug bounceUnalignedKmalloc(final boolean on)
    {
        bounceUnalignedKmalloc = on;
        return this;
    }

    /** How many frames to save per entry at map time (default {@value #STACK_DEPTH}, at least 1). */
    public DmaDebug stackDepth(final int frames)
    {
        stackDepth = Math.max(1, frames);
        return this;
    }

    // --------------------------------------------------------------------------------------------------- hooks

    /**
     * {@code debug_dma_map_phys}: records a {@code dma_map_phys} (also {@code dma_map_page},
     * {@code dma_map_resource}) that returned {@code dma}; nothing is recorded for {@link #DMA_MAPPING_ERROR}.
     * Checks MMIO of RAM and the cacheline overlap.
     */
    public void mapPhys(
        final DebugDevice dev, final long phys, final long size, final DmaDirection dir, final long dma,
        final long attrs)
    {
        notNull(dev, "dev");
        notNull(dir, "dir");
        if (!enabled || dma == DMA_MAPPING_ERROR)
        {
            return;
        }
        final Entry entry = new Entry(dev, dma, size, MappingType.PHY, dir, 0, 0, phys, MAP_ERR_NOT_CHECKED,
            isCacheClean(attrs), captureStack());
        if (DmaAttrs.has(attrs, DmaAttrs.MMIO) && mem.isRam(phys, 1))
        {
            error(Kind.MMIO_RAM, dev, entry, dma, size, phys, null, dir, -1,
                "dma_map_resource called for RAM address " + pa(phys));
        }
        addEntry(entry, attrs);
    }

    /**
     * {@code debug_dma_unmap_phys}: checks and forgets the mapping of {@code dma} ({@code attrs} unused).
     *
     * @return false if no entry was found (reported as an invalid or unknown address), true otherwise, and when
     * disabled. The engine then leaves the backend alone: it holds nothing to release.
     */
    public boolean unmapPhys(
        final DebugDevice dev, final long dma, final long size, final DmaDirection dir, final long attrs)
    {
        notNull(dev, "dev");
        notNull(dir, "dir");
        return !enabled || checkUnmap(dev, dma, size, MappingType.PHY, dir, 0, 0);
    }

    /**
     * {@code debug_dma_mapping_error}: marks the first not-yet-checked {@code dma_map_phys} entry at exactly
     * {@code (dev, dma)} as checked.
     */
    public void mappingError(final DebugDevice dev, final long dma)
    {
        notNull(dev, "dev");
        if (!enabled)
        {
            return;
        }
        final Bucket bucket = bucket(dma);
        synchronized (bucket)
        {
            for (final Entry e : bucket.entries)
            {
                if (e.dev == dev && e.dma == dma && e.mapErr == MAP_ERR_NOT_CHECKED)
                {
                    e.mapErr = MAP_ERR_CHECKED;
                    break;
                }
            }
        }
    }

    /**
     * {@code debug_dma_map_sg}: records one entry per mapped segment {@code 0..mappedEnts-1} (DMA side of
     * {@code sgl}, CPU address of the entry with the same index), checking each against the device's
     * maximum segment size (CPU length) and segment boundary (DMA side).
     *
     * @param nents      the {@code nents} the driver passed.
     * @param mappedEnts what the mapping returned; call only when it is positive.
     */
    public void mapSg(
        final DebugDevice dev, final ScatterList sgl, final int nents, final int mappedEnts, final DmaDirection dir,
        final long attrs)
    {
        notNull(dev, "dev");
        notNull(sgl, "sgl");
        notNull(dir, "dir");
        if (!enabled)
        {
            return;
        }
        final int n = clamp(mappedEnts, sgl.capacity());
        final StackTraceElement[] stack = n > 0 ? captureStack() : null;
        final boolean cacheClean = isCacheClean(attrs);
        for (int i = 0; i < n; i++)
        {
            final Entry entry = new Entry(dev, sgl.dmaAddress(i), sgl.dmaLength(i), MappingType.SCATTER_GATHER, dir,
                nents, mappedEnts, sgl.phys(i), MAP_ERR_CHECK_NOT_APPLICABLE, cacheClean, stack);
            checkSgSegment(dev, sgl, i, dir);
            addEntry(entry, attrs);
        }
    }

    /**
     * {@code debug_dma_unmap_sg}: checks and forgets the segments of {@code sgl}, reading the DMA side (call it
     * before the DMA side is cleared) with the {@code nents} passed to the map.
     */
    public void unmapSg(final DebugDevice dev, final ScatterList sgl, final int nents, final DmaDirection dir)
    {
        notNull(dev, "dev");
        notNull(sgl, "sgl");
        notNull(dir, "dir");
        if (!enabled)
        {
            return;
        }
        final int n = clamp(nents, sgl.capacity());
        int mapped = 0;
        for (int i = 0; i < n; i++)
        {
            if (mapped != 0 && i >= mapped)
            {
                break;
            }
            if (i == 0)
            {
                mapped = mappedEntries(dev, sgl.dmaAddress(0), sgl.dmaLength(0), dir, nents);
            }
            checkUnmap(dev, sgl.dmaAddress(i), sgl.dmaLength(i), MappingType.SCATTER_GATHER, dir, nents,
                sgl.phys(i));
        }
    }

    /**
     * {@code debug_dma_sync_single_for_cpu/for_device}: checks a sync of {@code [dma, dma+size)} against the
     * mapping that contains it.
     *
     * @return false if no mapping contains the range (reported), true otherwise and when disabled.
     */
    public boolean syncSingle(
        final DebugDevice dev, final long dma, final long size, final DmaDirection dir, final boolean forCpu)
    {
        notNull(dev, "dev");
        notNull(dir, "dir");
        return !enabled || checkSync(dev, dma, size, MappingType.SINGLE, dir, 0, forCpu);
    }

    /**
     * {@code debug_dma_sync_sg_for_cpu/for_device}: checks each mapped segment of {@code sgl}. As in the kernel,
     * nothing is checked when the first segment is not found exactly (its mapped count is then 0).
     */
    public void syncSg(
        final DebugDevice dev, final ScatterList sgl, final int nelems, final DmaDirection dir, final boolean forCpu)
    {
        notNull(dev, "dev");
        notNull(sgl, "sgl");
        notNull(dir, "dir");
        if (!enabled)
        {
            return;
        }
        final int n = clamp(nelems, sgl.capacity());
        int mapped = 0;
        for (int i = 0; i < n; i++)
        {
            if (i == 0)
            {
                mapped = mappedEntries(dev, sgl.dmaAddress(0), sgl.dmaLength(0), dir, nelems);
            }
            if (i >= mapped)
            {
                break;
            }
            checkSync(dev, sgl.dmaAddress(i), sgl.dmaLength(i), MappingType.SCATTER_GATHER, dir, nelems, forCpu);
        }
    }

    /** {@code debug_dma_alloc_coherent}: records a successful coherent allocation (direction BIDIRECTIONAL). */
    public void allocCoherent(final DebugDevice dev, final long size, final long phys, final long dma)
    {
        notNull(dev, "dev");
        if (enabled)
        {
            addEntry(new Entry(dev, dma, size, MappingType.COHERENT, DmaDirection.BIDIRECTIONAL, 0, 0, phys,
                MAP_ERR_CHECK_NOT_APPLICABLE, false, captureStack()), DmaAttrs.NONE);
        }
    }

    /** {@code debug_dma_free_coherent}: checks and forgets a coherent allocation. */
    public void freeCoherent(final DebugDevice dev, final long size, final long phys, final long dma)
    {
        notNull(dev, "dev");
        if (enabled)
        {
            checkUnmap(dev, dma, size, MappingType.COHERENT, DmaDirection.BIDIRECTIONAL, 0, phys);
        }
    }

    /** {@code debug_dma_alloc_pages}: records a successful non-coherent allocation. */
    public void allocPages(
        final DebugDevice dev, final long size, final long phys, final long dma, final DmaDirection dir)
    {
        notNull(dev, "dev");
        notNull(dir, "dir");
        if (enabled)
        {
            addEntry(new Entry(dev, dma, size, MappingType.NONCOHERENT, dir, 0, 0, phys,
                MAP_ERR_CHECK_NOT_APPLICABLE, false, captureStack()), DmaAttrs.NONE);
        }
    }

    /** {@code debug_dma_free_pages}: checks and forgets a non-coherent allocation. */
    public void freePages(
        final DebugDevice dev, final long size, final long phys, final long dma, final DmaDirection dir)
    {
        notNull(dev, "dev");
        notNull(dir, "dir");
        if (enabled)
        {
            checkUnmap(dev, dma, size, MappingType.NONCOHERENT, dir, 0, phys);
        }
    }

    /**
     * dmasim's own 2-step API check: {@code op} ({@code "dma_iova_free"} or {@code "dma_iova_destroy"}) releases
     * {@code unlinkBytes} of the IOVA range at {@code dma} while {@code linkedBytes} are linked. The kernel's
     * dma-debug has no hook here; the blk-mq leak after a failed {@code dma_iova_link} is this case.
     */
    public void iovaImbalance(final DebugDevice dev, final long dma, final long unlinkBytes, final long linkedBytes,
        final String op)
    {
        notNull(dev, "dev");
        if (!enabled)
        {
            return;
        }
        error(Kind.IOVA_LINK_IMBALANCE, dev, null, dma, unlinkBytes, 0, null, null, 0,
            "device driver calls " + op + " with " + linkedBytes + " bytes linked but unlinks " + unlinkBytes
            + " [device address=" + hex(dma) + "]");
    }

    /**
     * {@code BUS_NOTIFY_UNBOUND_DRIVER}: reports the device's remaining entries as a leak (naming the last one
     * found in bucket order) and, unlike the kernel, forgets them so the device can be attached again.
     * O({@value #HASH_SIZE} + entries).
     */
    public void deviceReleased(final DebugDevice dev)
    {
        notNull(dev, "dev");
        if (!enabled)
        {
            return;
        }
        int count = 0;
        Entry last = null;
        List<Entry> removed = null;
        for (final Bucket bucket : buckets)
        {
            synchronized (bucket)
            {
                for (final Iterator<Entry> it = bucket.entries.iterator(); it.hasNext(); )
                {
                    final Entry e = it.next();
                    if (e.dev == dev)
                    {
                        count++;
                        last = e;
                        if (removed == null)
                        {
                            removed = new ArrayList<>();
                        }
                        removed.add(e);
                        it.remove();
                    }
                }
            }
        }
        if (count == 0)
        {
            return;
        }
        for (final Entry e : removed)
        {
            entryFreed(e);
        }
        error(Kind.LEAK_AT_RELEASE, dev, last, last.dma, last.size, 0, null, null, count,
            "device driver has pending DMA allocations while released from device [count=" + count + "]\n" +
            "One of leaked entries details: [device address=" + hex(last.dma) + "] [size=" + u64(last.size) +
            " bytes] [mapped with " + last.dir.kernelName() + "] [mapped as " + last.type.kernelName() + "]");
    }

    // ------------------------------------------------------------------------------------------------- queries

    /** @return how many entries {@code dev} has recorded. O({@value #HASH_SIZE} + entries). */
    public int liveEntries(final DebugDevice dev)
    {
        notNull(dev, "dev");
        if (!enabled)
        {
            return 0;
        }
        int count = 0;
        for (final Bucket bucket : buckets)
        {
            synchronized (bucket)
            {
                for (final Entry e : bucket.entries)
                {
                    if (e.dev == dev)
                    {
                        count++;
                    }
                }
            }
        }
        return count;
    }

    /** @return how many entries all devices have recorded. */
    public long liveEntries()
    {
        return liveEntries.get();
    }

    /** @return debugfs {@code error_count}: reports made, excluding {@link Kind#CACHELINE_OVERLAP_LIMIT}. */
    public long errorCount()
    {
        return errorCount.get();
    }

    /** @return how many reports of {@code kind} were made. */
    public long count(final Kind kind)
    {
        return kindCounts.get(notNull(kind, "kind").ordinal());
    }

    /** @return a snapshot of every report, oldest first (empty when disabled). */
    public List<DebugReport> reports()
    {
        if (!enabled)
        {
            return List.of();
        }
        synchronized (reports)
        {
            return List.copyOf(reports);
        }
    }

    /**
     * Forgets the reports, zeroes the counters and restores the {@code num_errors} logging budget. Recorded
     * mappings are kept.
     */
    public void clear()
    {
        if (!enabled)
        {
            return;
        }
        synchronized (reports)
        {
            reports.clear();
            showNumErrors = numErrorsSetting;
            errorCount.set(0);
            for (int i = 0; i < KINDS.length; i++)
            {
                kindCounts.set(i, 0);
            }
        }
    }

    /**
     * debugfs {@code dump}: one line per entry, {@code "<driver> <dev> <type> idx <bucket> P=<paddr>
     * D=<dma hex> L=<len hex> cln=<cacheline> <DIR> <map error state>"}, in bucket order.
     */
    public List<String> dump()
    {
        if (!enabled)
        {
            return List.of();
        }
        final List<String> lines = new ArrayList<>();
        for (int idx = 0; idx < HASH_SIZE; idx++)
        {
            final Bucket bucket = buckets[idx];
            synchronized (bucket)
            {
                for (final Entry e : bucket.entries)
                {
                    lines.add(e.dev.driverName() + " " + e.dev.deviceName() + " " + e.type.kernelName() + " idx " +
                        idx + " P=" + pa(e.paddr) + " D=" + Long.toHexString(e.dma) + " L=" +
                        Long.toHexString(e.size) + " cln=" + pa(cacheline(e.paddr)) + " " + e.dir.kernelName() +
                        " " + MAP_ERR_NAMES[e.mapErr]);
                }
            }
        }
        return lines;
    }

    // ----------------------------------------------------------------------------------------------- internals

    private void addEntry(final Entry entry, final long attrs)
    {
        final Bucket bucket = bucket(entry.dma);
        synchronized (bucket)
        {
            bucket.entries.add(entry);
        }
        liveEntries.incrementAndGet();

        // The device does not write TO_DEVICE buffers, so the CPU cannot read stale data: not tracked.
        if (entry.dir == DmaDirection.TO_DEVICE)
        {
            return;
        }
        final long cln = cacheline(entry.paddr);
        final boolean exists;
        boolean existingClean = false;
        boolean overflow = false;
        synchronized (activeLines)
        {
            final ActiveLine line = activeLines.get(cln);
            exists = line != null;
            if (!exists)
            {
                activeLines.put(cln, new ActiveLine(entry.cacheClean));
            }
            else
            {
                existingClean = line.firstCacheClean;
                if (line.overlap < ACTIVE_CACHELINE_MAX_OVERLAP)
                {
                    line.overlap++;
                }
                else if (!entry.cacheClean && !overlapLimitWarned)
                {
                    overlapLimitWarned = true;
                    overflow = true;
                }
            }
        }
        if (overflow)
        {
            final String text = PREFIX + "exceeded " + ACTIVE_CACHELINE_MAX_OVERLAP +
                " overlapping mappings of cacheline " + pa(cln);
            kindCounts.incrementAndGet(Kind.CACHELINE_OVERLAP_LIMIT.ordinal());
            // WARN_ONCE, not err_printk: no "Mapped at:" trace, not in error_count, not subject to num_errors.
            emit(report(Kind.CACHELINE_OVERLAP_LIMIT, entry.dev, null, entry.dma, entry.size, entry.paddr, null,
                entry.dir, -1, text), entry.dev, false);
        }
        final DebugDevice dev = entry.dev;
        if (exists &&
            !DmaAttrs.has(attrs, DmaAttrs.SKIP_CPU_SYNC) &&
            !(entry.cacheClean && existingClean) &&
            dmaCacheAlignment >= L1_CACHE_BYTES &&
            !(bounceUnalignedKmalloc && dev.swiotlbActive()))
        {
            error(Kind.CACHELINE_OVERLAP, dev, entry, entry.dma, entry.size, entry.paddr, null, entry.dir, -1,
                "cacheline tracking EEXIST, overlapping mappings aren't supported");
        }
    }

    /** The entry has left its bucket: drop its cacheline reference. */
    private void entryFreed(final Entry entry)
    {
        liveEntries.decrementAndGet();
        if (entry.dir == DmaDirection.TO_DEVICE)
        {
            return;
        }
        final long cln = cacheline(entry.paddr);
        synchronized (activeLines)
        {
            final ActiveLine line = activeLines.get(cln);
            if (line != null)
            {
                if (line.overlap == 0)
                {
                    activeLines.remove(cln);
                }
                else
                {
                    line.overlap--;
                }
            }
        }
    }

    private boolean checkUnmap(
        final DebugDevice dev, final long dma, final long size, final MappingType type, final DmaDirection dir,
        final int sgCallEnts, final long phys)
    {
        final int count = type == MappingType.SCATTER_GATHER ? sgCallEnts : -1;
        final Bucket bucket = bucket(dma);
        final Entry entry;
        synchronized (bucket)
        {
            entry = find(bucket, dev, dma, size, type, dir, sgCallEnts, false);
            if (entry != null)
            {
                if (size != entry.size)
                {
                    error(Kind.FREE_WRONG_SIZE, dev, entry, dma, size, phys, type, dir, count,
                        "device driver frees DMA memory with different size [device address=" + hex(dma) +
                        "] [map size=" + u64(entry.size) + " bytes] [unmap size=" + u64(size) + " bytes]");
                }
                if (type != entry.type)
                {
                    error(Kind.FREE_WRONG_FUNCTION, dev, entry, dma, size, phys, type, dir, count,
                        "device driver frees DMA memory with wrong function [device address=" + hex(dma) +
                        "] [size=" + u64(size) + " bytes] [mapped as " + entry.type.kernelName() +
                        "] [unmapped as " + type.kernelName() + "]");
                }
                else if ((entry.type == MappingType.COHERENT || entry.type == MappingType.NONCOHERENT) &&
                    phys != entry.paddr)
                {
                    // The kernel's format has "0x%pa" and %pa prints its own 0x: the text really reads 0x0x...
                    error(Kind.FREE_WRONG_CPU_ADDRESS, dev, entry, dma, size, phys, type, dir, count,
                        "device driver frees DMA memory with different CPU address [device address=" + hex(dma) +
                        "] [size=" + u64(size) + " bytes] [cpu alloc address=0x" + pa(entry.paddr) +
                        "] [cpu free address=0x" + pa(phys) + "]");
                }
                if (sgCallEnts != 0 && type == MappingType.SCATTER_GATHER && sgCallEnts != entry.sgCallEnts)
                {
                    error(Kind.FREE_SG_COUNT, dev, entry, dma, size, phys, type, dir, count,
                        "device driver frees DMA sg list with different entry count [map count=" +
                        entry.sgCallEnts + "] [unmap count=" + sgCallEnts + "]");
                }
                if (dir != entry.dir)
                {
                    error(Kind.FREE_WRONG_DIRECTION, dev, entry, dma, size, phys, type, dir, count,
                        "device driver frees DMA memory with different direction [device address=" + hex(dma) +
                        "] [size=" + u64(size) + " bytes] [mapped with " + entry.dir.kernelName() +
                        "] [unmapped with " + dir.kernelName() + "]");
                }
                if (entry.mapErr == MAP_ERR_NOT_CHECKED)
                {
                    error(Kind.MAP_ERROR_NOT_CHECKED, dev, entry, dma, size, phys, type, dir, count,
                        "device driver failed to check map error[device address=" + hex(dma) + "] [size=" +
                        u64(size) + " bytes] [mapped as " + entry.type.kernelName() + "]");
                }
                bucket.entries.remove(entry);
            }
        }
        if (entry != null)
        {
            entryFreed(entry);
            return true;
        }
        if (dma == DMA_MAPPING_ERROR)
        {
            error(Kind.FREE_INVALID_ADDRESS, dev, null, dma, size, phys, type, dir, count,
                "device driver tries to free an invalid DMA memory address");
        }
        else
        {
            error(Kind.FREE_NOT_ALLOCATED, dev, null, dma, size, phys, type, dir, count,
                "device driver tries to free DMA memory it has not allocated [device address=" + hex(dma) +
                "] [size=" + u64(size) + " bytes]");
        }
        return false;
    }

    private boolean checkSync(
        final DebugDevice dev, final long dma, final long size, final MappingType type, final DmaDirection dir,
        final int sgCallEnts, final boolean forCpu)
    {
        final int count = type == MappingType.SCATTER_GATHER ? sgCallEnts : -1;
        final long window = dma >>> HASH_FN_SHIFT;
        final int limit = (int)Math.min(HASH_SIZE, window + 1);
        for (int i = 0; i < limit; i++)
        {
            final Bucket bucket = buckets[(int)((window - i) & HASH_FN_MASK)];
            synchronized (bucket)
            {
                final Entry entry = find(bucket, dev, dma, size, type, dir, sgCallEnts, true);
                if (entry != null)
                {
                    checkSync(entry, dev, dma, size, type, dir, sgCallEnts, forCpu, count);
                    return true;
                }
            }
        }
        error(Kind.SYNC_NOT_ALLOCATED, dev, null, dma, size, 0, type, dir, count,
            "device driver tries to sync DMA memory it has not allocated [device address=" + hex(dma) +
            "] [size=" + u64(size) + " bytes]");
        return false;
    }

    private void checkSync(
        final Entry entry, final DebugDevice dev, final long dma, final long size, final MappingType type,
        final DmaDirection dir, final int sgCallEnts, final boolean forCpu, final int count)
    {
        if (Long.compareUnsigned(size, entry.size) > 0)
        {
            error(Kind.SYNC_OUTSIDE_RANGE, dev, entry, entry.dma, size, 0, type, dir, count,
                "device driver syncs DMA memory outside allocated range [device address=" + hex(entry.dma) +
                "] [allocation size=" + u64(entry.size) + " bytes] [sync offset+size=" + u64(size) + "]");
        }
        if (entry.dir == DmaDirection.BIDIRECTIONAL)
        {
            return;
        }
        final String tail = "[device address=" + hex(dma) + "] [size=" + u64(entry.size) + " bytes] [mapped with " +
            entry.dir.kernelName() + "] [synced with " + dir.kernelName() + "]";
        if (dir != entry.dir)
        {
            error(Kind.SYNC_WRONG_DIRECTION, dev, entry, dma, size, 0, type, dir, count,
                "device driver syncs DMA memory with different direction " + tail);
        }
        if (forCpu && entry.dir != DmaDirection.FROM_DEVICE && dir != DmaDirection.TO_DEVICE)
        {
            error(Kind.SYNC_CPU_DEVICE_READ_ONLY, dev, entry, dma, size, 0, type, dir, count,
                "device driver syncs device read-only DMA memory for cpu " + tail);
        }
        if (!forCpu && entry.dir != DmaDirection.TO_DEVICE && dir != DmaDirection.FROM_DEVICE)
        {
            error(Kind.SYNC_DEVICE_WRITE_ONLY, dev, entry, dma, size, 0, type, dir, count,
                "device driver syncs device write-only DMA memory to device " + tail);
        }
        if (sgCallEnts != 0 && type == MappingType.SCATTER_GATHER && sgCallEnts != entry.sgCallEnts)
        {
            error(Kind.SYNC_SG_COUNT, dev, entry, dma, size, 0, type, dir, count,
                "device driver syncs DMA sg list with different entry count [map count=" + entry.sgCallEnts +
                "] [sync count=" + sgCallEnts + "]");
        }
    }

    private void checkSgSegment(final DebugDevice dev, final ScatterList sgl, final int i, final DmaDirection dir)
    {
        // dma_get_max_seg_size() and sg->length are unsigned int in the kernel.
        final long maxSeg = Long.compareUnsigned(dev.maxSegmentSize(), 0xFFFF_FFFFL) > 0 ?
            0xFFFF_FFFFL : dev.maxSegmentSize();
        final long length = sgl.length(i) & 0xFFFF_FFFFL;
        if (length > maxSeg)
        {
            error(Kind.SG_SEGMENT_TOO_LONG, dev, null, sgl.dmaAddress(i), length, sgl.phys(i), null, dir, -1,
                "mapping sg segment longer than device claims to support [len=" + length + "] [max=" + maxSeg +
                "]");
        }
        final long start = sgl.dmaAddress(i);
        final long end = start + sgl.dmaLength(i) - 1;
        final long boundary = dev.segmentBoundary();
        if (((start ^ end) & ~boundary) != 0)
        {
            error(Kind.SG_SEGMENT_ACROSS_BOUNDARY, dev, null, start, sgl.dmaLength(i), sgl.phys(i), null, dir, -1,
                "mapping sg segment across boundary [start=" + hex(start) + "] [end=" + hex(end) + "] [boundary=" +
                hex(boundary) + "]");
        }
    }

    /** {@code get_nr_mapped_entries}: the mapped count of the exact best-fit entry of the first segment. */
    private int mappedEntries(
        final DebugDevice dev, final long dma, final long size, final DmaDirection dir, final int nents)
    {
        final Bucket bucket = bucket(dma);
        synchronized (bucket)
        {
            final Entry e = find(bucket, dev, dma, size, MappingType.SCATTER_GATHER, dir, nents, false);
            return e == null ? 0 : e.sgMappedEnts;
        }
    }

    /**
     * {@code __hash_bucket_find}: exact {@code (dev, dma)} or containing match, best fit by (size, type,
     * direction, sg count); with several matches and no perfect fit, none. Caller holds the bucket lock.
     */
    private static Entry find(
        final Bucket bucket, final DebugDevice dev, final long dma, final long size, final MappingType type,
        final DmaDirection dir, final int sgCallEnts, final boolean containing)
    {
        Entry best = null;
        int matches = 0;
        int lastLevel = -1;
        for (final Entry e : bucket.entries)
        {
            if (e.dev != dev)
            {
                continue;
            }
            if (containing)
            {
                // u64 arithmetic as in the kernel: the end sums may wrap.
                if (Long.compareUnsigned(e.dma, dma) > 0 || Long.compareUnsigned(e.dma + e.size, dma + size) < 0)
                {
                    continue;
                }
            }
            else if (e.dma != dma)
            {
                continue;
            }
            matches++;
            final int level = (e.size == size ? 1 : 0) + (e.type == type ? 1 : 0) + (e.dir == dir ? 1 : 0) +
                (e.sgCallEnts == sgCallEnts ? 1 : 0);
            if (level == 4)
            {
                return e;
            }
            if (level > lastLevel)
            {
                lastLevel = level;
                best = e;
            }
        }
        return matches == 1 ? best : null;
    }

    /** {@code err_printk}: count, keep, and log if the budget and the driver filter allow. */
    private void error(
        final Kind kind, final DebugDevice dev, final Entry entry, final long dma, final long size, final long phys,
        final MappingType calledAs, final DmaDirection calledWith, final int count, final String text)
    {
        errorCount.incrementAndGet();
        kindCounts.incrementAndGet(kind.ordinal());
        final String message = PREFIX + dev.driverName() + " " + dev.deviceName() + ": " + text;
        emit(report(kind, dev, entry, dma, size, phys, calledAs, calledWith, count, message), dev, true);
    }

    private static DebugReport report(
        final Kind kind, final DebugDevice dev, final Entry entry, final long dma, final long size, final long phys,
        final MappingType calledAs, final DmaDirection calledWith, final int count, final String message)
    {
        return new DebugReport(kind, String.valueOf(dev.driverName()), String.valueOf(dev.deviceName()), dma,
            entry == null ? 0 : entry.size, size, entry == null ? 0 : entry.paddr, phys,
            entry == null ? null : entry.type, calledAs, entry == null ? null : entry.dir, calledWith,
            entry == null || entry.type != MappingType.SCATTER_GATHER ? -1 : entry.sgCallEnts, count, message,
            entry == null ? null : entry.stack);
    }

    private void emit(final DebugReport report, final DebugDevice dev, final boolean limited)
    {
        synchronized (reports)
        {
            reports.add(report);
            final boolean show;
            if (limited)
            {
                final boolean all = showAllErrors;
                show = passesFilter(dev) && (all || showNumErrors > 0);
                // As the kernel: a filtered-out report still uses up the budget.
                if (!all && showNumErrors > 0)
                {
                    showNumErrors--;
                }
            }
            else
            {
                show = true;
            }
            if (show)
            {
                log.log(null, report.toString());
            }
        }
    }

    private boolean passesFilter(final DebugDevice dev)
    {
        final String filter = driverFilter;
        return filter == null || filter.equals(dev.driverName());
    }

    private StackTraceElement[] captureStack()
    {
        final int depth = stackDepth;
        final String self = DmaDebug.class.getName();
        final String nested = self + "$";
        return WALKER.walk(frames -> frames
            .dropWhile(f -> f.getClassName().equals(self) || f.getClassName().startsWith(nested))
            .limit(depth)
            .map(StackWalker.StackFrame::toStackTraceElement)
            .toArray(StackTraceElement[]::new));
    }

    /**
     * {@code entry->is_cache_clean}: CPU_CACHE_CLEAN, or REQUIRE_COHERENT (a coherent, never-bounced mapping cannot
     * lose data to a shared cacheline), as in the kernel's REQUIRE_COHERENT series.
     */
    private static boolean isCacheClean(final long attrs)
    {
        return DmaAttrs.has(attrs, DmaAttrs.CPU_CACHE_CLEAN) || DmaAttrs.has(attrs, DmaAttrs.REQUIRE_COHERENT);
    }

    private Bucket bucket(final long dma)
    {
        return buckets[(int)((dma >>> HASH_FN_SHIFT) & HASH_FN_MASK)];
    }

    /** {@code to_cacheline_number} with 4 KiB pages and 64-byte lines: {@code paddr >> 6}. */
    private static long cacheline(final long paddr)
    {
        return paddr >>> L1_CACHE_SHIFT;
    }

    private static int clamp(final int n, final int capacity)
    {
        return Math.max(0, Math.min(n, capacity));
    }

    /** {@code 0x%016llx}. */
    static String hex(final long v)
    {
        return String.format("0x%016x", v);
    }

    /** {@code %pa} of a 64-bit {@code phys_addr_t}: also {@code 0x} and 16 zero-padded digits. */
    static String pa(final long v)
    {
        return hex(v);
    }

    /** {@code %llu}. */
    static String u64(final long v)
    {
        return Long.toUnsignedString(v);
    }

    private static <T> T notNull(final T value, final String name)
    {
        if (value == null)
        {
            throw new IllegalArgumentException("dma-debug: " + name + " must not be null");
        }
        return value;
    }

    /** One bucket: entries in insertion order; guarded by the bucket's monitor. */
    private static final class Bucket
    {
        final ArrayList<Entry> entries = new ArrayList<>();
    }

    /** Overlap state of one physical cacheline; guarded by {@link #activeLines}. */
    private static final class ActiveLine
    {
        final boolean firstCacheClean;
        int overlap;

        ActiveLine(final boolean firstCacheClean)
        {
            this.firstCacheClean = firstCacheClean;
        }
    }

    /** {@code struct dma_debug_entry}; {@code mapErr} is guarded by the bucket lock, the rest is immutable. */
    private static final class Entry
    {
        final DebugDevice dev;
        final long dma;
        final long size;
        final MappingType type;
        final DmaDirection dir;
        final int sgCallEnts;
        final int sgMappedEnts;
        final long paddr;
        final boolean cacheClean;
        final StackTraceElement[] stack;
        int mapErr;

        Entry(
            final DebugDevice dev, final long dma, final long size, final MappingType type, final DmaDirection dir,
            final int sgCallEnts, final int sgMappedEnts, final long paddr, final int mapErr,
            final boolean cacheClean, final StackTraceElement[] stack)
        {
            this.dev = dev;
            this.dma = dma;
            this.size = size;
            this.type = type;
            this.dir = dir;
            this.sgCallEnts = sgCallEnts;
            this.sgMappedEnts = sgMappedEnts;
            this.paddr = paddr;
            this.mapErr = mapErr;
            this.cacheClean = cacheClean;
            this.stack = stack;
        }
    }
}
