package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The IOMMU hardware unit: domains whose I/O page tables live in simulated RAM (pages from a
 * {@link PageAllocator}), one shared {@link Iotlb}, a {@link FaultRing}, and an {@link InvalidationCost} charged
 * per invalidation command. Units: IOVAs and sizes in bytes.
 * <p>
 * <b>Thread safety.</b> Every method may be called from any thread. Invalidations are safe against concurrent
 * device lookups and fills (see {@link Iotlb}). {@link #freeDomain} must not overlap other use of that domain.
 * <p>
 * <b>Invariants / ordering.</b> Domain ids are never reused, so a stale IOTLB entry of a freed domain can never be
 * hit by a later domain. Counters are {@link LongAdder}s: sums are snapshots.
 */
public final class Iommu
{
    private final PhysicalMemory memory;
    private final PageAllocator pages;
    private final IommuConfig config;
    private final Iotlb iotlb;
    private final FaultRing faults;
    private final InvalidationCost cost;
    private final AtomicInteger nextDomainId = new AtomicInteger(1);
    private final ConcurrentHashMap<Integer, IommuDomain> domains = new ConcurrentHashMap<>();
    private final LongAdder translationFaults = new LongAdder();
    private final LongAdder mapSyncs = new LongAdder();
    private final LongAdder permissionFaults = new LongAdder();

    private volatile FaultHandler faultObserver;

    /**
     * @param memory the physical address space holding the page tables.
     * @param pages  the allocator that provides page-table pages.
     * @param config geometry and cost model; {@link IommuConfig#defaults()} if null.
     */
    public Iommu(final PhysicalMemory memory, final PageAllocator pages, final IommuConfig config)
    {
        if (memory == null || pages == null)
        {
            throw new IllegalArgumentException("memory and pages must not be null");
        }
        this.memory = memory;
        this.pages = pages;
        this.config = config == null ? IommuConfig.defaults() : config;
        this.iotlb = new Iotlb(this.config.iotlbSets(), this.config.iotlbWays());
        this.faults = new FaultRing(this.config.faultRingRecords());
        this.cost = this.config.invalidationCost();
    }

    /**
     * Allocates a domain. DMA and DMA_FQ domains get an empty page table (one zeroed root page).
     *
     * @return the domain, or null when no page is left for the root table.
     * @throws IllegalStateException if domain ids (24 bits) are exhausted.
     */
    public IommuDomain allocDomain(final DomainType type)
    {
        if (type == null)
        {
            throw new IllegalArgumentException("domain type must not be null");
        }
        IoPageTable table = null;
        if (type.isPaging())
        {
            table = IoPageTable.allocate(memory, pages, config.blockMappings());
            if (table == null)
            {
                return null;
            }
        }
        final int id = nextDomainId.getAndIncrement();
        if (id <= 0 || id > Iotlb.MAX_DOMAIN_ID)
        {
            if (table != null)
            {
                table.destroy();
            }
            throw new IllegalStateException("IOMMU domain ids exhausted (" + Iotlb.MAX_DOMAIN_ID + ")");
        }
        final IommuDomain domain = new IommuDomain(this, id, type, table);
        domains.put(id, domain);
        return domain;
    }

    /**
     * Frees a domain: invalidates its IOTLB entries (one counted, charged command) and frees every page of its
     * page table. Devices must be detached first. Freeing twice throws.
     *
     * @throws IllegalArgumentException if the domain belongs to another IOMMU or was already freed.
     */
    public void freeDomain(final IommuDomain domain)
    {
        checkOwn(domain);
        if (domains.remove(domain.id()) == null)
        {
            throw new IllegalArgumentException(domain + " was already freed");
        }
        final IoPageTable table = domain.pageTable();
        domain.markFreed();
        invalidateDomain(domain);
        if (table != null)
        {
            table.destroy();
        }
    }

    /** Invalidates the IOTLB entries of {@code [iova, iova+size)} (bytes) in {@code domain}; one sync command. */
    public void invalidateRange(final IommuDomain domain, final long iova, final long size)
    {
        checkOwn(domain);
        iotlb.invalidateRange(domain.id(), iova, size);
        cost.charge();
    }

    /** Invalidates every IOTLB entry of {@code domain}; one sync command. */
    public void invalidateDomain(final IommuDomain domain)
    {
        checkOwn(domain);
        iotlb.invalidateDomain(domain.id());
        cost.charge();
    }

    /**
     * {@code iommu_sync_map}: makes new mappings of {@code [iova, iova+size)} visible to the device (the 2-step
     * API's {@code dma_iova_sync}). Real hardware needs it where the IOMMU caches non-present entries
     * (VT-d caching mode, virtualised IOMMUs); it is counted and charged as one sync command.
     */
    public void syncMap(final IommuDomain domain, final long iova, final long size)
    {
        checkOwn(domain);
        mapSyncs.increment();
        cost.charge();
    }

    /** @return {@link #syncMap} calls so far. */
    public long mapSyncs()
    {
        return mapSyncs.sum();
    }

    /** Invalidates the whole IOTLB; one sync command. */
    public void invalidateAll()
    {
        iotlb.invalidateAll();
        cost.charge();
    }

    /** @return the IOTLB. */
    public Iotlb iotlb()
    {
        return iotlb;
    }

    /** @return the fault ring. */
    public FaultRing faults()
    {
        return faults;
    }

    /** @return the configuration. */
    public IommuConfig config()
    {
        return config;
    }

    /** @return the physical address space the page tables live in. */
    public PhysicalMemory memory()
    {
        return memory;
    }

    /** @return live domains. */
    public int domainCount()
    {
        return domains.size();
    }

    /** @return a snapshot of the counters. */
    public IommuStats stats()
    {
        long tablePages = 0;
        for (final IommuDomain d : domains.values())
        {
            final IoPageTable t = d.pageTable();
            if (t != null)
            {
                tablePages += t.tablePages();
            }
        }
        return new IommuStats(
            iotlb.hits(), iotlb.misses(), iotlb.staleHits(), iotlb.fills(), iotlb.fillsAbandoned(),
            iotlb.invalidationCommands(), iotlb.entriesInvalidated(), translationFaults.sum(), permissionFaults.sum(),
            faults.count(), faults.dropped(), domains.size(), tablePages);
    }

    /** Counts a fault and records it in the ring (dropped and counted there if full). Allocation-free. */
    void recordFault(final int requesterId, final long iova, final int access, final int reason, final int domainId)
    {
        if (reason == MemTx.PERMISSION_FAULT)
        {
            permissionFaults.increment();
        }
        else
        {
            translationFaults.increment();
        }
        faults.record(requesterId, iova, access, reason, domainId);
        final FaultHandler observer = faultObserver;
        if (observer != null)
        {
            observer.onFault(requesterId, iova, access, reason, domainId, System.nanoTime());
        }
    }

    /**
     * Installs (or with null removes) an observer called on the faulting thread for every fault, after it was
     * offered to the ring (tracing and JFR hooks; the ring stays the embedder's fault queue).
     */
    public void faultObserver(final FaultHandler observer)
    {
        this.faultObserver = observer;
    }

    private void checkOwn(final IommuDomain domain)
    {
        if (domain == null || domain.iommu() != this)
        {
            throw new IllegalArgumentException("domain " + domain + " does not belong to this IOMMU");
        }
    }
}
