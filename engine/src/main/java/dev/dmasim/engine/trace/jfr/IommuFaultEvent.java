package dev.dmasim.engine.trace.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * JFR event {@value #NAME}: a translation or permission fault the simulated IOMMU recorded for a device access.
 * Instantaneous (duration 0), committed on the device thread. Off unless a recording enables it.
 */
@Name(IommuFaultEvent.NAME)
@Label("IOMMU Fault")
@Category({ "dmasim", "IOMMU" })
@Description("A DMA access the IOMMU refused (translation or permission fault)")
@StackTrace(false)
@Enabled(false)
public final class IommuFaultEvent extends jdk.jfr.Event
{
    /** The event name to enable in a recording. */
    public static final String NAME = "dmasim.IommuFault";

    @Label("Device")
    public String device;

    @Label("Physical Address")
    @Description("Always -1: a fault has no translation")
    public long phys;

    @Label("DMA Address")
    @Description("The faulting bus address (IOVA)")
    public long dma;

    @Label("Size")
    @Description("Bytes of the faulting page access (the IOMMU checks one page at a time)")
    public long size;

    @Label("Direction")
    @Description("READ (device reads memory) or WRITE")
    public String direction;

    @Label("Reason")
    @Description("TRANSLATION_FAULT or PERMISSION_FAULT")
    public String reason;

    @Label("Domain")
    public int domain;
}
