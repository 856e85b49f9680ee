package dev.dmasim.engine.debug;

import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** A physical address space of one RAM region {@code [0, RAM_END)}; only {@link #isRam} works. */
final class TestMemory implements PhysicalMemory
{
    static final long RAM_END = 1L << 30;
    static final long MMIO_BASE = 0xF000_0000L;

    @Override
    public boolean isRam(final long phys, final long len)
    {
        return phys >= 0 && len >= 0 && phys + len <= RAM_END;
    }

    @Override
    public List<MemRegion> regions()
    {
        return List.of(new MemRegion(0, RAM_END, MemRegion.Kind.RAM, "ram"),
            new MemRegion(MMIO_BASE, 1L << 20, MemRegion.Kind.MMIO, "bar0"));
    }

    @Override
    public int read(final long phys, final MemorySegment dst, final long dstOffset, final long len)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public int write(final long phys, final MemorySegment src, final long srcOffset, final long len)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public int copy(final long srcPhys, final long dstPhys, final long len)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public int fill(final long phys, final long len, final byte value)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public long getLong(final long phys)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public void putLong(final long phys, final long value)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public long getLongAcquire(final long phys)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public void putLongRelease(final long phys, final long value)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        throw new UnsupportedOperationException();
    }

    @Override
    public MemorySegment ramSlice(final long phys, final long len)
    {
        return null;
    }
}
