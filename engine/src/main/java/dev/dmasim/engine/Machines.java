package dev.dmasim.engine;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.MmioHandler;
import dev.dmasim.sim.mem.PhysAddressSpace;

import java.lang.foreign.MemorySegment;

/**
 * Ready-made simulated machines. Sizes are bytes.
 */
public final class Machines
{
    /** Base of the default machine's device BAR (an MMIO window a peer device exposes). */
    public static final long DEFAULT_BAR_BASE = 0xE000_0000L;
    /** Size of the default machine's device BAR. */
    public static final long DEFAULT_BAR_SIZE = 16L << 20;

    private Machines()
    {
    }

    /**
     * The embedded default: an x86-64 layout with 2 GiB of RAM below the PCI hole ({@code [0, 2 GiB)}), a
     * 16 MiB device BAR at {@code 0xe0000000}, and 2 GiB of RAM above 4 GiB ({@code [4 GiB, 6 GiB)}). RAM is
     * sparse: only touched 4 MiB chunks cost memory.
     */
    public static PhysAddressSpace defaultX86()
    {
        return PhysAddressSpace.builder()
            .chunkSize(4L << 20)
            .ram(0, 2L << 30, "System RAM")
            .mmio(DEFAULT_BAR_BASE, DEFAULT_BAR_SIZE, new BarMemory(DEFAULT_BAR_SIZE), "0000:04:00.0 BAR0")
            .ram(4L << 30, 2L << 30, "System RAM")
            .build();
    }

    /**
     * A device BAR that stores what is written to it, like a peer device's memory window. Accesses race
     * as they would on the bus (no atomicity beyond single bytes). Thread-safe in that sense.
     */
    public static final class BarMemory implements MmioHandler
    {
        private final MemorySegment storage;

        /** @param size window size in bytes. */
        public BarMemory(final long size)
        {
            if (size <= 0 || size > (1L << 30) || (size & 7) != 0)
            {
                throw new IllegalArgumentException("BAR size must be a multiple of 8 bytes up to 1 GiB, was " + size);
            }
            storage = MemorySegment.ofArray(new long[(int)(size >>> 3)]);
        }

        @Override
        public int read(final long offset, final MemorySegment dst, final long dstOffset, final long len)
        {
            if (offset < 0 || offset + len > storage.byteSize())
            {
                return MemTx.DECODE_ERROR;
            }
            MemorySegment.copy(storage, offset, dst, dstOffset, len);
            return MemTx.OK;
        }

        @Override
        public int write(final long offset, final MemorySegment src, final long srcOffset, final long len)
        {
            if (offset < 0 || offset + len > storage.byteSize())
            {
                return MemTx.DECODE_ERROR;
            }
            MemorySegment.copy(src, srcOffset, storage, offset, len);
            return MemTx.OK;
        }
    }
}
