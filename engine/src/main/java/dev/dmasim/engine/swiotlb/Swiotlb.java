package dev.dmasim.engine.swiotlb;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;

/**
 * The software IO TLB: one fixed pool of bounce buffers in simulated RAM, with the semantics of the
 * default (non-dynamic) pool of Linux {@code kernel/dma/swiotlb.c}.
 *
 * <p><b>Units.</b> Addresses ({@code origPhys}, {@code tlbAddr}) are physical byte addresses; sizes and masks
 * are bytes; the pool is counted in <i>slots</i> of {@link #IO_TLB_SIZE} (2 KiB) bytes, grouped in segments of
 * {@link #IO_TLB_SEGSIZE} (128) slots. A mapping never crosses a segment, so no mapping exceeds
 * {@link #MAX_MAPPING_BYTES} (256 KiB). The pool's DMA address is its physical address.
 *
 * <pre>
 *  base                                                              base + nslabs * 2048
 *  |<-------- area 0 -------->|<-------- area 1 -------->| ... |<-- area nareas-1 -->|
 *  |seg 0 (128 slots)|seg 1 ..|                          |     |                     |
 *  one mapping:  [pad slots][offset | mapping bytes | post-padding to alloc alignment]
 *                            ^ returned tlbAddr (low bits of origPhys under min_align_mask kept)
 * </pre>
 *
 * <p><b>Per-slot metadata</b> (primitive arrays, indexed by slot): {@code list} = length of the free run
 * starting at the slot, up to the end of its segment (0 = allocated); {@code origBase} = the original physical
 * address corresponding to the slot's first byte, or -1 for a free or padding slot; {@code allocEnd} = bytes
 * from the slot's first byte to the end of its allocation (written by every map on all its slots, padding
 * included; stale and never read on a free slot); {@code padSlots} = leading padding slots (on the
 * mapping's first data slot, 0 elsewhere); {@code mapOffset} = offset of the returned address within its slot on a
 * mapping's first data slot, -1 elsewhere (lets unmap reject an address that does not start a live mapping).
 * The kernel keeps {@code orig_addr}/{@code alloc_size} relative to the mapping start instead; the stored values
 * differ by the in-slot offset, the arithmetic and the results are the same.
 *
 * <p><b>Invariants / locking.</b> Slots are split into {@link #areas()} contiguous areas of
 * {@link #areaSlots()} slots; the area count is a power of two and each area is a whole number of segments,
 * so every free run and every allocation lies inside one area. An area's {@code used}, {@code index} and the
 * {@code list} entries of its slots are read and written only under that area's monitor; there is no global
 * lock (with one area there is exactly one lock: the "global lock" configuration). A map searches the caller's
 * area ({@code cpu & (areas - 1)}) first, then the others in turn, each under its own lock only. For all i in an
 * area: {@code list[i] == 0} iff slot i is allocated, else 1; {@code used} = allocated slots of the area. (The
 * kernel keeps in {@code list[i]} the length of the free run from i to the segment end and renumbers up to a
 * segment of it on every map and unmap; dmasim tests "the run from i holds nslots" by looking at those slots,
 * skipping candidates that a found busy slot rules out, so the choice of slot is the kernel's and map/unmap
 * cost O(nslots) instead of O(segment).)
 * {@code origBase}, {@code allocEnd}, {@code padSlots} and {@code mapOffset} of an allocated run are written by
 * the mapping thread after it has claimed the run (as the kernel does, outside the lock) and are stable until
 * the unmap; another thread that unmaps or syncs the mapping must have received {@code tlbAddr} through a
 * happens-before edge (a queue, a lock), exactly as a kernel driver hands a buffer to its completion path.
 * Bounce copies run without locks; they touch only bytes of a live mapping, which nobody else owns.
 * {@link #usedSlots()} and {@link #usedHiwater()} are global atomics (the kernel's debugfs counters);
 * the statistics are per-area: the map count and the map copy's bytes are plain {@code Area} fields written
 * under the area lock at the claim (and read under it), the others per-area atomics. Counter reads are snapshots.
 *
 * <p><b>Deviations from the kernel</b> (all deliberate): the min_align_mask slot match is applied even when
 * {@code origPhys == 0} (the kernel skips it for its restricted-pool allocator, which dmasim does not model, and
 * simulated RAM may start at 0); the area count is reduced until areas are whole segments instead of rounding
 * the pool size up; "Buffer overflow detected" is logged on every occurrence (the kernel warns once per boot)
 * and counted; unmap rejects an address that does not start a live mapping and syncs reject addresses outside
 * live mappings (the kernel corrupts its free lists or returns silently); a bounce copy that hits a hole is
 * logged and counted instead of crashing.
 *
 * <p><b>Thread-safety.</b> All methods are thread-safe. Map, unmap and syncs allocate nothing (except the
 * log line of a failure or an overflow). Programming errors (bad sizes, masks, the NONE direction, an address
 * that is not a live mapping) throw {@link IllegalArgumentException} before any state changes; a full pool is a
 * value ({@link #NO_SLOT}), never an exception, never a wait.
 */
