package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.RamChunk;
import dev.dmasim.sim.mem.Zone;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A 4-level I/O page table with a 4 KiB granule and 48-bit input addresses (IOVAs), stored in simulated RAM: every
 * table is one 4 KiB page from a {@link PageAllocator}, holding 512 8-byte PTEs laid out as {@link PteDescriptor}
 * and accessed only with aligned 8-byte accesses to that RAM, so a simulated device (or a debugger dumping RAM)
 * sees exactly what hardware would walk. Where the memory gives {@link RamChunk}s, PTEs are accessed through the
 * chunk that holds their table (the same bytes, the same access modes), found in a small cache of chunks by the
 * table's physical address: the region and chunk are decoded once per chunk, not once per PTE. Otherwise (a
 * memory that must see every access) they go through {@link PhysicalMemory}'s 8-byte accessors.
 * <pre>
 *   IOVA  47      39 38      30 29      21 20      12 11        0
 *        +---------+----------+----------+----------+-----------+
 *        | L0 index| L1 index | L2 index | L3 index | page off  |
 *        +---------+----------+----------+----------+-----------+
 *   leaves: L1 = 1 GiB block, L2 = 2 MiB block, L3 = 4 KiB page; L0 entries are always tables
 * </pre>
 * Units: IOVAs, physical addresses and sizes are bytes; they must be 4 KiB aligned. Errors are negative errno
 * values ({@link #ENOMEM}, {@link #EEXIST}, {@link #EINVAL}), never exceptions, except for use after
 * {@link #destroy()} and once the memory is closed: then every call that touches a PTE throws
 * {@link IllegalStateException} ("address space closed" from the memory, or the JDK's "Already closed" from a
 * cached chunk), without reading or writing freed memory.
 * <p>
 * <b>Thread safety.</b> {@link #map}, {@link #unmap}, {@link #walk} and {@link #iovaToPhys} may run concurrently
 * from any number of threads as long as concurrent {@code map}/{@code unmap} calls cover disjoint IOVA ranges (which
 * the IOVA allocator above guarantees, as in Linux). {@link #destroy()} must not overlap any other call.
 * <p>
 * <b>Invariants / ordering.</b>
 * <ul>
 *   <li>A table page is zeroed with plain stores <i>before</i> it is published by a compare-and-set (volatile) of
 *       its parent PTE from 0 to a table entry. Walkers read every PTE with {@code getLongAcquire}, so a walker
 *       that sees the table entry also sees the zeroed (or later-written) child entries. Two mappers racing to
 *       install the same table: one CAS wins, the loser frees its page and continues with the winner's.</li>
 *   <li>Leaves are published by a compare-and-set from 0 (volatile, hence at least release), pairing with the
 *       walkers' acquire loads; the CAS also makes two racing overlapping maps fail with {@link #EEXIST} instead of
 *       silently overwriting. Unmap clears a leaf by compare-and-set from the value it read. For the disjoint
 *       callers of the contract an acquire load and a release store would be enough (no two callers own one leaf
 *       slot; Linux's io-pgtable writes leaves with plain stores); the CAS is kept because replacing it measured
 *       no faster here (docs/BENCHMARKS.md, session 2) and it keeps a racing double unmap of one range (a driver
 *       bug) from reporting success twice, which would free its IOVA twice.</li>
 *   <li>Table pages are never freed before {@link #destroy()}, even when they become empty (like Linux's
 *       io-pgtable-arm), so a walker can never follow a pointer into a freed page.</li>
 *   <li>A block leaf is written only into an empty slot; where a (possibly empty) table already sits, the range
 *       is mapped with smaller leaves inside it.</li>
 * </ul>
 * <b>Walks.</b> {@link #map}, {@link #mapSegments} and {@link #unmap} walk down from the root once per leaf table
 * and then write (or clear) consecutive slots of that table, each with its own CAS; a 4 KiB leaf table found on
 * the way is remembered for the next range of a {@code mapSegments} call in the same 2 MiB region, which is safe
 * because tables are never freed or replaced before {@link #destroy()}; a segment that continues that leaf table
 * and ends inside it is written straight into its slots (a scatter list's usual entry).
 * <p>
 * <b>Walk cache.</b> For the same reason the 4 KiB leaf table of a 2 MiB IOVA region, once found, is the right
 * one for the table's life, so a small direct-mapped cache (as an SMMU's walk cache: {@value #WALK_CACHE}
 * entries, one long each = region number and table page frame) lets map, unmap and walks of 4 KiB pages start at
 * the leaf table. Entries are stored with release and loaded with acquire: the storing thread reached the table
 * through acquire loads of the PTE chain that published it, so a thread that takes the table from the cache also
 * sees it zeroed. A region whose 2 MiB slot holds a block (or nothing) has no entry; stale entries of another
 * region are simply replaced. Cleared by {@link #destroy()}.
 * <p>
 * Progress: map, unmap and walks are lock-free (a CAS fails only if another thread changed the same PTE).
 */
public final class IoPageTable
{
    /** Out of memory for a table page. */
    public static final int ENOMEM = 12;
    /** (Part of) the range is already mapped. */
    public static final int EEXIST = 17;
    /** Misaligned, zero-sized, beyond 48 bits (IOVA) or 52 bits (physical), or bad prot bits. */
    public static final int EINVAL = 22;

    /** Input address width in bits. */
    public static final int IOVA_BITS = 48;
    /** One past the largest IOVA (bytes). */
    public static final long IOVA_LIMIT = 1L << IOVA_BITS;
    /** One past the largest output (physical) address a PTE can hold (bytes). */
    public static final long OA_LIMIT = 1L << 52;
    /** Number of levels. */
    public static final int LEVELS = 4;
    /** The translation granule in bytes. */
    public static final long GRANULE = PageAllocator.PAGE_SIZE;
    /** Size of a level-2 block in bytes. */
    public static final long BLOCK_2M = 1L << 21;
    /** Size of a level-1 block in bytes. */
    public static final long BLOCK_1G = 1L << 30;

    private static final long GRANULE_MASK = GRANULE - 1;
    private static final int PTES_PER_TABLE = 512;
    /** Walk-cache entries (a power of two): 128 MiB of IOVA space when the regions do not collide. */
    private static final int WALK_CACHE = 64;
    private static final int WC_PFN_BITS = 36;
    private static final long WC_PFN_MASK = (1L << WC_PFN_BITS) - 1;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle CHUNKS = MethodHandles.arrayElementVarHandle(RamChunk[].class);
    /** Chunk-cache entries (a power of two), indexed by the table's 2 MiB physical frame. */
    private static final int CHUNK_CACHE = 32;

    private final PhysicalMemory memory;
    private final PageAllocator pages;
    private final boolean blockMappings;
    private final long root;
    private final AtomicLong tablePages = new AtomicLong();
    /** The walk cache: {@code region << 36 | tablePfn} per slot ({@code region & (WALK_CACHE - 1)}), -1 empty. */
    private final long[] walkCache = new long[WALK_CACHE];
    /** True if {@link #memory} gives {@link RamChunk}s (table PTEs are then accessed through them). */
    private final boolean direct;
    /** The RAM chunks holding table pages, direct-mapped by {@code (table >>> 21) & (CHUNK_CACHE - 1)}. */
    private final RamChunk[] chunkCache = new RamChunk[CHUNK_CACHE];
    private volatile boolean destroyed;

    private IoPageTable(
        final PhysicalMemory memory, final PageAllocator pages, final boolean blockMappings, final long root)
    {
        this.memory = memory;
        this.pages = pages;
        this.blockMappings = blockMappings;
        this.root = root;
        this.direct = memory.ramChunk(root) != null;
        tablePages.set(1);
        Arrays.fill(walkCache, -1L);
    }

    /**
     * Allocates an empty table (one zeroed root page).
     *
     * @param blockMappings use 2 MiB / 1 GiB block leaves where IOVA, physical address and size allow.
     * @return the table, or {@code null} when no page is left for the root.
     */
    public static IoPageTable allocate(
        final PhysicalMemory memory, final PageAllocator pages, final boolean blockMappings)
    {
        if (memory == null || pages == null)
        {
            throw new IllegalArgumentException("memory and pages must not be null");
        }
        final long root = pages.allocPages(0, Zone.NORMAL);
        if (root == PageAllocator.NO_PAGE)
        {
            return null;
        }
        memory.fill(root, GRANULE, (byte)0);
        return new IoPageTable(memory, pages, blockMappings, root);
    }

    /** @return the physical address of the level-0 table (what a device's context entry would point at). */
    public long rootPhys()
    {
        return root;
    }

    /** @return true if block leaves are used where possible. */
    public boolean blockMappings()
    {
        return blockMappings;
    }

    /** @return table pages (4 KiB each) currently owned by this table, the root included. */
    public long tablePages()
    {
        return tablePages.get();
    }

    /**
     * Maps {@code [iova, iova+size)} to {@code [phys, phys+size)}. On any failure the part already mapped by this
     * call is unmapped again, so the mappings are as before (table pages installed meanwhile stay, empty).
     *
     * @param prot {@link IommuProt} bits; at least one of READ or WRITE.
     * @return 0, or {@code -EINVAL} (misaligned, size &lt;= 0, beyond 48-bit IOVA or 52-bit physical space, bad
     * prot), {@code -EEXIST} (some granule already mapped), {@code -ENOMEM} (no page for a table).
     * @throws IllegalStateException after {@link #destroy()}.
     */
    public int map(final long iova, final long phys, final long size, final int prot)
    {
        checkLive();
        if (!validRange(iova, size) || phys < 0 || (phys & GRANULE_MASK) != 0 || phys >= OA_LIMIT ||
            size > OA_LIMIT - phys || (prot & ~IommuProt.ALL) != 0 ||
            (prot & (IommuProt.READ | IommuProt.WRITE)) == 0)
        {
            return -EINVAL;
        }
        final long r = mapSegment(iova, phys, size, IommuProt.toPteAttrs(prot), 0L);
        return r < 0 ? (int)r : 0;
    }

    /**
     * Supplies the physical ranges of a segment list (a scatter list) to {@link #mapSegments} without allocating:
     * a stateless function of the caller's own list object.
     *
     * @param <T> the caller's list type.
     */
    public interface SegmentSource<T>
    {
        /** @return the physical byte address of segment {@code i} (4 KiB aligned). */
        long phys(T list, int i);

        /** @return the length in bytes of segment {@code i} (a positive multiple of 4 KiB). */
        long length(T list, int i);
    }

    /**
     * Maps {@code count} segments back to back in IOVA space from {@code iova}: segment {@code i} goes to
     * {@code [iova + sum of earlier lengths, + length(i))}. Exactly what {@code count} consecutive {@link #map}
     * calls would do (same leaves, same errors), but walking down from the root only once per leaf table rather
     * than once per segment. On any failure everything this call mapped is unmapped again, as {@link #map} does.
     *
     * @return 0 (also for {@code count == 0}) or a negative errno as {@link #map} (for the first segment that fails).
     * @throws IllegalStateException after {@link #destroy()}.
     */
    public <T> int mapSegments(final long iova, final T list, final SegmentSource<T> source, final int count,
        final int prot)
    {
        checkLive();
        if ((prot & ~IommuProt.ALL) != 0 || (prot & (IommuProt.READ | IommuProt.WRITE)) == 0 || count < 0)
        {
            return -EINVAL;
        }
        final long attrs = IommuProt.toPteAttrs(prot);
        long va = iova;
        long hint = 0L;
        RamChunk chunk = null; // the chunk of hint's table, once looked up
        long chunkTable = -1L;
        for (int i = 0; i < count; i++)
        {
            final long pa = source.phys(list, i);
            final long len = source.length(list, i);
            if (!validMap(va, pa, len))
            {
                if (va > iova)
                {
                    unmap(iova, va - iova);
                }
                return -EINVAL;
            }
            final long inRegion = va & (BLOCK_2M - 1);
            long r;
            if (hint != 0L && inRegion != 0 && len <= BLOCK_2M - inRegion)
            {
                // Fast path (a scatter list's usual entry): the segment continues the previous one's 4 KiB leaf
                // table and ends inside it, so every page of it is a 4 KiB leaf there (va is never 2 MiB aligned,
                // hence no block), as mapSegment would find. Same CAS from 0 per leaf; on a conflict the rest
                // goes through mapSegment, which reports it exactly as map would.
                final long table = hint & ~1L;
                if (table != chunkTable)
                {
                    chunk = chunkOf(table);
                    chunkTable = table;
                }
                final long done = fillLeaves(chunk, table, va, pa, len, attrs);
                r = done == len ? hint : mapSegment(va + done, pa + done, len - done, attrs, hint);
                if (r < 0 && done > 0)
                {
                    unmap(va, done);
                }
            }
            else
            {
                r = mapSegment(va, pa, len, attrs, hint);
            }
            if (r < 0)
            {
                if (va > iova)
                {
                    unmap(iova, va - iova);
                }
                return (int)r;
            }
            hint = r;
            va += len;
        }
        return 0;
    }

    /**
     * Writes 4 KiB leaves for {@code [va, va+len)} into consecutive slots of the leaf table at {@code table} (the
     * caller checked that they all lie in it), each by a CAS from 0, and stops at the first slot that is not empty.
     *
     * @return bytes mapped.
     */
    private long fillLeaves(final RamChunk c, final long table, final long va, final long pa, final long len,
        final long attrs)
    {
        final long first = table + (((va >>> 12) & (PTES_PER_TABLE - 1)) << 3);
        final long end = first + ((len >>> 12) << 3);
        long out = pa;
        for (long slot = first; slot < end; slot += 8, out += GRANULE)
        {
            if (!pteCas(c, slot, 0L, PteDescriptor.leaf(out, attrs, LEVELS - 1)))
            {
                return out - pa;
            }
        }
        return len;
    }

    private static boolean validMap(final long iova, final long phys, final long size)
    {
        return validRange(iova, size) && phys >= 0 && (phys & GRANULE_MASK) == 0 && phys < OA_LIMIT &&
            size <= OA_LIMIT - phys;
    }

    /**
     * Maps one validated range, one walk per leaf table: the walk goes down to the table that holds the first
     * leaf, then {@link #mapRun} fills consecutive slots of that table. {@code hint} is what the previous call
     * returned when it ended exactly at {@code va} (0: none).
     *
     * @return on success a hint for a following contiguous range: {@code leafTable | 1} of the last 4 KiB page
     * mapped, or 0 if the range ended with a block; on failure a negative errno, with this range's part unmapped.
     */
    private long mapSegment(final long iova, final long phys, final long size, final long attrs, final long hint)
    {
        long done = 0;
        long l3 = hint;
        while (done < size)
        {
            final long va = iova + done;
            final long pa = phys + done;
            final long rem = size - done;
            final int want = leafLevelFor(va, pa, rem);
            long tableLevel;
            if (want == LEVELS - 1 && l3 != 0L && (va & (BLOCK_2M - 1)) != 0)
            {
                // the previous leaf was a 4 KiB page in the same 2 MiB region: its table holds this slot too (a
                // table, once installed, stays until destroy())
                tableLevel = (l3 & ~1L) | (LEVELS - 1);
            }
            else
            {
                final long cached = want == LEVELS - 1 ? cachedLeafTable(va) : -1L;
                tableLevel = cached >= 0 ? cached | (LEVELS - 1) : walkToLeafTable(va, want);
            }
            long mapped = tableLevel < 0 ? tableLevel : mapRun(tableLevel, va, pa, rem, attrs);
            if (mapped < 0)
            {
                if (done > 0)
                {
                    unmap(iova, done);
                }
                return mapped;
            }
            if (mapped > 0)
            {
                l3 = (int)(tableLevel & GRANULE_MASK) == LEVELS - 1 ? (tableLevel & ~GRANULE_MASK) | 1L : 0L;
            }
            else
            {
                l3 = 0L; // a table appeared where a block was to go: walk again (the walk descends into it)
            }
            done += mapped;
        }
        return l3;
    }

    /**
     * Walks down (installing missing tables) to the table whose slot for {@code va} takes a leaf of level
     * {@code target}, or of a deeper level where a table already sits at {@code target}.
     *
     * @return {@code table | level} (tables are 4 KiB aligned), or a negative errno.
     */
    private long walkToLeafTable(final long va, final int target)
    {
        long table = root;
        for (int level = 0; level < LEVELS - 1; level++)
        {
            final RamChunk c = chunkOf(table);
            final long slot = slot(table, va, level);
            long pte = pteAcquire(c, slot);
            if (level >= target)
            {
                if (PteDescriptor.isTable(pte))
                {
                    table = PteDescriptor.outputAddress(pte); // a table sits where the block would go
                    continue;
                }
                return table | level; // empty (or a conflicting leaf: mapRun reports EEXIST)
            }
            if (pte == 0L)
            {
                pte = installTable(c, slot);
                if (pte == 0L)
                {
                    return -ENOMEM;
                }
            }
            if (!PteDescriptor.isTable(pte))
            {
                return -EEXIST; // a block leaf covers va
            }
            table = PteDescriptor.outputAddress(pte);
        }
        cacheLeafTable(va, table);
        return table | (LEVELS - 1);
    }

    /** @return the cached 4 KiB leaf table of {@code va}'s 2 MiB region, or -1. */
    private long cachedLeafTable(final long va)
    {
        final long region = va >>> 21;
        final long e = (long)LONGS.getAcquire(walkCache, (int)region & (WALK_CACHE - 1));
        return e >>> WC_PFN_BITS == region ? (e & WC_PFN_MASK) << 12 : -1L; // -1 >>> 36 is no 27-bit region
    }

    /** Remembers {@code table} as the leaf table of {@code va}'s 2 MiB region (reached by acquire loads). */
    private void cacheLeafTable(final long va, final long table)
    {
        final long pfn = table >>> 12;
        if (pfn > WC_PFN_MASK)
        {
            return; // a table above 2^48 does not fit the entry: not cached
        }
        final long region = va >>> 21;
        final int i = (int)region & (WALK_CACHE - 1);
        final long e = region << WC_PFN_BITS | pfn;
        if ((long)LONGS.getOpaque(walkCache, i) != e)
        {
            LONGS.setRelease(walkCache, i, e);
        }
    }

    /**
     * Writes leaves of one level into consecutive slots of one table, from {@code va}'s slot to the end of the
     * table or of the range (blocks: while the remaining size holds a whole block). Each leaf is published by a
     * compare-and-set from 0.
     *
     * @return bytes mapped (0 if a table sits in the first slot: the caller walks again), or {@code -EEXIST} if
     * the first slot holds a leaf; a conflict after the first slot ends the run early.
     */
    private long mapRun(final long tableLevel, final long va, final long pa, final long rem, final long attrs)
    {
        final int level = (int)(tableLevel & GRANULE_MASK);
        final long table = tableLevel & ~GRANULE_MASK;
        final RamChunk c = chunkOf(table);
        final int shift = PteDescriptor.levelShift(level);
        final long leafSize = 1L << shift;
        int idx = (int)((va >>> shift) & (PTES_PER_TABLE - 1));
        final long n = Math.min(PTES_PER_TABLE - idx, rem >>> shift);
        long slot = table + ((long)idx << 3);
        long out = pa;
        long done = 0;
        for (long k = 0; k < n; k++)
        {
            final long leaf = PteDescriptor.leaf(out, attrs, level);
            while (!pteCas(c, slot, 0L, leaf))
            {
                final long pte = pteAcquire(c, slot);
                if (pte == 0L)
                {
                    continue; // lost a race with an (overlapping) mapper that has since unmapped: try again
                }
                if (done > 0)
                {
                    return done; // the caller comes back to this slot with a fresh walk
                }
                return PteDescriptor.isTable(pte) && level < LEVELS - 1 ? 0L : -EEXIST;
            }
            done += leafSize;
            out += leafSize;
            slot += 8;
        }
        return done;
    }

    /**
     * Unmaps from {@code iova} upwards, leaf by leaf, and stops at the first granule that is not mapped or whose
     * leaf is a block not wholly inside {@code [iova, iova+size)}: unmapping part of a block unmaps nothing of it
     * (as Linux's io-pgtable-arm since block splitting was removed), so unmapping one 4 KiB page of a 2 MiB block
     * returns 0.
     *
     * @return bytes unmapped (a multiple of 4 KiB, possibly 0), or {@code -EINVAL} for a misaligned, zero-sized
     * or out-of-range request.
     * @throws IllegalStateException after {@link #destroy()}.
     */
    public long unmap(final long iova, final long size)
    {
        checkLive();
        if (!validRange(iova, size))
        {
            return -EINVAL;
        }
        long done = 0;
        outer:
        while (done < size)
        {
            final long va = iova + done;
            final long cached = cachedLeafTable(va);
            long table = cached >= 0 ? cached : root;
            for (int level = cached >= 0 ? LEVELS - 1 : 0; level < LEVELS; level++)
            {
                final RamChunk c = chunkOf(table);
                long slot = slot(table, va, level);
                long pte = pteAcquire(c, slot);
                if (PteDescriptor.isTable(pte) && level < LEVELS - 1)
                {
                    table = PteDescriptor.outputAddress(pte);
                    if (level == LEVELS - 2)
                    {
                        cacheLeafTable(va, table);
                    }
                    continue;
                }
                // va's leaf is in this table: clear consecutive leaves of this level in it, one walk for all
                if (level == LEVELS - 1 && c != null)
                {
                    // 4 KiB leaves (the usual unmap): a tight loop over this table's slots, no table can sit here
                    final long n = Math.min(PTES_PER_TABLE - ((slot - table) >>> 3), (size - done) >>> 12);
                    for (long k = 0; k < n; k++, slot += 8)
                    {
                        if (k > 0)
                        {
                            pte = c.getLongAcquire(slot);
                        }
                        if (!PteDescriptor.isLeaf(pte) || !c.compareAndSetLong(slot, pte, 0L))
                        {
                            break outer;
                        }
                        done += GRANULE;
                    }
                    continue outer;
                }
                final int shift = PteDescriptor.levelShift(level);
                final long leafSize = 1L << shift;
                if ((va & (leafSize - 1)) != 0)
                {
                    break outer;
                }
                final long end = table + ((long)PTES_PER_TABLE << 3);
                while (true)
                {
                    if (!PteDescriptor.isLeaf(pte) || size - done < leafSize || !pteCas(c, slot, pte, 0L))
                    {
                        break outer;
                    }
                    done += leafSize;
                    slot += 8;
                    if (slot == end || done >= size)
                    {
                        continue outer;
                    }
                    pte = pteAcquire(c, slot);
                    if (PteDescriptor.isTable(pte) && level < LEVELS - 1)
                    {
                        continue outer; // a table next to a block: walk again from the root
                    }
                }
            }
            break;
        }
        return done;
    }

    /**
     * Walks the table for {@code iova} with acquire loads.
     *
     * @return the leaf PTE covering {@code iova} (its {@link PteDescriptor#level} tells the leaf size), or 0 when
     * there is no translation (including an IOVA beyond 48 bits). Allocation-free.
     */
    public long walk(final long iova)
    {
        if (iova < 0 || iova >= IOVA_LIMIT)
        {
            return 0L;
        }
        final long cached = cachedLeafTable(iova);
        long table = cached >= 0 ? cached : root;
        for (int level = cached >= 0 ? LEVELS - 1 : 0; level < LEVELS; level++)
        {
            final long pte = pteAcquire(chunkOf(table), slot(table, iova, level));
            if (PteDescriptor.isTable(pte) && level < LEVELS - 1)
            {
                table = PteDescriptor.outputAddress(pte);
                if (level == LEVELS - 2)
                {
                    cacheLeafTable(iova, table);
                }
            }
            else
            {
                return PteDescriptor.isLeaf(pte) ? pte : 0L;
            }
        }
        return 0L;
    }

    /** @return the physical byte address {@code iova} translates to, or -1 if it is not mapped. */
    public long iovaToPhys(final long iova)
    {
        final long pte = walk(iova);
        if (pte == 0L)
        {
            return -1L;
        }
        return PteDescriptor.outputAddress(pte) + (iova & (PteDescriptor.leafSize(pte) - 1));
    }

    /**
     * Frees every table page, the root included. Mappings are simply dropped (this does not unmap). Idempotent.
     * Must not overlap any other call on this table.
     */
    public void destroy()
    {
        if (destroyed)
        {
            return;
        }
        destroyed = true;
        Arrays.fill(walkCache, -1L);
        freeTable(root, 0);
    }

    /** @return true once {@link #destroy()} has run. */
    public boolean isDestroyed()
    {
        return destroyed;
    }

    private void freeTable(final long table, final int level)
    {
        if (level < LEVELS - 1)
        {
            for (int i = 0; i < PTES_PER_TABLE; i++)
            {
                final long pte = memory.getLongAcquire(table + ((long)i << 3));
                if (PteDescriptor.isTable(pte))
                {
                    freeTable(PteDescriptor.outputAddress(pte), level + 1);
                }
            }
        }
        pages.freePages(table, 0);
        tablePages.decrementAndGet();
    }

    /** @return the table PTE now in {@code slot} (ours or a racing winner's; possibly a leaf), or 0 on ENOMEM. */
    private long installTable(final RamChunk c, final long slot)
    {
        final long page = pages.allocPages(0, Zone.NORMAL);
        if (page == PageAllocator.NO_PAGE)
        {
            return 0L;
        }
        memory.fill(page, GRANULE, (byte)0); // plain stores, published by the CAS below
        final long entry = PteDescriptor.table(page);
        if (pteCas(c, slot, 0L, entry))
        {
            tablePages.incrementAndGet();
            return entry;
        }
        pages.freePages(page, 0); // lost the race: use the winner's table
        return pteAcquire(c, slot);
    }

    /**
     * @return the RAM chunk holding the table page at {@code table}, or null (no direct backing: use
     * {@link #memory}). Entries are immutable {@link RamChunk}s, validated by their own bounds, so any entry read
     * is either right for the table or rejected; a miss decodes once through {@link PhysicalMemory#ramChunk}
     * (which throws once the memory is closed).
     */
    private RamChunk chunkOf(final long table)
    {
        if (!direct)
        {
            return null;
        }
        final int i = (int)(table >>> 21) & (CHUNK_CACHE - 1);
        final RamChunk c = (RamChunk)CHUNKS.getAcquire(chunkCache, i);
        if (c != null && c.contains(table, GRANULE))
        {
            return c;
        }
        return loadChunk(table, i);
    }

    private RamChunk loadChunk(final long table, final int i)
    {
        final RamChunk c = memory.ramChunk(table);
        if (c != null)
        {
            CHUNKS.setRelease(chunkCache, i, c);
        }
        return c;
    }

    /** Acquire load of the PTE at {@code slot} of a table in chunk {@code c} (null: through {@link #memory}). */
    private long pteAcquire(final RamChunk c, final long slot)
    {
        return c != null ? c.getLongAcquire(slot) : memory.getLongAcquire(slot);
    }

    /** Volatile CAS of the PTE at {@code slot} of a table in chunk {@code c} (null: through {@link #memory}). */
    private boolean pteCas(final RamChunk c, final long slot, final long expected, final long value)
    {
        return c != null ? c.compareAndSetLong(slot, expected, value) : memory.compareAndSetLong(slot, expected, value);
    }

    private int leafLevelFor(final long va, final long pa, final long remaining)
    {
        if (blockMappings)
        {
            final long both = va | pa;
            if ((both & (BLOCK_1G - 1)) == 0 && remaining >= BLOCK_1G)
            {
                return 1;
            }
            if ((both & (BLOCK_2M - 1)) == 0 && remaining >= BLOCK_2M)
            {
                return 2;
            }
        }
        return 3;
    }

    private static long slot(final long table, final long va, final int level)
    {
        return table + (((va >>> PteDescriptor.levelShift(level)) & (PTES_PER_TABLE - 1)) << 3);
    }

    private static boolean validRange(final long iova, final long size)
    {
        return size > 0 && ((iova | size) & GRANULE_MASK) == 0 && iova >= 0 && iova < IOVA_LIMIT &&
            size <= IOVA_LIMIT - iova;
    }

    private void checkLive()
    {
        if (destroyed)
        {
            throw new IllegalStateException("I/O page table at 0x" + Long.toHexString(root) + " was destroyed");
        }
    }
}
