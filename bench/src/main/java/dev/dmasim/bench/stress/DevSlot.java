package dev.dmasim.bench.stress;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.bus.BusDevice;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A device under stress with what the threads share about it: its live DMA ranges, and two counters that tell
 * a post-unmap probe whether its address can have been handed out again ({@link #mapStarted} is incremented
 * before every call that may allocate DMA address space, {@link #mapDone} after that call returned and its
 * result was registered in {@link #ranges}). Thread-safe.
 */
final class DevSlot
{
    final Device dev;
    final BusDevice bus;
    final String role;
    final boolean translated;
    final boolean strict;
    final boolean untrusted;
    final long mask;
    final DmaRanges ranges = new DmaRanges();
    final AtomicLong mapStarted = new AtomicLong();
    final AtomicLong mapDone = new AtomicLong();

    DevSlot(final Device dev, final String role)
    {
        this.dev = dev;
        this.bus = dev.bus();
        this.role = role;
        this.translated = dev.iommuMode().translated();
        this.strict = dev.iommuMode() == IommuMode.STRICT;
        this.untrusted = dev.config().untrusted();
        this.mask = dev.dmaMask();
    }

    /**
     * @return true if mapping {@code [phys, phys+len)} of RAM may need a swiotlb bounce on this device, so that
     * "swiotlb full" is an allowed error: untranslated and beyond the mask, or untrusted and not granule-aligned.
     */
    boolean mayBounce(final long phys, final long len)
    {
        if (!translated)
        {
            return Long.compareUnsigned(phys + len - 1, mask) > 0;
        }
        return untrusted && ((phys | len) & 0xFFF) != 0;
    }

    @Override
    public String toString()
    {
        return dev + " (" + role + ")";
    }
}
