package dev.dmasim.sim.iommu;

/** The kind of an {@link IommuDomain}, after Linux's {@code IOMMU_DOMAIN_*}. */
public enum DomainType
{
    /** Passthrough: bus address == physical address; no page table. */
    IDENTITY,
    /** Translated, invalidated strictly (each unmap is followed by an IOTLB invalidation). */
    DMA,
    /** Translated, invalidated lazily through a flush queue (same hardware as {@link #DMA}). */
    DMA_FQ,
    /** Every device access faults; no page table. */
    BLOCKED;

    /** @return true if domains of this type translate through an I/O page table. */
    public boolean isPaging()
    {
        return this == DMA || this == DMA_FQ;
    }
}
