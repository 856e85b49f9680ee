package dev.dmasim.sim.mem;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A physical address space as the CPU and the memory side of the bus see it. Addresses and lengths are
 * bytes. Bulk accesses cross chunk and region boundaries and return {@link MemTx} codes (a hole gives
 * {@link MemTx#DECODE_ERROR}; the bytes before it have been transferred). The 8-byte accessors are for
 * page tables and other descriptors kept in RAM: they require an 8-byte-aligned RAM address and throw
 * {@link IllegalArgumentException} otherwise. Implementations are thread-safe; plain accesses to the same
 * bytes from several threads race exactly as they would on hardware.
 */
public interface PhysicalMemory
{
    /** Copies {@code len} bytes at {@code phys} into {@code dst} at {@code dstOffset}. */
    int read(long phys, MemorySegment dst, long dstOffset, long len);

    /** Copies {@code len} bytes of {@code src} from {@code srcOffset} to {@code phys}. */
    int write(long phys, MemorySegment src, long srcOffset, long len);

    /** Copies all of {@code dst.byteSize()} bytes at {@code phys} into {@code dst}. */
    default int read(final long phys, final MemorySegment dst)
    {
        return read(phys, dst, 0, dst.byteSize());
    }

    /** Writes all of {@code src} to {@code phys}. */
    default int write(final long phys, final MemorySegment src)
    {
        return write(phys, src, 0, src.byteSize());
    }

    /** Copies {@code len} bytes from {@code srcPhys} to {@code dstPhys} (memmove semantics if they overlap). */
    int copy(long srcPhys, long dstPhys, long len);

    /** Sets {@code len} bytes at {@code phys} to {@code value}. */
    int fill(long phys, long len, byte value);

    /** Plain 8-byte load from aligned RAM. */
    long getLong(long phys);

    /** Plain 8-byte store to aligned RAM. */
    void putLong(long phys, long value);

    /** Acquire load; pairs with {@link #putLongRelease} and {@link #compareAndSetLong}. */
    long getLongAcquire(long phys);

    /** Release store; pairs with {@link #getLongAcquire}. */
    void putLongRelease(long phys, long value);

    /** Volatile-semantics compare-and-set of an aligned 8-byte RAM word. */
    boolean compareAndSetLong(long phys, long expected, long value);

    /**
     * A zero-copy view of {@code [phys, phys+len)} when the range lies inside one backing chunk of RAM,
     * else {@code null}. The view stays valid until the address space is closed.
     */
    MemorySegment ramSlice(long phys, long len);

    /**
     * The backing chunk of the RAM at {@code phys}, for repeated 8-byte accesses to one page without decoding the
     * address each time (see {@link RamChunk}); allocates the chunk on first touch, as the 8-byte accessors do.
     * Accesses through the chunk are accesses to this memory's bytes, so only an implementation that needs to see
     * every access itself (a cache model) returns {@code null}, as this default does: callers then use the 8-byte
     * accessors.
     *
     * @return the chunk holding {@code phys}, or {@code null} if {@code phys} is not RAM or there is no direct
     * backing.
     * @throws IllegalStateException if the memory is closed.
     */
    default RamChunk ramChunk(final long phys)
    {
        return null;
    }

    /** @return true if every byte of {@code [phys, phys+len)} is RAM. */
    boolean isRam(long phys, long len);

    /** @return the regions, sorted by base address. */
    List<MemRegion> regions();

    /** A region of the physical address space. */
    record MemRegion(long base, long size, Kind kind, String name)
    {
        /** What decodes the region. */
        public enum Kind
        {
            RAM, MMIO
        }

        /** @return the address just past the region (exclusive). */
        public long end()
        {
            return base + size;
        }
    }
}