public final class Swiotlb
{
    /** log2 of the slot size. */
    public static final int IO_TLB_SHIFT = 11;
    /** Slot size in bytes (2 KiB). */
    public static final int IO_TLB_SIZE = 1 << IO_TLB_SHIFT;
    /** Slots per segment; free runs and mappings never cross a segment. */
    public static final int IO_TLB_SEGSIZE = 128;
    /** The largest mapping in bytes, including alignment padding (256 KiB). */
    public static final long MAX_MAPPING_BYTES = (long)IO_TLB_SIZE * IO_TLB_SEGSIZE;
    /** Default pool size in bytes (64 MiB, 32768 slots). */
    public static final long DEFAULT_SIZE = 64L << 20;
    /** Returned by the map methods when no slots can be found. */
    public static final long NO_SLOT = -1L;
    /** The most slots a pool may have (1 TiB of pool). */
    public static final long MAX_SLABS = 1L << 29;

    /** The CPU page size the legacy page-alignment rule uses, bytes. */
    static final long PAGE_SIZE = 4096L;

    private static final long INVALID_PHYS = -1L;
    /** {@code list[i]} of a free slot (0 = allocated). */
    private static final int FREE = 1;
    private static final int SEG_MASK = IO_TLB_SEGSIZE - 1;

    // Statistics: one padded group of counters per area (8 longs = 64 bytes per area).
    private static final int STAT_STRIDE_SHIFT = 3;
    private static final int STAT_BYTES = 1;
    private static final int STAT_FAILURES = 2;
    private static final int STAT_OVERFLOWS = 3;
    private static final int STAT_COPY_FAULTS = 4;

    // dev_warn_ratelimited defaults: 10 lines per 5 s.
    private static final int RATELIMIT_BURST = 10;
    private static final long RATELIMIT_INTERVAL_NS = 5_000_000_000L;

    private final PhysicalMemory mem;
    private final KernelLog log;
    private final long start;
    private final long end;
    private final int nslabs;
    private final int nareas;
    private final int areaNslabs;
    private final boolean forceBounce;

    private final int[] list;
    private final long[] origBase;
    private final int[] allocEnd;
    private final short[] padSlots;
    private final short[] mapOffset;
    private final Area[] areas;

    private final AtomicLong totalUsed = new AtomicLong();
    private final AtomicLong usedHiwater = new AtomicLong();
    private final AtomicLongArray stats;

    private final Object ratelimitLock = new Object();
    private long ratelimitBegin = Long.MIN_VALUE;
    private int ratelimitPrinted;
    private long ratelimitSuppressed;
    private volatile boolean alignWarned;

    /** One lock-splitting area: its fields are guarded by the Area's monitor. */
    private static final class Area
    {
        int used;
        int index;
        /** Successful maps that claimed slots here, and their mapping bytes (the map copy), counted at the claim. */
        long bounces;
        long mapBytes;
    }

    /**
     * Creates the pool over {@code [base, base + nslabs * IO_TLB_SIZE)} of {@code mem}, all slots free.
     *
     * @param mem         the simulated RAM holding the pool and the original buffers.
     * @param base        physical address of the pool, page-aligned; the caller has reserved the range.
     * @param nslabs      pool size in slots, rounded up to a multiple of {@link #IO_TLB_SEGSIZE}.
     * @param nareas      wanted number of areas (usually the CPU count): rounded up to a power of two, then
     *                    limited as by {@link #limitNareas(int, long)}.
     * @param forceBounce true when every streaming mapping must bounce ({@code swiotlb=force}, CC guests).
     * @param log         where "swiotlb buffer is full" and overflow warnings go.
     * @throws IllegalArgumentException for a null argument, an unaligned or non-RAM range, or counts out of range.
     */
    public Swiotlb(
        final PhysicalMemory mem,
        final long base,
        final long nslabs,
        final int nareas,
        final boolean forceBounce,
        final KernelLog log)
    {
        if (mem == null || log == null)
        {
            throw new IllegalArgumentException("swiotlb: mem and log must not be null");
        }
        if (base < 0 || (base & (PAGE_SIZE - 1)) != 0)
        {
            throw new IllegalArgumentException("swiotlb: base 0x" + Long.toHexString(base) +
                " is not a page-aligned physical address");
        }
        if (nslabs < 1 || nslabs > MAX_SLABS)
        {
            throw new IllegalArgumentException("swiotlb: nslabs " + nslabs + " is not in 1.." + MAX_SLABS);
        }
        if (nareas < 1 || nareas > (1 << 20))
        {
            throw new IllegalArgumentException("swiotlb: nareas " + nareas + " is not in 1..1048576");
        }
        final long slabs = alignUp(nslabs, IO_TLB_SEGSIZE);
        final long bytes = slabs << IO_TLB_SHIFT;
        if (!mem.isRam(base, bytes))
        {
            throw new IllegalArgumentException("swiotlb: pool [0x" + Long.toHexString(base) + ", 0x" +
                Long.toHexString(base + bytes) + ") is not entirely RAM");
        }

        this.mem = mem;
        this.log = log;
        this.start = base;
        this.end = base + bytes;
        this.nslabs = (int)slabs;
        this.nareas = limitNareas(nareas, slabs);
        this.areaNslabs = this.nslabs / this.nareas;
        this.forceBounce = forceBounce;

        list = new int[this.nslabs];
        origBase = new long[this.nslabs];
        allocEnd = new int[this.nslabs];
        padSlots = new short[this.nslabs];
        mapOffset = new short[this.nslabs];
        for (int i = 0; i < this.nslabs; i++)
        {
            list[i] = FREE;
            origBase[i] = INVALID_PHYS;
            mapOffset[i] = -1;
        }
        areas = new Area[this.nareas];
        for (int a = 0; a < this.nareas; a++)
        {
            areas[a] = new Area();
        }
        stats = new AtomicLongArray(this.nareas << STAT_STRIDE_SHIFT);
    }

