package dev.dmasim.engine.cpu;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which simulated CPU the calling thread is on: the index of its per-CPU slot, {@code 0..cpus-1}.
 * A simulator binds its CPU threads explicitly with {@link #bind(int)}; any other thread is bound
 * round-robin on its first call to {@link #current()}. Per-CPU structures must stay correct when two
 * threads share a slot (they are not "preemption disabled" as in the kernel).
 *
 * <p>Thread-safe. {@link #current()} allocates only on a thread's first call (its thread-local cell).
 */
public final class CpuBinding
{
    private final int cpus;
    private final AtomicInteger nextImplicit = new AtomicInteger();
    // One mutable cell per thread: current() is a ThreadLocal lookup plus a plain int read.
    private final ThreadLocal<int[]> slot = ThreadLocal.withInitial(() -> new int[] { -1 });

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
        slot.get()[0] = cpu;
    }

    /** Forgets the calling thread's binding; its next {@link #current()} binds it round-robin again. */
    public void unbind()
    {
        slot.remove();
    }

    /** @return the calling thread's CPU, binding it round-robin on first use. */
    public int current()
    {
        final int[] cell = slot.get();
        int cpu = cell[0];
        if (cpu < 0)
        {
            cpu = Math.floorMod(nextImplicit.getAndIncrement(), cpus);
            cell[0] = cpu;
        }
        return cpu;
    }
}
