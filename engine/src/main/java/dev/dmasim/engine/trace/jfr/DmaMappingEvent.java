package dev.dmasim.engine.trace.jfr;

import dev.dmasim.engine.DmaDirection;
import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.StackTrace;

/**
 * The fields {@link MapEvent} and {@link UnmapEvent} share: the device, the physical and DMA addresses, the size
 * (bytes), the direction and, for scatter-gather, nents. Abstract: JFR registers only the two concrete events.
 */
@Category({ "dmasim", "DMA" })
@StackTrace(false)
public abstract class DmaMappingEvent extends jdk.jfr.Event
{
    @Label("Device")
    public String device;

    @Label("Physical Address")
    @Description("The (first sg entry's) physical address; -1 when the call does not pass one (dma_unmap_phys)")
    public long phys;

    @Label("DMA Address")
    @Description("The (first segment's) bus address; -1 (DMA_MAPPING_ERROR) for a failed map")
    public long dma;

    @Label("Size")
    @DataAmount
    public long size;

    @Label("Direction")
    public String direction;

    @Label("Scatter-Gather Entries")
    @Description("nents for the sg calls, 0 for a single mapping")
    public int nents;

    /** Ends the event and, if the recording wants it, fills and commits it. */
    final void endAndCommit(final String device, final long phys, final long dma, final long size,
        final DmaDirection dir, final int nents)
    {
        end();
        if (shouldCommit())
        {
            this.device = device;
            this.phys = phys;
            this.dma = dma;
            this.size = size;
            this.direction = dir == null ? null : dir.name();
            this.nents = nents;
            commit();
        }
    }
}