    /**
     * The area count a pool of {@code nslabs} slots gets for a wanted count: {@code wanted} rounded up to a power
     * of two, then halved until each area is a whole number of segments (so at least {@link #IO_TLB_SEGSIZE}
     * slots, the kernel's {@code limit_nareas}; the kernel may instead round its default pool size up).
     *
     * @param wanted wanted number of areas, at least 1.
     * @param nslabs pool size in slots, a multiple of {@link #IO_TLB_SEGSIZE}.
     * @return the number of areas, a power of two, at least 1.
     */
    public static int limitNareas(final int wanted, final long nslabs)
    {
        int n = wanted <= 1 ? 1 : Integer.highestOneBit(wanted - 1) << 1;
        while (n > 1 && nslabs % ((long)n * IO_TLB_SEGSIZE) != 0)
        {
            n >>>= 1;
        }
        return n;
    }

    /**
     * @param bytes pool size in bytes.
     * @return the pool size in slots ({@code bytes / IO_TLB_SIZE} rounded up to whole segments).
     */
    public static long nslabsForBytes(final long bytes)
    {
        return alignUp((bytes + IO_TLB_SIZE - 1) >>> IO_TLB_SHIFT, IO_TLB_SEGSIZE);
    }

    // ------------------------------------------------------------------------------------------------------
    // Map
    // ------------------------------------------------------------------------------------------------------

    /**
     * {@code swiotlb_tbl_map_single}: allocates bounce slots for {@code [origPhys, origPhys + mappingSize)} and
     * copies the original bytes into them (for every direction: a FROM_DEVICE bounce buffer starts with the
     * original contents, so a partial device write exposes nothing stale).
     *
     * <p>The returned address keeps the bits of {@code origPhys} under {@code minAlignMask}: the bits below the
     * slot size (or below {@code allocAlignMask + 1}, whichever is larger) become an in-allocation offset, whole
     * slots of it are padding slots; the higher bits are matched by the slot choice. The allocation starts
     * {@code allocAlignMask + 1}-aligned and is rounded up to a multiple of it; with no explicit alignment and no
     * {@code minAlignMask}, allocations of a page or more are page-aligned (legacy behaviour). The allocation does
     * not cross a {@code segBoundaryMask + 1} boundary.
     *
     * @param dev             device name for log lines and error messages (may be null).
     * @param origPhys        physical address of the original buffer, bytes.
     * @param mappingSize     bytes to map, at least 1.
     * @param allocAlignMask  alignment mask of the allocation: 0 for streaming, granule - 1 for dma-iommu.
     * @param minAlignMask    the device's {@code min_align_mask} (0 if none).
     * @param segBoundaryMask the device's segment boundary mask ({@code 0xffffffff} by default, -1 for none).
     * @param dir             BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE.
     * @param attrs           {@code DmaAttrs} bits; NO_WARN silences the "buffer is full" line.
     * @param cpu             the calling CPU: the search starts in area {@code cpu & (areas - 1)}.
     * @return the bounce buffer's physical (= DMA) address, or {@link #NO_SLOT} when no slots fit.
     * @throws IllegalArgumentException for a non-positive size, a negative address, a mask that is not of the
     *                                  form {@code 2^k - 1}, or a null or NONE direction; nothing changes.
     */
    public long tblMapSingle(
        final String dev,
        final long origPhys,
        final long mappingSize,
        final long allocAlignMask,
        final long minAlignMask,
        final long segBoundaryMask,
        final DmaDirection dir,
        final long attrs,
        final int cpu)
    {
        checkMapArgs(dev, origPhys, mappingSize, allocAlignMask, minAlignMask, segBoundaryMask, dir);
        if (allocAlignMask > PAGE_SIZE - 1 && !alignWarned)
        {
            alignWarned = true;
            log.log(dev, "Alloc alignment may prevent fulfilling requests with max mapping_size");
        }

        final long offset = origPhys & minAlignMask & (allocAlignMask | (IO_TLB_SIZE - 1));
        final int startArea = cpu & (nareas - 1);
        if (mappingSize > MAX_MAPPING_BYTES)
        {
            // Can never fit a segment: fail at once, even with free slots (reference §7 #4).
            final long sz = mappingSize > Long.MAX_VALUE / 2 ? mappingSize : alignUp(mappingSize + offset,
                allocAlignMask + 1);
            return fail(dev, sz, attrs, startArea);
        }
        final long size = alignUp(mappingSize + offset, allocAlignMask + 1);
        final int index = size > MAX_MAPPING_BYTES ?
            -1 : findSlots(origPhys, size, mappingSize, allocAlignMask, minAlignMask, segBoundaryMask, startArea);
        if (index < 0)
        {
            return fail(dev, size, attrs, startArea);
        }

        // The run [index, index + nslots) is ours: record where each data slot's bytes come from.
        final int pad = (int)(offset >>> IO_TLB_SHIFT);
        final int inSlot = (int)(offset & (IO_TLB_SIZE - 1));
        final int first = index + pad;
        final int nslots = nrSlots(size);
        padSlots[first] = (short)pad;
        mapOffset[first] = (short)inSlot;
        for (int i = 0; i < nslots; i++)
        {
            allocEnd[index + i] = (int)(size - ((long)i << IO_TLB_SHIFT));
        }
        final long base0 = origPhys - inSlot;
        for (int i = 0, n = nslots - pad; i < n; i++)
        {
            origBase[first + i] = base0 + ((long)i << IO_TLB_SHIFT);
        }
        final long tlbAddr = slotAddr(first) + inSlot;
        // The bounce and its bytes were counted under the area lock at the claim (no atomics here).
        copyUncounted(dev, origPhys, tlbAddr, mappingSize, index / areaNslabs);
        return tlbAddr;
    }

