package dev.dmasim.sim.mem;

import java.lang.foreign.MemorySegment;

/**
 * A device register window (a BAR, a peer-to-peer target) mapped into the physical address space.
 * Offsets are bytes from the start of the region. Implementations must be thread-safe if the simulator
 * accesses the region from several threads.
 */
public interface MmioHandler
{
    /**
     * Reads {@code len} bytes at {@code offset} into {@code dst} at {@code dstOffset}.
     *
     * @return {@link MemTx#OK} or an error code (normally {@link MemTx#DEVICE_ERROR}).
     */
    int read(long offset, MemorySegment dst, long dstOffset, long len);

    /**
     * Writes {@code len} bytes of {@code src} from {@code srcOffset} to the register window at {@code offset}.
     *
     * @return {@link MemTx#OK} or an error code.
     */
    int write(long offset, MemorySegment src, long srcOffset, long len);
}
