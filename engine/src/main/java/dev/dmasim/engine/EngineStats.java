package dev.dmasim.engine;

import dev.dmasim.engine.core.Counters;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.iommu.DmaIommu;
import dev.dmasim.engine.iova.IovaDomain;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.sim.iommu.IommuStats;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A snapshot of the engine's counters (events since the engine was built, and current levels). Counts are
 * events; {@code *Bytes} are bytes; swiotlb levels are 2 KiB slots. Immutable.
 *
 * @param maps               successful single mappings (mapPhys and its wrappers)
 * @param unmaps             single unmaps
 * @param mapErrors          mappings and sg mappings that returned an error
 * @param sgMaps             successful scatter-gather mappings
 * @param sgUnmaps           scatter-gather unmaps
 * @param syncs              sync calls that reached the backend
 * @param allocs             coherent and non-coherent allocations
 * @param frees              their frees
 * @param iovaLinks          successful 2-step links
 * @param iovaUnlinks        2-step unlinks
 * @param bounces            swiotlb bounce mappings
 * @param bytesBounced       bytes copied in or out of the bounce pool
 * @param swiotlbSlotsUsed   slots in use now
 * @param swiotlbSlotsHiwater most slots ever in use
 * @param swiotlbSlotsTotal  pool size in slots
 * @param swiotlbFailures    bounce mappings refused (pool full, too large)
 * @param iotlbInvalidations IOTLB invalidation commands (all kinds)
 * @param strictInvalidations invalidations issued by strict unmaps
 * @param lazyFlushes        domain-wide flushes issued by lazy flush queues
 * @param pendingFlushes     IOVAs waiting in flush queues now
 * @param iotlbHits          IOTLB hits
 * @param iotlbMisses        IOTLB misses (page-table walks)
 * @param staleHits          IOTLB hits on entries whose page was already unmapped (the lazy exposure window)
 * @param faults             IOMMU faults recorded
 * @param rcacheHits         IOVA magazine-cache hits (all translated devices)
 * @param rcacheMisses       IOVA magazine-cache misses
 * @param depotOps           depot pushes + pops + trims
 * @param treeAllocs         IOVA tree allocations
 * @param liveIovaRanges     IOVA ranges held in trees now (including cached ones)
 * @param debugReports       dma-debug reports
 * @param logLines           kernel-log lines
 */
public record EngineStats(long maps, long unmaps, long mapErrors, long sgMaps, long sgUnmaps, long syncs, long allocs,
    long frees, long iovaLinks, long iovaUnlinks, long bounces, long bytesBounced, long swiotlbSlotsUsed,
    long swiotlbSlotsHiwater, long swiotlbSlotsTotal, long swiotlbFailures, long iotlbInvalidations,
    long strictInvalidations, long lazyFlushes, long pendingFlushes, long iotlbHits, long iotlbMisses,
    long staleHits, long faults, long rcacheHits, long rcacheMisses, long depotOps, long treeAllocs,
    long liveIovaRanges, long debugReports, long logLines)
{
    static EngineStats of(final EngineContext ctx, final DmaIommu dmaIommu, final Iterable<Device> devices)
    {
        final Counters c = ctx.counters;
        final Swiotlb s = ctx.swiotlb;
        final IommuStats hw = ctx.iommu.stats();
        long rcHits = 0;
        long rcMisses = 0;
        long depot = 0;
        long tree = 0;
        long live = 0;
        for (final Device d : devices)
        {
            final IovaDomain iovad = DmaIommu.iovaDomain(d.context());
            if (iovad != null)
            {
                rcHits += iovad.rcacheHits();
                rcMisses += iovad.rcacheMisses();
                depot += iovad.depotPushes() + iovad.depotPops() + iovad.depotTrims();
                tree += iovad.treeAllocs();
                live += iovad.liveRanges();
            }
        }
        return new EngineStats(c.maps.sum(), c.unmaps.sum(), c.mapErrors.sum(), c.sgMaps.sum(), c.sgUnmaps.sum(),
            c.syncs.sum(), c.allocs.sum(), c.frees.sum(), c.iovaLinks.sum(), c.iovaUnlinks.sum(),
            s == null ? 0 : s.bounces(), s == null ? 0 : s.bytesBounced(), s == null ? 0 : s.usedSlots(),
            s == null ? 0 : s.usedHiwater(), s == null ? 0 : s.totalSlots(), s == null ? 0 : s.failures(),
            hw.invalidationCommands(), dmaIommu.strictInvalidations(), dmaIommu.lazyFlushes(),
            dmaIommu.pendingFlushes(), hw.iotlbHits(), hw.iotlbMisses(), hw.staleHits(), hw.translationFaults() + hw.permissionFaults(), rcHits,
            rcMisses, depot, tree, live, ctx.debug.errorCount(), ctx.log.count());
    }

    /** @return every counter by name, in declaration order (for tables, JSON and CSV). */
    public Map<String, Long> toMap()
    {
        final Map<String, Long> m = new LinkedHashMap<>();
        for (final var comp : EngineStats.class.getRecordComponents())
        {
            try
            {
                m.put(comp.getName(), (Long)comp.getAccessor().invoke(this));
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new IllegalStateException(ex);
            }
        }
        return m;
    }
}
