package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.MemTx;

/**
 * An IOMMU translation domain (Linux {@code struct iommu_domain}): an id, a {@link DomainType} and, for DMA and
 * DMA_FQ domains, an {@link IoPageTable} in simulated RAM. Created by {@link Iommu#allocDomain}. Units: IOVAs,
 * physical addresses and sizes are bytes.
 * <p>
 * CPU side: {@link #map}, {@link #unmap}, {@link #iovaToPhys}. An unmap does not invalidate the IOTLB: the
 * translations it removed stay cached, marked stale, until {@link Iommu#invalidateRange} (or a wider invalidation).
 * Device side: {@link #translate}, used by {@code BusDevice} for every page of a transfer.
 * <p>
 * <b>Thread safety.</b> As {@link IoPageTable}: any number of threads, with concurrent map/unmap on disjoint
 * ranges; {@link Iommu#freeDomain} must not overlap any other use (detach devices first, as in Linux).
 * <p>
 * <b>Invariants / ordering.</b> {@link #unmap} clears the PTEs (CAS, volatile) <i>before</i> it marks the IOTLB
 * entries stale under their sets' locks; {@link #translate} reads the set's fill token (volatile) <i>before</i>
 * walking and fills with {@link Iotlb#fillIfUnchanged}. So every cached translation of an unmapped page is
 * either marked stale or never cached (see {@link Iotlb}).
 */
public final class IommuDomain
{
    private final Iommu iommu;
    private final Iotlb iotlb;
    private final int id;
    private final DomainType type;
    private volatile IoPageTable table;
    private volatile boolean freed;

    IommuDomain(final Iommu iommu, final int id, final DomainType type, final IoPageTable table)
    {
        this.iommu = iommu;
        this.iotlb = iommu.iotlb();
        this.id = id;
        this.type = type;
        this.table = table;
    }

    /** @return the domain id (1..{@link Iotlb#MAX_DOMAIN_ID}), the IOTLB tag. */
    public int id()
    {
        return id;
    }

    /** @return the type. */
    public DomainType type()
    {
        return type;
    }

    /** @return the IOMMU that owns this domain. */
    public Iommu iommu()
    {
        return iommu;
    }

    /** @return the page table, or null for IDENTITY and BLOCKED domains and after {@link Iommu#freeDomain}. */
    public IoPageTable pageTable()
    {
        return table;
    }

    /** @return true once freed. */
    public boolean isFreed()
    {
        return freed;
    }

    /**
     * Maps {@code [iova, iova+size)} to {@code [phys, phys+size)} with {@link IommuProt} bits; see
     * {@link IoPageTable#map}.
     *
     * @return 0 or a negative errno; {@code -EINVAL} for IDENTITY and BLOCKED domains.
     * @throws IllegalStateException after {@link Iommu#freeDomain}.
     */
    public int map(final long iova, final long phys, final long size, final int prot)
    {
        final IoPageTable t = liveTable();
        return t == null ? -IoPageTable.EINVAL : t.map(iova, phys, size, prot);
    }

    /**
     * Maps {@code count} segments back to back from {@code iova}; see {@link IoPageTable#mapSegments} (one
     * page-table walk per leaf table instead of one per segment).
     *
     * @return 0 or a negative errno; {@code -EINVAL} for IDENTITY and BLOCKED domains.
     * @throws IllegalStateException after {@link Iommu#freeDomain}.
     */
    public <T> int mapSegments(final long iova, final T list, final IoPageTable.SegmentSource<T> source,
        final int count, final int prot)
    {
        final IoPageTable t = liveTable();
        return t == null ? -IoPageTable.EINVAL : t.mapSegments(iova, list, source, count, prot);
    }