    /**
     * The dma-iommu bounce for untrusted devices ({@code iommu_dma_map_swiotlb}): maps with
     * {@code allocAlignMask = granule - 1}, then zeroes the pre-padding {@code [alignDown(tlbAddr, granule),
     * tlbAddr)} and the post-padding {@code [tlbAddr + mappingSize, alignUp(tlbAddr + mappingSize, granule))}, so
     * the device, which the IOMMU lets reach whole granules, sees no leftover data. For a trusted device that
     * bounces, dma-iommu calls {@link #tblMapSingle} with {@code granule - 1} and no zeroing.
     *
     * @param granule the IOMMU granule in bytes, a power of two.
     * @return as {@link #tblMapSingle}.
     * @throws IllegalArgumentException as {@link #tblMapSingle}, or for a granule that is not a power of two.
     */
    public long tblMapSingleZeroPadded(
        final String dev,
        final long origPhys,
        final long mappingSize,
        final long granule,
        final long minAlignMask,
        final long segBoundaryMask,
        final DmaDirection dir,
        final long attrs,
        final int cpu)
    {
        if (granule <= 0 || (granule & (granule - 1)) != 0 || granule > (1L << 40))
        {
            throw new IllegalArgumentException("swiotlb map (" + dev + "): granule " + granule +
                " is not a power of two");
        }
        final long tlbAddr = tblMapSingle(
            dev, origPhys, mappingSize, granule - 1, minAlignMask, segBoundaryMask, dir, attrs, cpu);
        if (tlbAddr == NO_SLOT)
        {
            return NO_SLOT;
        }
        final long preStart = tlbAddr & -granule;
        if (preStart < tlbAddr)
        {
            mem.fill(preStart, tlbAddr - preStart, (byte)0);
        }
        final long dataEnd = tlbAddr + mappingSize;
        final long postEnd = alignUp(dataEnd, granule);
        if (postEnd > dataEnd)
        {
            mem.fill(dataEnd, postEnd - dataEnd, (byte)0);
        }
        return tlbAddr;
    }

    private int findSlots(
        final long origPhys,
        final long size,
        final long mappingSize,
        final long allocAlignMask,
        final long minAlignMask,
        final long segBoundaryMask,
        final int startArea)
    {
        final int nslots = nrSlots(size);
        long alignMask = allocAlignMask;
        long iotlbAlignMask = minAlignMask;
        if (alignMask == 0 && iotlbAlignMask == 0 && size >= PAGE_SIZE)
        {
            alignMask = PAGE_SIZE - 1;
        }
        alignMask |= IO_TLB_SIZE - 1;
        iotlbAlignMask &= ~alignMask;
        final long stride = (Math.max(alignMask, iotlbAlignMask) >>> IO_TLB_SHIFT) + 1;

        final long tblDmaAddr = start & segBoundaryMask;
        final long maxSlots = (segBoundaryMask >>> IO_TLB_SHIFT) + 1;
        final long boundaryShift = (tblDmaAddr + IO_TLB_SIZE - 1) >>> IO_TLB_SHIFT;
        final long origBits = origPhys & iotlbAlignMask;

        int a = startArea;
        do
        {
            final int index = searchArea(a, nslots, mappingSize, alignMask, iotlbAlignMask, origBits, stride,
                tblDmaAddr, maxSlots, boundaryShift);
            if (index >= 0)
            {
                incUsedAndHiwater(nslots);
                return index;
            }
            a = (a + 1) & (nareas - 1);
        }
        while (a != startArea);
        return -1;
    }

