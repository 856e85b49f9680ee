package dev.dmasim.sim.iommu;

/**
 * Configuration of an {@link Iommu}. Immutable.
 *
 * @param iotlbSets         IOTLB sets, a power of two (default 256).
 * @param iotlbWays         IOTLB associativity (default 8).
 * @param invalidationCost  CPU time charged per invalidation command (default {@link InvalidationCost#NONE}).
 * @param faultRingRecords  minimum fault-ring capacity in records (default 1024).
 * @param blockMappings     use 2 MiB / 1 GiB block leaves where possible (default true).
 */
public record IommuConfig(
    int iotlbSets, int iotlbWays, InvalidationCost invalidationCost, int faultRingRecords, boolean blockMappings)
{
    /** Validates the components. */
    public IommuConfig
    {
        if (iotlbSets < 1 || Integer.bitCount(iotlbSets) != 1)
        {
            throw new IllegalArgumentException("iotlbSets must be a power of two, got " + iotlbSets);
        }
        if (iotlbWays < 1 || iotlbWays > 64)
        {
            throw new IllegalArgumentException("iotlbWays must be in 1..64, got " + iotlbWays);
        }
        if (invalidationCost == null)
        {
            throw new IllegalArgumentException("invalidationCost must not be null");
        }
        if (faultRingRecords < 1)
        {
            throw new IllegalArgumentException("faultRingRecords must be >= 1, got " + faultRingRecords);
        }
    }

    /** @return 256 sets × 8 ways, no invalidation cost, 1024 fault records, block mappings on. */
    public static IommuConfig defaults()
    {
        return new IommuConfig(
            Iotlb.DEFAULT_SETS, Iotlb.DEFAULT_WAYS, InvalidationCost.NONE, FaultRing.DEFAULT_CAPACITY, true);
    }

    /** @return a copy with another IOTLB geometry. */
    public IommuConfig withIotlb(final int sets, final int ways)
    {
        return new IommuConfig(sets, ways, invalidationCost, faultRingRecords, blockMappings);
    }

    /** @return a copy with another invalidation cost. */
    public IommuConfig withInvalidationCost(final InvalidationCost cost)
    {
        return new IommuConfig(iotlbSets, iotlbWays, cost, faultRingRecords, blockMappings);
    }

    /** @return a copy with another fault-ring capacity (records). */
    public IommuConfig withFaultRingRecords(final int records)
    {
        return new IommuConfig(iotlbSets, iotlbWays, invalidationCost, records, blockMappings);
    }

    /** @return a copy with block mappings on or off. */
    public IommuConfig withBlockMappings(final boolean on)
    {
        return new IommuConfig(iotlbSets, iotlbWays, invalidationCost, faultRingRecords, on);
    }
}
