package dev.dmasim.engine.iova;

/**
 * The IOVA allocation and free sequence recovered from an {@link IommuTrace}, in trace order: what the kernel's
 * dma-iommu asked of its IOVA allocator. Addresses and lengths are bytes. Immutable and thread-safe.
 */
public final class IovaOps
{
    /** An allocation (at the trace position of its first map event). */
    public static final int ALLOC = 0;
    /** A free (at the trace position of its unmap event). */
    public static final int FREE = 1;

    private final int count;
    private final int[] kind;
    private final long[] iova;
    private final long[] length;
    private final int[] cpu;
    private final int[] eventIndex;
    private final int[] partner;
    private final int allocations;
    private final int neverFreed;
    private final int unmatchedUnmaps;

    private IovaOps(
        final int count,
        final int[] kind,
        final long[] iova,
        final long[] length,
        final int[] cpu,
        final int[] eventIndex,
        final int[] partner,
        final int allocations,
        final int neverFreed,
        final int unmatchedUnmaps)
    {
        this.count = count;
        this.kind = kind;
        this.iova = iova;
        this.length = length;
        this.cpu = cpu;
        this.eventIndex = eventIndex;
        this.partner = partner;
        this.allocations = allocations;
        this.neverFreed = neverFreed;
        this.unmatchedUnmaps = unmatchedUnmaps;
    }

    static IovaOps build(
        final int events,
        final int allocs,
        final int[] firstEvent,
        final long[] allocIova,
        final long[] allocLength,
        final int[] allocCpu,
        final int[] freeEvent,
        final int unmatched)
    {
        final int[] allocAt = new int[events];
        final int[] freeAt = new int[events];
        java.util.Arrays.fill(allocAt, -1);
        java.util.Arrays.fill(freeAt, -1);
        int ops = 0;
        int neverFreed = 0;
        for (int a = 0; a < allocs; a++)
        {
            allocAt[firstEvent[a]] = a;
            ops++;
            if (freeEvent[a] >= 0)
            {
                freeAt[freeEvent[a]] = a;
                ops++;
            }
            else
            {
                neverFreed++;
            }
        }
        final int[] kind = new int[ops];
        final long[] iova = new long[ops];
        final long[] length = new long[ops];
        final int[] cpu = new int[ops];
        final int[] eventIndex = new int[ops];
        final int[] partner = new int[ops];
        final int[] allocOp = new int[allocs];
        int o = 0;
        for (int e = 0; e < events; e++)
        {
            final int a = allocAt[e] >= 0 ? allocAt[e] : freeAt[e];
            if (a < 0)
            {
                continue;
            }
            kind[o] = allocAt[e] >= 0 ? ALLOC : FREE;
            iova[o] = allocIova[a];
            length[o] = allocLength[a];
            cpu[o] = allocCpu[a];
            eventIndex[o] = e;
            if (kind[o] == ALLOC)
            {
                allocOp[a] = o;
                partner[o] = -1;
            }
            else
            {
                partner[o] = allocOp[a];
                partner[allocOp[a]] = o;
            }
            o++;
        }
        return new IovaOps(ops, kind, iova, length, cpu, eventIndex, partner, allocs, neverFreed, unmatched);
    }

    /** @return number of operations. */
    public int count()
    {
        return count;
    }

    /** @return {@link #ALLOC} or {@link #FREE}. */
    public int kind(final int i)
    {
        return kind[i];
    }

    /** @return the allocation's first IOVA byte (the kernel's result for an ALLOC). */
    public long iova(final int i)
    {
        return iova[i];
    }

    /** @return the allocation's length in bytes (granule-aligned, as dma-iommu passes it). */
    public long length(final int i)
    {
        return length[i];
    }

    /** @return the CPU of the allocation's first map event. */
    public int cpu(final int i)
    {
        return cpu[i];
    }

    /** @return index of the trace event at which the operation happened. */
    public int eventIndex(final int i)
    {
        return eventIndex[i];
    }

    /** @return for an ALLOC the index of its FREE (-1 if never freed); for a FREE the index of its ALLOC. */
    public int partner(final int i)
    {
        return partner[i];
    }

    /** @return number of allocations. */
    public int allocations()
    {
        return allocations;
    }

    /** @return allocations never freed in the trace. */
    public int neverFreed()
    {
        return neverFreed;
    }

    /** @return unmap events that covered no live map event. */
    public int unmatchedUnmaps()
    {
        return unmatchedUnmaps;
    }
}