    /** {@code swiotlb_search_pool_area}: one area, under its lock only. @return first slot, or -1. */
    private int searchArea(
        final int areaIndex,
        final int nslots,
        final long mappingSize,
        final long alignMask,
        final long iotlbAlignMask,
        final long origBits,
        final long stride,
        final long tblDmaAddr,
        final long maxSlots,
        final long boundaryShift)
    {
        final Area area = areas[areaIndex];
        final int slotBase = areaIndex * areaNslabs;
        synchronized (area)
        {
            if (nslots > areaNslabs - area.used)
            {
                return -1; // fail fast: not enough free slots in this area at all
            }
            int index = area.index;
            // Every candidate slot in (failFrom, failTo] is known not to fit (it would contain the busy slot or
            // cross the segment end that made the candidate at failFrom fail): skip its scan, not its step.
            int failFrom = Integer.MAX_VALUE;
            int failTo = -1;
            for (long checked = 0; checked < areaNslabs; )
            {
                final int slot = slotBase + index;
                final long tlb = tblDmaAddr + ((long)slot << IO_TLB_SHIFT);
                if ((tlb & alignMask) != 0 || (tlb & iotlbAlignMask) != origBits)
                {
                    index = wrap(index + 1L);
                    checked++;
                    continue;
                }
                if (!spansBoundary(slot, nslots, boundaryShift, maxSlots)
                    && !(slot > failFrom && slot <= failTo))
                {
                    final int busy = firstMisfit(slot, nslots);
                    if (busy >= 0)
                    {
                        failFrom = slot;
                        failTo = busy;
                        index = wrap(index + stride);
                        checked += stride;
                        continue;
                    }
                    for (int i = 0; i < nslots; i++)
                    {
                        list[slot + i] = 0;
                    }
                    area.index = wrap((long)index + nslots);
                    area.used += nslots;
                    area.bounces++;
                    area.mapBytes += mappingSize;
                    return slot;
                }
                index = wrap(index + stride);
                checked += stride;
            }
        }
        return -1;
    }

    private long fail(final String dev, final long size, final long attrs, final int area)
    {
        stats.getAndIncrement(statIndex(area, STAT_FAILURES));
        if (!DmaAttrs.has(attrs, DmaAttrs.NO_WARN) && ratelimitOk())
        {
            log.log(dev, "swiotlb buffer is full (sz: " + size + " bytes), total " + nslabs + " (slots), used " +
                totalUsed.get() + " (slots)");
        }
        return NO_SLOT;
    }

    // ------------------------------------------------------------------------------------------------------
    // Unmap and syncs
    // ------------------------------------------------------------------------------------------------------

    /**
     * {@code swiotlb_tbl_unmap_single}: copies the bounce buffer back to the original (unless SKIP_CPU_SYNC, and
     * only for FROM_DEVICE and BIDIRECTIONAL), then frees the mapping's slots, merging them with the free runs
     * around them in the segment.
     *
     * @param tlbAddr     the address {@link #tblMapSingle} returned.
     * @param mappingSize bytes to copy back, at least 0 (clamped, with a warning, to the allocation).
     * @throws IllegalArgumentException if {@code tlbAddr} is not the start of a live mapping of this pool, for a
     *                                  negative size, or a null or NONE direction; nothing changes.
     */
    public void tblUnmapSingle(
        final String dev,
        final long tlbAddr,
        final long mappingSize,
        final DmaDirection dir,
        final long attrs)
    {
        checkDir(dev, "unmap", dir);
        checkSize(dev, "unmap", mappingSize);
        final int slot = slotOf(dev, "unmap", tlbAddr);
        // Plain reads of a live mapping's metadata: stable until this unmap (see class comment). A concurrent
        // double unmap of the same address is a caller bug and is not detected reliably.
        if (mapOffset[slot] != (int)((tlbAddr - start) & (IO_TLB_SIZE - 1)))
        {
            throw new IllegalArgumentException("swiotlb unmap (" + dev + "): tlbAddr 0x" +
                Long.toHexString(tlbAddr) + " is not the start of a live swiotlb mapping");
        }
        if (!DmaAttrs.has(attrs, DmaAttrs.SKIP_CPU_SYNC) && dir.deviceWrites())
        {
            bounce(dev, tlbAddr, slot, mappingSize, false);
        }
        releaseSlots(slot);
    }

