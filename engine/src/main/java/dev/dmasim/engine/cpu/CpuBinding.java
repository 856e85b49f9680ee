package dev.dmasim.engine.cpu;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which simulated CPU the calling thread is on: the index of its per-CPU slot, {@code 0..cpus-1}.
 * A simulator binds its CPU threads explicitly with {@link #bind(int)}; any other thread is bound
 * round-robin on its first call to {@link #current()}. Per-CPU structures must stay correct when two
 * threads share a slot (they are not "preemption disabled" as in the kernel).
 *
 * <p>Thread-safe. {@link #current()} allocates only on a thread's first call (its thread-local cell) and when
 * its cache slot was taken by another thread.
 *
 * <p><b>Fast path.</b> The binding lives in a per-thread {@code int[1]} cell held by a {@link ThreadLocal}. A
 * {@code ThreadLocal} lookup (hash probe plus a weak-reference check) cost about as much as a whole dma-direct
 * map, so {@link #current()} first looks in a small direct-mapped cache indexed by the thread id: an immutable
 * {@link Entry} (thread, its cell). Invariants: an entry is only ever used by the thread it names (the
 * {@code entry.thread == currentThread} check), so the cell it points to is read and written by that thread
 * only, in program order ({@link #bind} writes the same cell; {@link #unbind} drops the thread's entry before
 * dropping the cell). Entries are published by plain array stores: a benign race, since their fields are
 * final (a reader sees a fully built entry or another one, and another thread's entry fails the check). A
 * miss falls back to the {@code ThreadLocal} and installs the thread's entry; two threads whose ids collide
 * keep replacing each other's entry, which costs speed only. The cache holds at most {@link #CACHE_SLOTS}
 * dead threads' entries until they are replaced.
 */
public final class CpuBinding
{
    private final int cpus;
    private final AtomicInteger nextImplicit = new AtomicInteger();
    // One mutable cell per thread: current() is a ThreadLocal lookup plus a plain int read.
    private final ThreadLocal<int[]> slot = ThreadLocal.withInitial(() -> new int[] { -1 });
    /** Size of the thread-id-indexed cache of cells, a power of two. */
    static final int CACHE_SLOTS = 64;
    private final Entry[] cache = new Entry[CACHE_SLOTS];

    /** One thread's cell. Immutable. */
    private record Entry(Thread thread, int[] cell)
    {
    }

    /** @param cpus number of simulated CPUs, 1..4096. */
    public CpuBinding(final int cpus)
    {
        if (cpus < 1 || cpus > 4096)
        {
            throw new IllegalArgumentException("cpus must be 1..4096, was " + cpus);
        }
        this.cpus = cpus;
    }

    /** @return the number of simulated CPUs. */
    public int cpus()
    {
        return cpus;
    }

    /** Binds the calling thread to CPU {@code cpu} for all later calls. */
    public void bind(final int cpu)
    {
        if (cpu < 0 || cpu >= cpus)
        {
            throw new IllegalArgumentException("cpu " + cpu + " is not in 0.." + (cpus - 1));
        }
        cell()[0] = cpu;
    }

    /** Forgets the calling thread's binding; its next {@link #current()} binds it round-robin again. */
    public void unbind()
    {
        final Thread t = Thread.currentThread();
        final int i = index(t);
        final Entry e = cache[i];
        if (e != null && e.thread == t)
        {
            cache[i] = null;
        }
        slot.remove();
    }

    /** @return the calling thread's CPU, binding it round-robin on first use. */
    public int current()
    {
        final int[] cell = cell();
        int cpu = cell[0];
        if (cpu < 0)
        {
            cpu = Math.floorMod(nextImplicit.getAndIncrement(), cpus);
            cell[0] = cpu;
        }
        return cpu;
    }

    /** @return the calling thread's cell: from the cache, else from the thread-local (and cached). */
    private int[] cell()
    {
        final Thread t = Thread.currentThread();
        final int i = index(t);
        final Entry e = cache[i];
        if (e != null && e.thread == t)
        {
            return e.cell;
        }
        final int[] c = slot.get();
        cache[i] = new Entry(t, c);
        return c;
    }

    private static int index(final Thread t)
    {
        return (int)(t.threadId() * 0x9E3779B97F4A7C15L >>> 58); // 6 bits: CACHE_SLOTS = 64
    }
}
