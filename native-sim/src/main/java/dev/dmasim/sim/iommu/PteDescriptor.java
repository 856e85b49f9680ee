package dev.dmasim.sim.iommu;

/**
 * Layout of an 8-byte I/O page-table entry (PTE), as stored in simulated RAM by {@link IoPageTable}, and of the
 * translation word the {@link Iotlb} caches (the same layout plus {@link #STALE}). Stateless; all methods are pure.
 * <pre>
 *   63    59  58   57  56  55 54    52 51                          12 11      6   5   4   3   2   1   0
 *  +--------+-----+---+-------+--------+------------------------------+---------+---+---+---+---+---+---+
 *  |  rsvd  | STL | - |  LVL  |  rsvd  |    output address [51:12]    |  rsvd   | P | M | W | R | T | V |
 *  +--------+-----+---+-------+--------+------------------------------+---------+---+---+---+---+---+---+
 *   V   VALID   the entry is in use; a walk that reads V == 0 stops with a translation fault
 *   T   TABLE   non-leaf: the output address is the next-level table (levels 0..2 only)
 *   R   READ    device reads allowed (leaf)
 *   W   WRITE   device writes allowed (leaf)
 *   M   MMIO    the output is device memory, not cacheable (leaf; informational)
 *   P   PRIV    privileged-only mapping (leaf; recorded, not enforced: devices issue no privilege bit)
 *   LVL         software field: the level (1, 2 or 3) at which a leaf was written, so a leaf is self-describing
 *               (1 = 1 GiB block, 2 = 2 MiB block, 3 = 4 KiB page); 0 in table entries
 *   STL STALE   IOTLB only: set in a cached translation whose PTE has been unmapped but not yet invalidated;
 *               never set in a page table
 * </pre>
 * An all-zero word is an invalid (unmapped) entry, which is why freshly zeroed table pages are empty.
 */
public final class PteDescriptor
{
    /** Entry in use. */
    public static final long VALID = 1L;
    /** Non-leaf entry pointing at the next-level table. */
    public static final long TABLE = 1L << 1;
    /** Device reads allowed. */
    public static final long READ = 1L << 2;
    /** Device writes allowed. */
    public static final long WRITE = 1L << 3;
    /** Device memory (no-cache). */
    public static final long MMIO = 1L << 4;
    /** Privileged-only. */
    public static final long PRIV = 1L << 5;
    /** The four permission/attribute bits of a leaf. */
    public static final long ATTR_MASK = READ | WRITE | MMIO | PRIV;

    /** First bit of the output address. */
    public static final int ADDR_SHIFT = 12;
    /** Output address bits 12..51 in place (a 4 KiB-aligned physical byte address below 4 PiB). */
    public static final long ADDR_MASK = ((1L << 52) - 1) & ~((1L << ADDR_SHIFT) - 1);

    /** First bit of the software leaf-level field. */
    public static final int LEVEL_SHIFT = 55;
    /** The software leaf-level field in place. */
    public static final long LEVEL_MASK = 3L << LEVEL_SHIFT;

    /** IOTLB-only stale flag. */
    public static final long STALE = 1L << 58;

    private PteDescriptor()
    {
    }

    /** @return a table entry pointing at the 4 KiB-aligned table page {@code tablePhys}. */
    public static long table(final long tablePhys)
    {
        return (tablePhys & ADDR_MASK) | TABLE | VALID;
    }

    /**
     * @param outPhys output physical byte address, aligned to the leaf size of {@code level}.
     * @param attrs   any of {@link #READ}, {@link #WRITE}, {@link #MMIO}, {@link #PRIV}.
     * @param level   1 (1 GiB block), 2 (2 MiB block) or 3 (4 KiB page).
     * @return a leaf entry.
     */
    public static long leaf(final long outPhys, final long attrs, final int level)
    {
        return (outPhys & ADDR_MASK) | (attrs & ATTR_MASK) | ((long)level << LEVEL_SHIFT) | VALID;
    }

    /** @return true if {@code pte} is in use. */
    public static boolean isValid(final long pte)
    {
        return (pte & VALID) != 0;
    }

    /** @return true if {@code pte} is a valid table (non-leaf) entry. */
    public static boolean isTable(final long pte)
    {
        return (pte & (VALID | TABLE)) == (VALID | TABLE);
    }

    /** @return true if {@code pte} is a valid leaf (page or block). */
    public static boolean isLeaf(final long pte)
    {
        return (pte & (VALID | TABLE)) == VALID;
    }

    /** @return the output physical byte address (bits 12..51). */
    public static long outputAddress(final long pte)
    {
        return pte & ADDR_MASK;
    }

    /** @return the leaf level (1..3) recorded in a leaf, 0 for a table entry. */
    public static int level(final long pte)
    {
        return (int)((pte & LEVEL_MASK) >>> LEVEL_SHIFT);
    }

    /** @return log2 of the bytes one entry at {@code level} covers (level 0: 39, 1: 30, 2: 21, 3: 12). */
    public static int levelShift(final int level)
    {
        return 39 - 9 * level;
    }

    /** @return bytes a leaf covers: 4 KiB, 2 MiB or 1 GiB. */
    public static long leafSize(final long pte)
    {
        return 1L << levelShift(level(pte));
    }

    /** @return true if the leaf allows every access bit in {@code access} ({@code 1} read, {@code 2} write). */
    public static boolean permits(final long pte, final int access)
    {
        final long need = ((access & 1) != 0 ? READ : 0) | ((access & 2) != 0 ? WRITE : 0);
        return (pte & need) == need;
    }

    /** @return a readable rendering, for messages and debugging (allocates). */
    public static String toString(final long pte)
    {
        if (!isValid(pte))
        {
            return "PTE[invalid 0x" + Long.toHexString(pte) + "]";
        }
        final StringBuilder sb = new StringBuilder("PTE[");
        sb.append(isTable(pte) ? "table " : "leaf L" + level(pte) + " ");
        sb.append("0x").append(Long.toHexString(outputAddress(pte)));
        if ((pte & READ) != 0)
        {
            sb.append(" R");
        }
        if ((pte & WRITE) != 0)
        {
            sb.append(" W");
        }
        if ((pte & MMIO) != 0)
        {
            sb.append(" MMIO");
        }
        if ((pte & PRIV) != 0)
        {
            sb.append(" PRIV");
        }
        if ((pte & STALE) != 0)
        {
            sb.append(" STALE");
        }
        return sb.append(']').toString();
    }
}
