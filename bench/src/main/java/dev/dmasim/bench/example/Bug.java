package dev.dmasim.bench.example;

import java.util.List;

/**
 * The deliberate driver bugs an example can run with ({@code --bug KIND}), and the report kinds that show each was
 * caught: {@code DebugReport.Kind} names (dma-debug), {@code CheckReport.Kind} names (dmasim's checks) and
 * {@code IOMMU_<MemTx name>} for faults in the IOMMU's fault ring.
 */
public enum Bug
{
    /** A correct driver. */
    NONE("none", List.of()),
    /**
     * The driver skips {@code dma_sync_single_for_cpu}/{@code _for_device} on a buffer it keeps mapped: on a
     * non-coherent device the CPU reads stale cache lines, or the device reads memory the CPU's stores never reached.
     * Implies a non-coherent device (on a coherent one the syncs are no-ops and the bug is invisible).
     */
    MISSING_SYNC("missing-sync", List.of("MISSING_SYNC_FOR_CPU", "MISSING_SYNC_FOR_DEVICE")),
    /** The driver unmaps a buffer the device still owns; the device's next DMA reaches an unmapped bus address. */
    USE_AFTER_UNMAP("use-after-unmap", List.of("USE_AFTER_UNMAP", "STALE_IOTLB_ACCESS")),
    /**
     * Receive buffers are mapped {@code DMA_TO_DEVICE} (read-only for the device) but synced and unmapped
     * {@code DMA_FROM_DEVICE}: the device's writes fault behind an IOMMU, dma-debug sees the direction mismatch.
     */
    WRONG_DIRECTION("wrong-direction",
        List.of("FREE_WRONG_DIRECTION", "SYNC_WRONG_DIRECTION", "IOMMU_PERMISSION_FAULT",
            "DEVICE_ACCESS_WRONG_DIRECTION")),
    /** The driver never unmaps some buffers: dma-debug reports pending mappings when the device is released. */
    LEAK("leak", List.of("LEAK_AT_RELEASE"));

    private final String cliName;
    private final List<String> evidence;

    Bug(final String cliName, final List<String> evidence)
    {
        this.cliName = cliName;
        this.evidence = evidence;
    }

    /** @return the command-line name, e.g. {@code missing-sync}. */
    public String cliName()
    {
        return cliName;
    }

    /** @return the report kinds that count as catching this bug. */
    public List<String> evidence()
    {
        return evidence;
    }

    /** @return the bug named {@code name} on the command line. @throws IllegalArgumentException for another name. */
    public static Bug parse(final String name)
    {
        for (final Bug b : values())
        {
            if (b.cliName.equalsIgnoreCase(name))
            {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown bug '" + name + "': expected one of none, missing-sync,"
            + " use-after-unmap, wrong-direction, leak");
    }

    @Override
    public String toString()
    {
        return cliName;
    }
}
