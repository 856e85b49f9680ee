package dev.dmasim.engine.trace.jfr;

import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * JFR event {@value #NAME}: one {@code dma_unmap_phys} (or {@code dma_unmap_sg}). Its duration is the unmap call's
 * (in strict mode it includes the IOTLB invalidation). Off unless a recording enables it.
 */
@Name(UnmapEvent.NAME)
@Label("DMA Unmap")
@Description("A streaming DMA unmapping (dma_unmap_phys / dma_unmap_sg) made by a simulated driver")
@Enabled(false)
public final class UnmapEvent extends DmaMappingEvent
{
    /** The event name to enable in a recording. */
    public static final String NAME = "dmasim.Unmap";
}