    /** {@code swiotlb_release_slots}. */
    private void releaseSlots(final int firstDataSlot)
    {
        final int index = firstDataSlot - padSlots[firstDataSlot];
        final int nslots = nrSlots(allocEnd[index]);
        // The run is still ours: reset its metadata before handing it back under the lock (the next owner
        // acquires the same lock, so it sees these writes). Only what a later reader could see stale is reset:
        // origBase of the data slots (padding slots stay INVALID from their last release), mapOffset and
        // padSlots, which map writes on the first data slot only; allocEnd is rewritten by every map.
        for (int i = firstDataSlot, e = index + nslots; i < e; i++)
        {
            origBase[i] = INVALID_PHYS;
        }
        mapOffset[firstDataSlot] = -1;
        padSlots[firstDataSlot] = 0;
        final Area area = areas[index / areaNslabs];
        synchronized (area)
        {
            for (int i = index + nslots - 1; i >= index; i--)
            {
                list[i] = FREE;
            }
            area.used -= nslots;
        }
        totalUsed.addAndGet(-nslots);
    }

    /**
     * {@code swiotlb_sync_single_for_device}: TO_DEVICE and BIDIRECTIONAL copy original → bounce; FROM_DEVICE
     * copies nothing.
     *
     * @param tlbAddr any address inside a live mapping's data (e.g. {@code mapped + offset} for a range sync).
     * @param size    bytes, at least 0; clamped, with the kernel's "Buffer overflow detected" warning, to the
     *                bytes left in the allocation.
     * @throws IllegalArgumentException for an address outside the pool or not in a live mapping's data slots,
     *                                  a negative size, or a null or NONE direction (the kernel BUGs).
     */
    public void syncSingleForDevice(final String dev, final long tlbAddr, final long size, final DmaDirection dir)
    {
        checkDir(dev, "sync_for_device", dir);
        checkSize(dev, "sync_for_device", size);
        final int slot = liveSlotOf(dev, "sync_for_device", tlbAddr);
        if (dir.deviceReads())
        {
            bounce(dev, tlbAddr, slot, size, true);
        }
    }

    /**
     * {@code swiotlb_sync_single_for_cpu}: FROM_DEVICE and BIDIRECTIONAL copy bounce → original; TO_DEVICE copies
     * nothing. Arguments and exceptions as {@link #syncSingleForDevice}.
     */
    public void syncSingleForCpu(final String dev, final long tlbAddr, final long size, final DmaDirection dir)
    {
        checkDir(dev, "sync_for_cpu", dir);
        checkSize(dev, "sync_for_cpu", size);
        final int slot = liveSlotOf(dev, "sync_for_cpu", tlbAddr);
        if (dir.deviceWrites())
        {
            bounce(dev, tlbAddr, slot, size, false);
        }
    }

    /** {@code swiotlb_bounce}: one contiguous copy between the original and the bounce buffer. */
    private void bounce(final String dev, final long tlbAddr, final int slot, final long size, final boolean toDevice)
    {
        final long base = origBase[slot];
        if (base == INVALID_PHYS)
        {
            return; // a padding slot: carries no data (the kernel returns silently too)
        }
        final long inSlot = (tlbAddr - start) & (IO_TLB_SIZE - 1);
        final long remaining = allocEnd[slot] - inSlot;
        long len = size;
        final int area = slot / areaNslabs;
        if (len > remaining)
        {
            stats.getAndIncrement(statIndex(area, STAT_OVERFLOWS));
            log.log(dev, "Buffer overflow detected. Allocation size: " + remaining + ". Mapping size: " + size + ".");
            len = Math.max(0, remaining);
        }
        final long orig = base + inSlot;
        if (toDevice)
        {
            copy(dev, orig, tlbAddr, len, area);
        }
        else
        {
            copy(dev, tlbAddr, orig, len, area);
        }
    }

    private void copy(final String dev, final long src, final long dst, final long len, final int area)
    {
        if (len == 0)
        {
            return;
        }
        stats.getAndAdd(statIndex(area, STAT_BYTES), len);
        copyUncounted(dev, src, dst, len, area);
    }

