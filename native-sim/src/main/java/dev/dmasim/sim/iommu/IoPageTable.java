package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A 4-level I/O page table with a 4 KiB granule and 48-bit input addresses (IOVAs), stored in simulated RAM: every
 * table is one 4 KiB page from a {@link PageAllocator}, holding 512 8-byte PTEs laid out as {@link PteDescriptor}
 * and accessed only through {@link PhysicalMemory}'s aligned 8-byte accessors, so a simulated device (or a
 * debugger dumping RAM) sees exactly what hardware would walk.
 * <pre>
 *   IOVA  47      39 38      30 29      21 20      12 11        0
 *        +---------+----------+----------+----------+-----------+
 *        | L0 index| L1 index | L2 index | L3 index | page off  |
 *        +---------+----------+----------+----------+-----------+
 *   leaves: L1 = 1 GiB block, L2 = 2 MiB block, L3 = 4 KiB page; L0 entries are always tables
 * </pre>
 * Units: IOVAs, physical addresses and sizes are bytes; they must be 4 KiB aligned. Errors are negative errno
 * values ({@link #ENOMEM}, {@link #EEXIST}, {@link #EINVAL}), never exceptions, except for use after
 * {@link #destroy()}.
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
 *       silently overwriting. Unmap clears a leaf by compare-and-set from the value it read.</li>
 *   <li>Table pages are never freed before {@link #destroy()}, even when they become empty (like Linux's
 *       io-pgtable-arm), so a walker can never follow a pointer into a freed page.</li>
 *   <li>A block leaf is written only into an empty slot; where a (possibly empty) table already sits, the range
 *       is mapped with smaller leaves inside it.</li>
 * </ul>
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

    private final PhysicalMemory memory;
    private final PageAllocator pages;
    private final boolean blockMappings;
    private final long root;
    private final AtomicLong tablePages = new AtomicLong();
    private volatile boolean destroyed;

    private IoPageTable(
        final PhysicalMemory memory, final PageAllocator pages, final boolean blockMappings, final long root)
    {
        this.memory = memory;
        this.pages = pages;
        this.blockMappings = blockMappings;
        this.root = root;
        tablePages.set(1);
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
        final long attrs = IommuProt.toPteAttrs(prot);
        long done = 0;
        while (done < size)
        {
            final long va = iova + done;
            final long pa = phys + done;
            final long mapped = mapOne(va, pa, attrs, leafLevelFor(va, pa, size - done));
            if (mapped < 0)
            {
                if (done > 0)
                {
                    unmap(iova, done);
                }
                return (int)mapped;
            }
            done += mapped;
        }
        return 0;
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
        final PhysicalMemory mem = memory;
        long done = 0;
        outer:
        while (done < size)
        {
            final long va = iova + done;
            long table = root;
            for (int level = 0; level < LEVELS; level++)
            {
                final long slot = slot(table, va, level);
                final long pte = mem.getLongAcquire(slot);
                if (PteDescriptor.isTable(pte) && level < LEVELS - 1)
                {
                    table = PteDescriptor.outputAddress(pte);
                    continue;
                }
                if (!PteDescriptor.isLeaf(pte))
                {
                    break outer;
                }
                final long leafSize = 1L << PteDescriptor.levelShift(level);
                if ((va & (leafSize - 1)) != 0 || size - done < leafSize || !mem.compareAndSetLong(slot, pte, 0L))
                {
                    break outer;
                }
                done += leafSize;
                continue outer;
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
        final PhysicalMemory mem = memory;
        long table = root;
        for (int level = 0; level < LEVELS; level++)
        {
            final long pte = mem.getLongAcquire(slot(table, iova, level));
            if (PteDescriptor.isTable(pte) && level < LEVELS - 1)
            {
                table = PteDescriptor.outputAddress(pte);
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

    /** @return bytes mapped (&gt; 0), or a negative errno. */
    private long mapOne(final long va, final long pa, final long attrs, final int targetLevel)
    {
        final PhysicalMemory mem = memory;
        int target = targetLevel;
        long table = root;
        for (int level = 0; level < LEVELS; level++)
        {
            final long slot = slot(table, va, level);
            if (level == target)
            {
                final long leaf = PteDescriptor.leaf(pa, attrs, level);
                while (true)
                {
                    final long pte = mem.getLongAcquire(slot);
                    if (pte == 0L)
                    {
                        if (mem.compareAndSetLong(slot, 0L, leaf))
                        {
                            return 1L << PteDescriptor.levelShift(level);
                        }
                        continue; // lost a race with an (overlapping) mapper: look at what it wrote
                    }
                    if (PteDescriptor.isTable(pte) && level < LEVELS - 1)
                    {
                        // a table already sits where the block would go: map with the next smaller leaf inside it
                        table = PteDescriptor.outputAddress(pte);
                        target = level + 1;
                        break;
                    }
                    return -EEXIST;
                }
                continue;
            }
            long pte = mem.getLongAcquire(slot);
            if (pte == 0L)
            {
                pte = installTable(slot);
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
        throw new IllegalStateException("unreachable: target level " + targetLevel);
    }

    /** @return the table PTE now in {@code slot} (ours or a racing winner's; possibly a leaf), or 0 on ENOMEM. */
    private long installTable(final long slot)
    {
        final long page = pages.allocPages(0, Zone.NORMAL);
        if (page == PageAllocator.NO_PAGE)
        {
            return 0L;
        }
        memory.fill(page, GRANULE, (byte)0); // plain stores, published by the CAS below
        final long entry = PteDescriptor.table(page);
        if (memory.compareAndSetLong(slot, 0L, entry))
        {
            tablePages.incrementAndGet();
            return entry;
        }
        pages.freePages(page, 0); // lost the race: use the winner's table
        return memory.getLongAcquire(slot);
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
