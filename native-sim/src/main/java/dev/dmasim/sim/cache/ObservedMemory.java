package dev.dmasim.sim.cache;

import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * A CPU's view of a {@link PhysicalMemory} with no cache model in between: every access goes straight to the
 * memory, then a {@link CpuAccessObserver} is told about it (as {@link CpuView} does through a cache). What a
 * checker needs to judge CPU accesses on a machine without a cache model.
 * <p>
 * Differences from the memory: {@link #ramSlice} returns {@code null} (accesses through a zero-copy view could not
 * be observed). Results, exceptions and atomicity are the memory's. An access that throws is not observed; one that
 * returns an error code (a hole, MMIO) is, as by {@link CpuView}. Zero-length accesses are not observed.
 * <p>
 * <b>Invariants / ordering.</b> Stateless apart from two final references: thread-safe exactly as the memory is.
 * The observer is called on the accessing thread, after the access, holding no lock of this class.
 * <b>Allocation.</b> None per call (the observer's own work aside).
 */
public final class ObservedMemory implements PhysicalMemory
{
    private final PhysicalMemory memory;
    private final CpuAccessObserver observer;

    /**
     * @param memory   the memory accessed.
     * @param observer told about every access after it completed.
     * @throws NullPointerException if either is null.
     */
    public ObservedMemory(final PhysicalMemory memory, final CpuAccessObserver observer)
    {
        this.memory = Objects.requireNonNull(memory, "memory");
        this.observer = Objects.requireNonNull(observer, "observer");
    }

    /** @return the memory behind this view. */
    public PhysicalMemory memory()
    {
        return memory;
    }

    /** @return the observer. */
    public CpuAccessObserver observer()
    {
        return observer;
    }

    private void observe(final long phys, final long len, final boolean write)
    {
        if (len > 0)
        {
            observer.onCpuAccess(phys, len, write);
        }
    }

    @Override
    public int read(final long phys, final MemorySegment dst, final long dstOffset, final long len)
    {
        final int rc = memory.read(phys, dst, dstOffset, len);
        observe(phys, len, false);
        return rc;
    }

    @Override
    public int write(final long phys, final MemorySegment src, final long srcOffset, final long len)
    {
        final int rc = memory.write(phys, src, srcOffset, len);
        observe(phys, len, true);
        return rc;
    }

    @Override
    public int copy(final long srcPhys, final long dstPhys, final long len)
    {
        final int rc = memory.copy(srcPhys, dstPhys, len);
        observe(srcPhys, len, false);
        observe(dstPhys, len, true);
        return rc;
    }

    @Override
    public int fill(final long phys, final long len, final byte value)
    {
        final int rc = memory.fill(phys, len, value);
        observe(phys, len, true);
        return rc;
    }

    @Override
    public long getLong(final long phys)
    {
        final long v = memory.getLong(phys);
        observe(phys, 8, false);
        return v;
    }

    @Override
    public void putLong(final long phys, final long value)
    {
        memory.putLong(phys, value);
        observe(phys, 8, true);
    }

    @Override
    public long getLongAcquire(final long phys)
    {
        final long v = memory.getLongAcquire(phys);
        observe(phys, 8, false);
        return v;
    }

    @Override
    public void putLongRelease(final long phys, final long value)
    {
        memory.putLongRelease(phys, value);
        observe(phys, 8, true);
    }

    @Override
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        final boolean ok = memory.compareAndSetLong(phys, expected, value);
        observe(phys, 8, true);
        return ok;
    }

    /** @return {@code null}: accesses through a zero-copy view could not be observed. */
    @Override
    public MemorySegment ramSlice(final long phys, final long len)
    {
        return null;
    }

    @Override
    public boolean isRam(final long phys, final long len)
    {
        return memory.isRam(phys, len);
    }

    @Override
    public List<MemRegion> regions()
    {
        return memory.regions();
    }

    @Override
    public String toString()
    {
        return "ObservedMemory[" + memory + "]";
    }
}
