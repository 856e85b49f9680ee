package dev.dmasim.bench.example;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.MmioHandler;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The hardware half's register file: a BAR decoded as little-endian 32- and 64-bit registers (PCI is little-endian),
 * registered in the machine's physical address space with {@code PhysAddressSpace.builder().mmio(base, size, this)}.
 * A CPU store to the BAR ({@code engine.cpuMemory().write(bar + reg, ...)}) runs {@link #writeRegister} on the
 * storing thread, synchronously, as an MMIO write traps into a QEMU device model; a load runs {@link #readRegister}.
 * Accesses that are not 4 or 8 bytes, not naturally aligned or outside the window complete with
 * {@link MemTx#DEVICE_ERROR} (a completer abort). Subclasses must be thread-safe: CPU threads access registers while
 * the device thread runs.
 */
public abstract class RegisterWindow implements MmioHandler
{
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final long size;

    /** @param size the window's size in bytes (a multiple of 4 KiB, as {@code PhysAddressSpace} regions are). */
    protected RegisterWindow(final long size)
    {
        this.size = size;
    }

    /** @return the window's size in bytes. */
    public final long size()
    {
        return size;
    }

    /** @return the register at {@code offset} ({@code width} 4 or 8 bytes); unknown registers read as 0. */
    protected abstract long readRegister(long offset, int width);

    /** Stores {@code value} to the register at {@code offset}; writes to unknown or read-only registers are ignored. */
    protected abstract void writeRegister(long offset, int width, long value);

    @Override
    public final int read(final long offset, final MemorySegment dst, final long dstOffset, final long len)
    {
        if (!valid(offset, len))
        {
            return MemTx.DEVICE_ERROR;
        }
        final long v = readRegister(offset, (int)len);
        if (len == 8)
        {
            dst.set(LE_LONG, dstOffset, v);
        }
        else
        {
            dst.set(LE_INT, dstOffset, (int)v);
        }
        return MemTx.OK;
    }

    @Override
    public final int write(final long offset, final MemorySegment src, final long srcOffset, final long len)
    {
        if (!valid(offset, len))
        {
            return MemTx.DEVICE_ERROR;
        }
        writeRegister(offset, (int)len, len == 8 ? src.get(LE_LONG, srcOffset) : src.get(LE_INT, srcOffset) & 0xFFFF_FFFFL);
        return MemTx.OK;
    }

    private boolean valid(final long offset, final long len)
    {
        return (len == 4 || len == 8) && (offset & (len - 1)) == 0 && offset >= 0 && offset + len <= size;
    }
}