    /**
     * Unmaps as {@link IoPageTable#unmap} and marks the IOTLB entries of the unmapped pages stale (they still
     * translate until invalidated).
     *
     * @return bytes unmapped, or {@code -EINVAL}; {@code -EINVAL} for IDENTITY and BLOCKED domains.
     * @throws IllegalStateException after {@link Iommu#freeDomain}.
     */
    public long unmap(final long iova, final long size)
    {
        final IoPageTable t = liveTable();
        if (t == null)
        {
            return -IoPageTable.EINVAL;
        }
        final long n = t.unmap(iova, size);
        if (n > 0)
        {
            iotlb.markStale(id, iova, n);
        }
        return n;
    }

    /**
     * CPU-side walk (no IOTLB involved).
     *
     * @return the physical byte address, or -1 if unmapped (always -1 for BLOCKED; {@code iova} itself for
     * IDENTITY).
     */
    public long iovaToPhys(final long iova)
    {
        if (type == DomainType.IDENTITY)
        {
            return iova;
        }
        final IoPageTable t = table;
        return t == null ? -1L : t.iovaToPhys(iova);
    }

    /**
     * Device-side translation of the page holding {@code iova} for {@code access} (1 read, 2 write, 3 both):
     * IOTLB lookup; on a miss, page-table walk and IOTLB fill; then the permission check. A fault is recorded in
     * the fault ring with {@code requesterId}. Allocation-free on the IOTLB-hit path (and on the miss path).
     *
     * @return the translation word of the page, {@link PteDescriptor} layout ({@code outputAddress} is the
     * physical address of the 4 KiB page, {@code level} the size of the leaf it came from), never negative; or
     * {@code -MemTx.TRANSLATION_FAULT} / {@code -MemTx.PERMISSION_FAULT}.
     */
    public long translate(final long iova, final int access, final int requesterId)
    {
        final DomainType t = type;
        if (t == DomainType.IDENTITY)
        {
            if (iova < 0 || iova >= IoPageTable.OA_LIMIT)
            {
                return fault(requesterId, iova, access, MemTx.TRANSLATION_FAULT);
            }
            return PteDescriptor.leaf(iova, PteDescriptor.READ | PteDescriptor.WRITE, 3);
        }
        final IoPageTable pt = table;
        if (pt == null || iova < 0 || iova >= IoPageTable.IOVA_LIMIT)
        {
            return fault(requesterId, iova, access, MemTx.TRANSLATION_FAULT);
        }
        final long pfn = iova >>> 12;
        long v = iotlb.lookup(id, pfn);
        if (v == Iotlb.MISS)
        {
            final long token = iotlb.fillToken(id, pfn);
            final long pte = pt.walk(iova);
            if (pte == 0L)
            {
                return fault(requesterId, iova, access, MemTx.TRANSLATION_FAULT);
            }
            v = pageWord(pte, iova);
            iotlb.fillIfUnchanged(id, pfn, v, token);
        }
        if (!PteDescriptor.permits(v, access))
        {
            return fault(requesterId, iova, access, MemTx.PERMISSION_FAULT);
        }
        return v;
    }

    /** @return the translation word for the 4 KiB page of {@code iova} inside {@code leaf}. */
    static long pageWord(final long leaf, final long iova)
    {
        final long offsetInLeaf = iova & (PteDescriptor.leafSize(leaf) - 1) & ~(IoPageTable.GRANULE - 1);
        return (leaf & ~PteDescriptor.ADDR_MASK) | (PteDescriptor.outputAddress(leaf) + offsetInLeaf);
    }

    void markFreed()
    {
        freed = true;
        table = null;
    }

    private long fault(final int requesterId, final long iova, final int access, final int reason)
    {
        iommu.recordFault(requesterId, iova, access, reason, id);
        return -reason;
    }

    private IoPageTable liveTable()
    {
        if (freed)
        {
            throw new IllegalStateException("IOMMU domain " + id + " was freed");
        }
        return table;
    }

    @Override
    public String toString()
    {
        return "IommuDomain[id=" + id + ", type=" + type + (freed ? ", freed" : "") + "]";
    }
}
