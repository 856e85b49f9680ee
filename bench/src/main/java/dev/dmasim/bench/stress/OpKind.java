package dev.dmasim.bench.stress;

/**
 * The DMA-API calls and device transfers a stress run counts. One count per call (a scatter-gather sync is one
 * call; a device transfer is one burst through {@code BusDevice}).
 */
public enum OpKind
{
    MAP_PHYS("mapPhys", false),
    UNMAP_PHYS("unmapPhys", false),
    MAP_PAGE("mapPage", false),
    UNMAP_PAGE("unmapPage", false),
    MAP_SG("mapSg", false),
    UNMAP_SG("unmapSg", false),
    MAP_SGTABLE("mapSgtable", false),
    UNMAP_SGTABLE("unmapSgtable", false),
    SYNC_SINGLE_FOR_CPU("syncSingleForCpu", false),
    SYNC_SINGLE_FOR_DEVICE("syncSingleForDevice", false),
    SYNC_SG_FOR_CPU("syncSgForCpu", false),
    SYNC_SG_FOR_DEVICE("syncSgForDevice", false),
    ALLOC_COHERENT("allocCoherent", false),
    FREE_COHERENT("freeCoherent", false),
    ALLOC_PAGES("allocPages", false),
    FREE_PAGES("freePages", false),
    MAP_RESOURCE("mapResource", false),
    UNMAP_RESOURCE("unmapResource", false),
    MAPPING_ERROR("mappingError", false),
    IOVA_TRY_ALLOC("iovaTryAlloc", false),
    IOVA_LINK("iovaLink", true),
    IOVA_SYNC("iovaSync", true),
    IOVA_UNLINK("iovaUnlink", true),
    IOVA_DESTROY("iovaDestroy", true),
    IOVA_FREE("iovaFree", true),
    DEVICE_READ("device read", false),
    DEVICE_WRITE("device write", false);

    private final String label;
    private final boolean translatedOnly;

    OpKind(final String label, final boolean translatedOnly)
    {
        this.label = label;
        this.translatedOnly = translatedOnly;
    }

    /** @return the API name, as printed in summaries. */
    public String label()
    {
        return label;
    }

    /** @return true if the call only happens when devices are translated (the 2-step API past iovaTryAlloc). */
    public boolean translatedOnly()
    {
        return translatedOnly;
    }
}
