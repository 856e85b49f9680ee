package dev.dmasim.engine.trace;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.trace.jfr.DmaEvents;
import dev.dmasim.sim.iommu.FaultHandler;

import java.util.function.IntFunction;

/**
 * Engine use: the IOMMU's fault observer. Emits {@code iommu:io_page_fault} when the engine traces and a
 * {@code dmasim.IommuFault} JFR event when a recording enables it; does nothing else. Runs on the faulting
 * (device) thread; faults are not a fast path, the device lookup is linear. Thread-safe.
 */
@SuppressWarnings("exports") // built by the engine from its internal EngineContext
public final class FaultTracepoint implements FaultHandler
{
    /** {@code IOMMU_FAULT_WRITE} of {@code include/linux/iommu.h}; reads are {@code IOMMU_FAULT_READ} = 0. */
    public static final int IOMMU_FAULT_WRITE = 0x1;

    private final EngineContext eng;
    private final IntFunction<Device> deviceByRequesterId;

    /** @param deviceByRequesterId the attached device with a PCI requester id, or null. */
    public FaultTracepoint(final EngineContext eng, final IntFunction<Device> deviceByRequesterId)
    {
        this.eng = eng;
        this.deviceByRequesterId = deviceByRequesterId;
    }

    @Override
    public void onFault(final int requesterId, final long busAddress, final int access, final int reason,
        final int domainId, final long timestampNs)
    {
        final DmaTracer tracer = eng.tracer;
        final boolean jfr = DmaEvents.faultEnabled();
        if (tracer == null && !jfr)
        {
            return;
        }
        final Device dev = deviceByRequesterId.apply(requesterId);
        final String name = dev != null ? dev.name() : String.format("%04x:%02x:%02x.%x", 0, requesterId >>> 8,
            (requesterId >>> 3) & 0x1f, requesterId & 7);
        if (tracer != null && tracer.iommuEvents())
        {
            tracer.ioPageFault(dev != null ? dev.driverName() : "unknown", name, busAddress,
                (access & 2) != 0 ? IOMMU_FAULT_WRITE : 0);
        }
        if (jfr)
        {
            DmaEvents.fault(name, busAddress, access, reason, domainId);
        }
    }
}
