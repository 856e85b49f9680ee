package dev.dmasim.engine.trace.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * JFR event {@value #NAME}: one {@code dma_unmap_phys} (or {@code dma_unmap_sg}). Its duration is the unmap call's
 * (in strict mode it includes the IOTLB invalidation). Off unless a recording enables it.
 */
@Name(UnmapEvent.NAME)
@Label("DMA Unmap")
@Category({ "dmasim", "DMA" })
@Description("A streaming DMA unmapping (dma_unmap_phys / dma_unmap_sg) made by a simulated driver")
@StackTrace(false)
@Enabled(false)
public final class UnmapEvent extends jdk.jfr.Event
{
    /** The event name to enable in a recording. */
    public static final String NAME = "dmasim.Unmap";

    @Label("Device")
    public String device;

    @Label("Physical Address")
    @Description("The first sg entry's physical address for dma_unmap_sg; -1 for dma_unmap_phys (not passed)")
    public long phys;

    @Label("DMA Address")
    public long dma;

    @Label("Size")
    @DataAmount
    public long size;

    @Label("Direction")
    public String direction;

    @Label("Scatter-Gather Entries")
    public int nents;
}
