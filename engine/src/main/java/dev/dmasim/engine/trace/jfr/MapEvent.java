package dev.dmasim.engine.trace.jfr;

import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR event {@value #NAME}: one {@code dma_map_phys} (or {@code dma_map_sg}: first entry's phys, first segment's
 * DMA address, total bytes). Its duration is the map call's. Off unless a recording enables it.
 */
@Name(MapEvent.NAME)
@Label("DMA Map")
@Description("A streaming DMA mapping (dma_map_phys / dma_map_sg) made by a simulated driver")
@Enabled(false)
public final class MapEvent extends DmaMappingEvent
{
    /** The event name to enable in a recording. */
    public static final String NAME = "dmasim.Map";
}
