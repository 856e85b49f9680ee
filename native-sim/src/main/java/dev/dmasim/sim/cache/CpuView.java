package dev.dmasim.sim.cache;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * The physical address space as a CPU sees it through a {@link WriteBackCache}: RAM loads and stores go through
 * the cache (stores stay dirty in it until cleaned or evicted; loads may return stale lines), while ranges that
 * are not entirely RAM (MMIO, holes) are accessed uncached, as device memory is mapped, after the cached lines
 * they overlap are cleaned and invalidated. Results are {@link MemTx} codes as for {@link PhysicalMemory}.
 * <p>
 * Differences from the raw memory: {@link #ramSlice} returns {@code null} (a zero-copy view would bypass the
 * cache), and the 8-byte accessors are atomic under the line's set lock (acquire/release/CAS semantics are those
 * of a monitor, at least as strong as asked).
 * <p>
 * An optional {@link CpuAccessObserver} is told about every access, after it completed (one volatile read per
 * call when none is set). Several views may share one cache; each has its own observer (the engine gives its
 * own bounce copies an unobserved view).
 * <p>
 * <b>Invariants / ordering.</b> Stateless apart from the observer reference (volatile: set from any thread,
 * seen by the next access) and a per-thread 64-byte scratch segment used by {@link #copy}. Thread safety and
 * atomicity are the cache's (one line at a time, see {@link WriteBackCache}).
 * <b>Allocation.</b> None per call once a thread's scratch exists.
 */
public final class CpuView implements PhysicalMemory
{
    private static final ThreadLocal<MemorySegment> SCRATCH =
        ThreadLocal.withInitial(() -> MemorySegment.ofArray(new byte[WriteBackCache.LINE_SIZE]));

    private final WriteBackCache cache;
    private final PhysicalMemory ram;
    private volatile CpuAccessObserver observer;

    CpuView(final WriteBackCache cache)
    {
        this.cache = cache;
        this.ram = cache.memory();
    }

    /** @return the cache this view goes through. */
    public WriteBackCache cache()
    {
        return cache;
    }

    /** @return the memory behind the cache (uncached; what non-coherent devices see). */
    public PhysicalMemory memory()
    {
        return ram;
    }

    /** Sets (or, with null, removes) the observer told about every access. */
    public void observer(final CpuAccessObserver o)
    {
        this.observer = o;
    }

    /** @return the observer, or null. */
    public CpuAccessObserver observer()
    {
        return observer;
    }

    private void observe(final long phys, final long len, final boolean write)
    {
        final CpuAccessObserver o = observer;
        if (o != null && len > 0)
        {
            o.onCpuAccess(phys, len, write);
        }
    }

    @Override
    public int read(final long phys, final MemorySegment dst, final long dstOffset, final long len)
    {
        Objects.checkFromIndexSize(dstOffset, len, dst.byteSize());
        if (len == 0)
        {
            return MemTx.OK;
        }
        final int rc;
        if (phys >= 0 && ram.isRam(phys, len))
        {
            cache.cpuRead(phys, dst, dstOffset, len);
            rc = MemTx.OK;
        }
        else
        {
            uncached(phys, len);
            rc = ram.read(phys, dst, dstOffset, len);
        }
        observe(phys, len, false);
        return rc;
    }

    @Override
    public int write(final long phys, final MemorySegment src, final long srcOffset, final long len)
    {
        Objects.checkFromIndexSize(srcOffset, len, src.byteSize());
        if (len == 0)
        {
            return MemTx.OK;
        }
        final int rc;
        if (phys >= 0 && ram.isRam(phys, len))
        {
            cache.cpuWrite(phys, src, srcOffset, len);
            rc = MemTx.OK;
        }
        else
        {
            uncached(phys, len);
            rc = ram.write(phys, src, srcOffset, len);
        }
        observe(phys, len, true);
        return rc;
    }

    /** {@inheritDoc} A CPU memmove through the cache, in line-sized pieces (forward, or backward when overlapping). */
    @Override
    public int copy(final long srcPhys, final long dstPhys, final long len)
    {
        if (len <= 0)
        {
            return ram.copy(srcPhys, dstPhys, len); // the memory's argument checks
        }
        if (srcPhys < 0 || dstPhys < 0 || !ram.isRam(srcPhys, len) || !ram.isRam(dstPhys, len))
        {
            uncached(srcPhys, len);
            uncached(dstPhys, len);
            final int rc = ram.copy(srcPhys, dstPhys, len);
            observe(srcPhys, len, false);
            observe(dstPhys, len, true);
            return rc;
        }
        final MemorySegment scratch = SCRATCH.get();
        final int piece = WriteBackCache.LINE_SIZE;
        if (dstPhys > srcPhys && dstPhys < srcPhys + len)
        {
            for (long end = len; end > 0; )
            {
                final long n = Math.min(end, piece);
                cache.cpuRead(srcPhys + end - n, scratch, 0, n);
                cache.cpuWrite(dstPhys + end - n, scratch, 0, n);
                end -= n;
            }
        }
        else
        {
            for (long done = 0; done < len; )
            {
                final long n = Math.min(len - done, piece);
                cache.cpuRead(srcPhys + done, scratch, 0, n);
                cache.cpuWrite(dstPhys + done, scratch, 0, n);
                done += n;
            }
        }
        observe(srcPhys, len, false);
        observe(dstPhys, len, true);
        return MemTx.OK;
    }

    @Override
    public int fill(final long phys, final long len, final byte value)
    {
        if (len <= 0)
        {
            return ram.fill(phys, len, value);
        }
        final int rc;
        if (phys >= 0 && ram.isRam(phys, len))
        {
            cache.cpuFill(phys, len, value);
            rc = MemTx.OK;
        }
        else
        {
            uncached(phys, len);
            rc = ram.fill(phys, len, value);
        }
        observe(phys, len, true);
        return rc;
    }

    @Override
    public long getLong(final long phys)
    {
        if (!cachedWord(phys))
        {
            return ram.getLong(phys); // throws for a bad address, as the raw memory does
        }
        final long v = cache.cpuGetLong(phys);
        observe(phys, 8, false);
        return v;
    }

    @Override
    public void putLong(final long phys, final long value)
    {
        if (!cachedWord(phys))
        {
            ram.putLong(phys, value);
            return;
        }
        cache.cpuPutLong(phys, value);
        observe(phys, 8, true);
    }

    @Override
    public long getLongAcquire(final long phys)
    {
        return getLong(phys);
    }

    @Override
    public void putLongRelease(final long phys, final long value)
    {
        putLong(phys, value);
    }

    @Override
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        if (!cachedWord(phys))
        {
            return ram.compareAndSetLong(phys, expected, value);
        }
        final boolean ok = cache.cpuCompareAndSetLong(phys, expected, value);
        observe(phys, 8, true);
        return ok;
    }

    /** @return {@code null}: a zero-copy view would bypass the cache. */
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

    private boolean cachedWord(final long phys)
    {
        return phys >= 0 && (phys & 7) == 0 && ram.isRam(phys, 8);
    }

    private void uncached(final long phys, final long len)
    {
        if (phys >= 0 && len > 0 && phys + len > phys)
        {
            cache.cleanInvalidate(phys, len);
        }
    }

    @Override
    public String toString()
    {
        return "CpuView[" + cache + " over " + ram + "]";
    }
}
