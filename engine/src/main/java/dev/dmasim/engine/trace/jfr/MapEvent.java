package dev.dmasim.engine.trace.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * JFR event {@value #NAME}: one {@code dma_map_phys} (or {@code dma_map_sg}: first entry's phys, first segment's
 * DMA address, total bytes). Its duration is the map call's. Off unless a recording enables it.
 */
@Name(MapEvent.NAME)
@Label("DMA Map")
@Category({ "dmasim", "DMA" })
@Description("A streaming DMA mapping (dma_map_phys / dma_map_sg) made by a simulated driver")
@StackTrace(false)
@Enabled(false)
public final class MapEvent extends jdk.jfr.Event
{
    /** The event name to enable in a recording. */
    public static final String NAME = "dmasim.Map";

    @Label("Device")
    public String device;

    @Label("Physical Address")
    public long phys;

    @Label("DMA Address")
    @Description("The bus address returned, -1 (DMA_MAPPING_ERROR) on failure")
    public long dma;

    @Label("Size")
    @DataAmount
    public long size;

    @Label("Direction")
    public String direction;

    @Label("Scatter-Gather Entries")
    @Description("nents for dma_map_sg, 0 for a single mapping")
    public int nents;
}
