package dev.dmasim.sim.iommu;

/**
 * A snapshot of an {@link Iommu}'s counters (each read separately: not atomic as a whole).
 *
 * @param iotlbHits            IOTLB lookups that hit (stale hits included).
 * @param iotlbMisses          IOTLB lookups that missed (each followed by a page-table walk).
 * @param staleHits            hits on entries whose PTE had been unmapped but not yet invalidated.
 * @param iotlbFills           entries written into the IOTLB.
 * @param fillsAbandoned       fills declined because an invalidation raced with the walk.
 * @param invalidationCommands range, domain and all invalidations issued.
 * @param entriesInvalidated   IOTLB entries removed by them.
 * @param translationFaults    device accesses with no valid translation (BLOCKED domains included).
 * @param permissionFaults     device accesses the translation's permissions refused.
 * @param faultsRecorded       fault records written to the fault ring.
 * @param faultsDropped        fault records lost because the ring was full.
 * @param domains              live domains.
 * @param tablePages           4 KiB page-table pages held by live domains.
 */
public record IommuStats(
    long iotlbHits,
    long iotlbMisses,
    long staleHits,
    long iotlbFills,
    long fillsAbandoned,
    long invalidationCommands,
    long entriesInvalidated,
    long translationFaults,
    long permissionFaults,
    long faultsRecorded,
    long faultsDropped,
    long domains,
    long tablePages)
{
}
