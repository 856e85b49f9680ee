package dev.dmasim.bench.example;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The driver half's {@code readl}/{@code writel}/{@code readq}/{@code writeq}: little-endian register accesses to a
 * BAR at {@code base}, made through the CPU's view of the physical address space ({@code engine.cpuMemory()}; MMIO is
 * never cached, so they reach the device's {@link RegisterWindow} at once). A failed access (no device decodes the
 * address, a completer abort) throws {@link IllegalStateException}: on a real machine it is a machine check.
 * <p>
 * Not thread-safe (one scratch buffer): one per driver thread.
 */
public final class Mmio
{
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final PhysicalMemory cpu;
    private final long base;
    private final MemorySegment scratch = MemorySegment.ofArray(new long[1]);

    /**
     * @param cpu  the CPU's view of the address space.
     * @param base the BAR's physical address.
     */
    public Mmio(final PhysicalMemory cpu, final long base)
    {
        this.cpu = cpu;
        this.base = base;
    }

    /** {@code writeq}. */
    public void write64(final long reg, final long value)
    {
        scratch.set(LE_LONG, 0, value);
        check(cpu.write(base + reg, scratch, 0, 8), reg);
    }

    /** {@code readq}. */
    public long read64(final long reg)
    {
        check(cpu.read(base + reg, scratch, 0, 8), reg);
        return scratch.get(LE_LONG, 0);
    }

    /** {@code writel}. */
    public void write32(final long reg, final int value)
    {
        scratch.set(LE_INT, 0, value);
        check(cpu.write(base + reg, scratch, 0, 4), reg);
    }

    /** {@code readl}. */
    public int read32(final long reg)
    {
        check(cpu.read(base + reg, scratch, 0, 4), reg);
        return scratch.get(LE_INT, 0);
    }

    private void check(final int rc, final long reg)
    {
        if (rc != MemTx.OK)
        {
            throw new IllegalStateException("MMIO access to 0x" + Long.toHexString(base + reg) + " failed: "
                + MemTx.name(rc));
        }
    }
}