    /** The copy without the byte count; {@code len > 0}. */
    private void copyUncounted(final String dev, final long src, final long dst, final long len, final int area)
    {
        final int rc = mem.copy(src, dst, len);
        if (rc != MemTx.OK)
        {
            stats.getAndIncrement(statIndex(area, STAT_COPY_FAULTS));
            log.log(dev, "swiotlb: bounce copy 0x" + Long.toHexString(src) + " -> 0x" + Long.toHexString(dst) +
                " (" + len + " bytes) failed: " + MemTx.name(rc));
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Queries
    // ------------------------------------------------------------------------------------------------------

    /** @return true if {@code phys} lies inside the pool ({@code is_swiotlb_buffer}). */
    public boolean isSwiotlbBuffer(final long phys)
    {
        return phys >= start && phys < end;
    }

    /**
     * {@code swiotlb_max_mapping_size}: the largest mapping in bytes for a device with {@code minAlignMask}.
     *
     * @return 256 KiB, less {@code minAlignMask} rounded up to whole slots when it is non-zero.
     */
    public long maxMappingSize(final long minAlignMask)
    {
        final long minAlign = minAlignMask == 0 ? 0 : alignUpAny(minAlignMask, IO_TLB_SIZE);
        return MAX_MAPPING_BYTES - minAlign;
    }

    /**
     * @param tlbAddr an address inside a live mapping's data.
     * @return the original physical address that {@code tlbAddr} bounces, or -1 if it is in no live mapping.
     */
    public long origAddr(final long tlbAddr)
    {
        if (!isSwiotlbBuffer(tlbAddr))
        {
            return -1L;
        }
        final int slot = (int)((tlbAddr - start) >>> IO_TLB_SHIFT);
        final long base = origBase[slot]; // racy snapshot if the mapping is being unmapped concurrently
        return base == INVALID_PHYS ? -1L : base + ((tlbAddr - start) & (IO_TLB_SIZE - 1));
    }

    /** @return the pool size in slots ({@code io_tlb_nslabs}). */
    public long totalSlots()
    {
        return nslabs;
    }

    /** @return allocated slots, padding included ({@code io_tlb_used}). */
    public long usedSlots()
    {
        return totalUsed.get();
    }

    /** @return the largest {@link #usedSlots()} seen since creation or {@link #resetHiwater()}, in slots. */
    public long usedHiwater()
    {
        return usedHiwater.get();
    }

    /** Sets the high-water mark to 0 (the kernel's debugfs file accepts only 0). */
    public void resetHiwater()
    {
        usedHiwater.set(0);
    }

    /** @return the pool's first physical address. */
    public long start()
    {
        return start;
    }

    /** @return the physical address just past the pool (exclusive). */
    public long end()
    {
        return end;
    }

    /** @return the number of areas (locks), a power of two. */
    public int areas()
    {
        return nareas;
    }

    /** @return slots per area. */
    public int areaSlots()
    {
        return areaNslabs;
    }

    /**
     * @param area 0..areas()-1.
     * @return slots allocated in {@code area} (a snapshot taken under the area's lock).
     */
    public int areaUsed(final int area)
    {
        final Area a = areas[area];
        synchronized (a)
        {
            return a.used;
        }
    }

    /** @return true if every streaming mapping must bounce ({@code swiotlb=force}). */
    public boolean forceBounce()
    {
        return forceBounce;
    }

    /** @return successful maps (bounce buffers handed out). */
    public long bounces()
    {
        long sum = 0;
        for (final Area a : areas)
        {
            synchronized (a)
            {
                sum += a.bounces;
            }
        }
        return sum;
    }

    /** @return bytes copied between original and bounce buffers, both directions. */
    public long bytesBounced()
    {
        long sum = sumStat(STAT_BYTES);
        for (final Area a : areas)
        {
            synchronized (a)
            {
                sum += a.mapBytes;
            }
        }
        return sum;
    }

    /** @return maps that found no slots (the pool was full, fragmented or the request too large). */
    public long failures()
    {
        return sumStat(STAT_FAILURES);
    }

    /** @return syncs and unmaps whose size exceeded the allocation ("Buffer overflow detected"). */
    public long overflows()
    {
        return sumStat(STAT_OVERFLOWS);
    }

    /** @return bounce copies that hit a non-RAM address (a {@link MemTx} error). */
    public long copyFaults()
    {
        return sumStat(STAT_COPY_FAULTS);
    }

    /** @return "swiotlb buffer is full" lines dropped by the rate limit. */
    public long suppressedWarnings()
    {
        synchronized (ratelimitLock)
        {
            return ratelimitSuppressed;
        }
    }

    @Override
    public String toString()
    {
        return "Swiotlb[0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end) + ", " + nslabs +
            " slots, " + nareas + " areas, used " + usedSlots() + ", force=" + forceBounce + "]";
    }

    // ------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------

    private void incUsedAndHiwater(final int nslots)
    {
        final long used = totalUsed.addAndGet(nslots);
        long hi = usedHiwater.get();
        while (used > hi && !usedHiwater.compareAndSet(hi, used))
        {
            hi = usedHiwater.get();
        }
    }

    private boolean ratelimitOk()
    {
        final long now = System.nanoTime();
        synchronized (ratelimitLock)
        {
            if (ratelimitBegin == Long.MIN_VALUE || now - ratelimitBegin >= RATELIMIT_INTERVAL_NS)
            {
                ratelimitBegin = now;
                ratelimitPrinted = 0;
            }
            if (ratelimitPrinted < RATELIMIT_BURST)
            {
                ratelimitPrinted++;
                return true;
            }
            ratelimitSuppressed++;
            return false;
        }
    }

    private long sumStat(final int which)
    {
        long sum = 0;
        for (int a = 0; a < nareas; a++)
        {
            sum += stats.get(statIndex(a, which));
        }
        return sum;
    }

    private static int statIndex(final int area, final int which)
    {
        return (area << STAT_STRIDE_SHIFT) + which;
    }

    private int wrap(final long index)
    {
        return index >= areaNslabs ? 0 : (int)index;
    }

    /**
     * The kernel's {@code slots[slot].list >= nslots} test: are {@code [slot, slot + nslots)} all free and inside
     * one segment? Called under the area's lock.
     *
     * @return -1 if they are; else the last slot a candidate can start at and still fail for the same reason
     *         (the first allocated slot of the range, or the segment's last slot if the range crosses it).
     */
    private int firstMisfit(final int slot, final int nslots)
    {
        final int segEnd = (slot + IO_TLB_SEGSIZE) & ~SEG_MASK;
        final int end = Math.min(slot + nslots, segEnd);
        for (int i = slot; i < end; i++)
        {
            if (list[i] == 0)
            {
                return i;
            }
        }
        return slot + nslots > segEnd ? segEnd - 1 : -1;
    }

    /** {@code iommu_is_span_boundary}: would slots [index, index + nslots) cross a boundary of maxSlots? */
    private static boolean spansBoundary(final int index, final int nslots, final long shift, final long maxSlots)
    {
        final long off = (shift + index) & (maxSlots - 1);
        return off + nslots > maxSlots;
    }

    private long slotAddr(final int slot)
    {
        return start + ((long)slot << IO_TLB_SHIFT);
    }

    private static int nrSlots(final long bytes)
    {
        return (int)((bytes + IO_TLB_SIZE - 1) >>> IO_TLB_SHIFT);
    }

    private static long alignUp(final long value, final long powerOfTwo)
    {
        return (value + powerOfTwo - 1) & -powerOfTwo;
    }

    private static long alignUpAny(final long value, final long multiple)
    {
        return (value + multiple - 1) / multiple * multiple;
    }

    private int slotOf(final String dev, final String op, final long tlbAddr)
    {
        if (!isSwiotlbBuffer(tlbAddr))
        {
            throw new IllegalArgumentException("swiotlb " + op + " (" + dev + "): tlbAddr 0x" +
                Long.toHexString(tlbAddr) + " is not in the swiotlb pool [0x" + Long.toHexString(start) + ", 0x" +
                Long.toHexString(end) + ")");
        }
        return (int)((tlbAddr - start) >>> IO_TLB_SHIFT);
    }

    private int liveSlotOf(final String dev, final String op, final long tlbAddr)
    {
        final int slot = slotOf(dev, op, tlbAddr);
        if (origBase[slot] == INVALID_PHYS)
        {
            throw new IllegalArgumentException("swiotlb " + op + " (" + dev + "): tlbAddr 0x" +
                Long.toHexString(tlbAddr) + " is not inside a live swiotlb mapping");
        }
        return slot;
    }

    private static void checkDir(final String dev, final String op, final DmaDirection dir)
    {
        if (dir == null || !dir.isValid())
        {
            throw new IllegalArgumentException("swiotlb " + op + " (" + dev + "): direction " + dir +
                " is not BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE");
        }
    }

    private static void checkSize(final String dev, final String op, final long size)
    {
        if (size < 0)
        {
            throw new IllegalArgumentException("swiotlb " + op + " (" + dev + "): size " + size + " is negative");
        }
    }

    private static void checkMapArgs(
        final String dev,
        final long origPhys,
        final long mappingSize,
        final long allocAlignMask,
        final long minAlignMask,
        final long segBoundaryMask,
        final DmaDirection dir)
    {
        checkDir(dev, "map", dir);
        if (mappingSize <= 0)
        {
            throw new IllegalArgumentException("swiotlb map (" + dev + "): mappingSize " + mappingSize +
                " is not positive");
        }
        if (origPhys < 0)
        {
            throw new IllegalArgumentException("swiotlb map (" + dev + "): origPhys 0x" +
                Long.toHexString(origPhys) + " is negative");
        }
        checkLowMask(dev, "allocAlignMask", allocAlignMask, false);
        checkLowMask(dev, "minAlignMask", minAlignMask, false);
        checkLowMask(dev, "segBoundaryMask", segBoundaryMask, true);
    }

    private static void checkLowMask(final String dev, final String name, final long mask, final boolean allowAllOnes)
    {
        final boolean ok = mask == -1L ? allowAllOnes : mask >= 0 && (mask & (mask + 1)) == 0 && mask < (1L << 40);
        if (!ok)
        {
            throw new IllegalArgumentException("swiotlb map (" + dev + "): " + name + " 0x" + Long.toHexString(mask) +
                " is not of the form 2^k - 1");
        }
    }
}
