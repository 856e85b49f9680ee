package dev.dmasim.sim.cache;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * The data path of a <i>coherent</i> bus master on a machine with a {@link WriteBackCache}: its bulk reads and
 * writes snoop the CPU cache ({@link WriteBackCache#snoopRead}/{@link WriteBackCache#snoopWrite}), so it sees the
 * CPU's dirty lines and the CPU sees its writes, exactly as if there were no cache. Ranges that are not entirely
 * RAM go to the memory directly (nothing of them is cached). Everything else (8-byte accessors, copies, queries)
 * is the memory's, uncached. Stateless and thread-safe; allocation-free.
 */
public final class CoherentView implements PhysicalMemory
{
    private final WriteBackCache cache;
    private final PhysicalMemory ram;

    CoherentView(final WriteBackCache cache)
    {
        this.cache = cache;
        this.ram = cache.memory();
    }

    @Override
    public int read(final long phys, final MemorySegment dst, final long dstOffset, final long len)
    {
        Objects.checkFromIndexSize(dstOffset, len, dst.byteSize());
        if (len > 0 && phys >= 0 && ram.isRam(phys, len))
        {
            return cache.snoopRead(phys, dst, dstOffset, len);
        }
        return len == 0 ? MemTx.OK : ram.read(phys, dst, dstOffset, len);
    }

    @Override
    public int write(final long phys, final MemorySegment src, final long srcOffset, final long len)
    {
        Objects.checkFromIndexSize(srcOffset, len, src.byteSize());
        if (len > 0 && phys >= 0 && ram.isRam(phys, len))
        {
            return cache.snoopWrite(phys, src, srcOffset, len);
        }
        return len == 0 ? MemTx.OK : ram.write(phys, src, srcOffset, len);
    }

    @Override
    public int copy(final long srcPhys, final long dstPhys, final long len)
    {
        return ram.copy(srcPhys, dstPhys, len);
    }

    @Override
    public int fill(final long phys, final long len, final byte value)
    {
        return ram.fill(phys, len, value);
    }

    @Override
    public long getLong(final long phys)
    {
        return ram.getLong(phys);
    }

    @Override
    public void putLong(final long phys, final long value)
    {
        ram.putLong(phys, value);
    }

    @Override
    public long getLongAcquire(final long phys)
    {
        return ram.getLongAcquire(phys);
    }

    @Override
    public void putLongRelease(final long phys, final long value)
    {
        ram.putLongRelease(phys, value);
    }

    @Override
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        return ram.compareAndSetLong(phys, expected, value);
    }

    /** @return {@code null}: a zero-copy view would bypass the snoop. */
    @Override
    public MemorySegment ramSlice(final long phys, final long len)
    {
        return null;
    }

    @Override
    public boolean isRam(final long phys, final long len)
    {
        return ram.isRam(phys, len);
    }

    @Override
    public List<MemRegion> regions()
    {
        return ram.regions();
    }

    @Override
    public String toString()
    {
        return "CoherentView[" + cache + "]";
    }
}
