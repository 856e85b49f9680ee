package dev.dmasim.sim.mem;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * One backing chunk of RAM, {@code [base, end)} in physical byte addresses, for callers that make many aligned
 * 8-byte accesses to the same few pages (page-table walkers): the region and chunk are decoded once, by
 * {@link PhysicalMemory#ramChunk}, and each access is then one VarHandle access on the chunk's segment at
 * {@code phys - base}. The accessors have the same memory semantics as the {@link PhysicalMemory} ones of the same
 * name (they touch the same bytes through the same segment).
 * <p>
 * Immutable and created once per chunk, when the chunk is first touched, so a reference to it can be cached and
 * shared between threads without any further publication: a racy read of the reference sees the whole object
 * (final fields).
 * <p>
 * <b>Closing.</b> After the owning {@link PhysAddressSpace} is closed the segment's arena is closed: every access
 * through a cached chunk throws the JDK's {@link IllegalStateException} ("Already closed"); none reads or writes
 * freed memory. Addresses outside {@code [base, end)} throw {@link IndexOutOfBoundsException}, misaligned ones
 * {@link IllegalArgumentException}. Allocation-free.
 */
public final class RamChunk
{
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment segment;
    private final long base;
    private final long end;

    RamChunk(final MemorySegment segment, final long base)
    {
        this.segment = segment;
        this.base = base;
        this.end = base + segment.byteSize();
    }

    /** @return the first physical byte address of the chunk. */
    public long base()
    {
        return base;
    }

    /** @return the physical byte address just past the chunk. */
    public long end()
    {
        return end;
    }

    /** @return true if {@code [phys, phys+len)} (bytes, {@code len >= 0}) lies inside this chunk. */
    public boolean contains(final long phys, final long len)
    {
        return phys >= base && phys <= end - len;
    }

    /** Plain 8-byte load. */
    public long getLong(final long phys)
    {
        return (long)LONG.get(segment, phys - base);
    }

    /** Acquire 8-byte load; pairs with {@link #putLongRelease}, {@link #compareAndSetLong} and their {@link PhysicalMemory} twins. */
    public long getLongAcquire(final long phys)
    {
        return (long)LONG.getAcquire(segment, phys - base);
    }

    /** Release 8-byte store; pairs with {@link #getLongAcquire}. */
    public void putLongRelease(final long phys, final long value)
    {
        LONG.setRelease(segment, phys - base, value);
    }

    /** Volatile-semantics compare-and-set of an aligned 8-byte word. */
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        return (boolean)LONG.compareAndSet(segment, phys - base, expected, value);
    }

    @Override
    public String toString()
    {
        return String.format("RamChunk[0x%x, 0x%x)", base, end);
    }
}
