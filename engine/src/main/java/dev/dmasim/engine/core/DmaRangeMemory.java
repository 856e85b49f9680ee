package dev.dmasim.engine.core;

import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The bus's view of the physical address space for a device behind a one-entry {@code dma_range_map}
 * ({@code DeviceConfig.dmaOffset}): RAM at physical address {@code p} answers at bus address {@code p + offset}.
 * dma-direct hands such a device {@code dma = phys + offset}; this view is what makes the device's
 * {@code dmaRead}/{@code dmaWrite} at that address reach {@code phys}, not whatever lies at the bus address.
 *
 * <p>A bus range whose translation {@code [bus - offset, bus - offset + len)} is entirely RAM is translated; any
 * other range is passed through untranslated, because dma-direct maps MMIO ({@code DMA_ATTR_MMIO}, peer BARs)
 * with {@code dma = phys} and no range translation, as the kernel does. Addresses and lengths are bytes.
 *
 * <p>Thread-safe (stateless over a thread-safe address space); allocates nothing.
 */
public final class DmaRangeMemory implements PhysicalMemory
{
    private final PhysicalMemory memory;
    private final long offset;

    /**
     * @param memory the physical address space.
     * @param offset bus address minus physical address for RAM, bytes (may be negative).
     */
    public DmaRangeMemory(final PhysicalMemory memory, final long offset)
    {
        if (memory == null)
        {
            throw new IllegalArgumentException("memory is null");
        }
        this.memory = memory;
        this.offset = offset;
    }

    /** @return the physical address bus range {@code [bus, bus+len)} reaches. */
    private long toPhys(final long bus, final long len)
    {
        final long phys = bus - offset;
        return phys >= 0 && memory.isRam(phys, Math.max(len, 1)) ? phys : bus;
    }

    @Override
    public int read(final long phys, final MemorySegment dst, final long dstOffset, final long len)
    {
        return memory.read(toPhys(phys, len), dst, dstOffset, len);
    }

    @Override
    public int write(final long phys, final MemorySegment src, final long srcOffset, final long len)
    {
        return memory.write(toPhys(phys, len), src, srcOffset, len);
    }

    @Override
    public int copy(final long srcPhys, final long dstPhys, final long len)
    {
        return memory.copy(toPhys(srcPhys, len), toPhys(dstPhys, len), len);
    }

    @Override
    public int fill(final long phys, final long len, final byte value)
    {
        return memory.fill(toPhys(phys, len), len, value);
    }

    @Override
    public long getLong(final long phys)
    {
        return memory.getLong(toPhys(phys, 8));
    }

    @Override
    public void putLong(final long phys, final long value)
    {
        memory.putLong(toPhys(phys, 8), value);
    }

    @Override
    public long getLongAcquire(final long phys)
    {
        return memory.getLongAcquire(toPhys(phys, 8));
    }

    @Override
    public void putLongRelease(final long phys, final long value)
    {
        memory.putLongRelease(toPhys(phys, 8), value);
    }

    @Override
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        return memory.compareAndSetLong(toPhys(phys, 8), expected, value);
    }

    @Override
    public MemorySegment ramSlice(final long phys, final long len)
    {
        return memory.ramSlice(toPhys(phys, len), len);
    }

    @Override
    public boolean isRam(final long phys, final long len)
    {
        return memory.isRam(toPhys(phys, len), len);
    }

    /** @return the regions of the underlying physical address space (at their physical addresses). */
    @Override
    public List<MemRegion> regions()
    {
        return memory.regions();
    }

    @Override
    public String toString()
    {
        return "DmaRangeMemory[offset=0x" + Long.toHexString(offset) + "]";
    }
}
