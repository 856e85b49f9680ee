package dev.dmasim.sim.bus;

/**
 * A translation result filled in by {@link BusDevice#translate}, after QEMU's {@code IOMMUTLBEntry}: the aligned bus
 * range {@code [iovaBase, iovaBase + addrMask]} translates to {@code [physBase, physBase + addrMask]} with
 * permissions {@code perm} ({@link Access} bits). Bytes throughout; {@code addrMask} is size − 1 (0xfff for a 4 KiB
 * page, 0x1fffff for a 2 MiB block).
 * <p>
 * Mutable and caller-owned so translation allocates nothing: reuse one per thread; not thread-safe. The entry is a
 * snapshot: after an unmap and invalidation it is out of date, like any cached translation.
 */
public final class TlbEntry
{
    private long iovaBase;
    private long physBase;
    private long addrMask;
    private int perm;

    /** @return the first bus address of the range. */
    public long iovaBase()
    {
        return iovaBase;
    }

    /** @return the physical address {@link #iovaBase()} translates to. */
    public long physBase()
    {
        return physBase;
    }

    /** @return range size − 1 (bytes). */
    public long addrMask()
    {
        return addrMask;
    }

    /** @return {@link Access} bits the range allows. */
    public int perm()
    {
        return perm;
    }

    /** @return the physical address of {@code busAddr}, which must lie in the range. */
    public long translate(final long busAddr)
    {
        return physBase + (busAddr & addrMask);
    }

    /** @return true if {@code busAddr} lies in the range. */
    public boolean contains(final long busAddr)
    {
        return (busAddr & ~addrMask) == iovaBase;
    }

    /** Sets every field; returns this. */
    public TlbEntry set(final long iovaBase, final long physBase, final long addrMask, final int perm)
    {
        this.iovaBase = iovaBase;
        this.physBase = physBase;
        this.addrMask = addrMask;
        this.perm = perm;
        return this;
    }

    /** Resets to the empty entry (no permissions). */
    public void clear()
    {
        set(0, 0, 0, Access.NONE);
    }

    @Override
    public String toString()
    {
        return "TlbEntry[iova=0x" + Long.toHexString(iovaBase) + ", phys=0x" + Long.toHexString(physBase) +
            ", mask=0x" + Long.toHexString(addrMask) + ", perm=" + Access.name(perm) + "]";
    }
}
