package dev.dmasim.engine.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.LongAdder;

/**
 * An event counter biased to one thread: the first thread to count becomes the owner and counts with a plain
 * load and an opaque store of its own padded field, with no lock-prefixed instruction; every other thread counts
 * through a {@link LongAdder} (one uncontended CAS, cells under contention). Made for the engine's counters, which
 * one thread per engine bumps twice per dma-direct map+unmap: two {@code LongAdder} base CASes were ~3.5 ns of a
 * 9 ns pair. Thread-safe; allocation-free after construction.
 *
 * <p><b>Ownership.</b> {@link #owner} goes from null to a thread by one CAS, and from a thread that has terminated
 * to the thread that saw it terminated by one CAS; nothing else writes it. A thread reads {@code owner == itself}
 * only after its own successful CAS (no other thread ever stores its reference), so at most one live thread is
 * the owner, and {@link #owned} has a single writer at a time: a plain read-modify-write loses nothing.
 *
 * <p><b>Ordering.</b> The owner stores {@link #owned} with {@code setOpaque}: atomic (no torn long) and eventually
 * visible; {@link #sum()} reads it with {@code getOpaque} and adds {@link LongAdder#sum()}. Like
 * {@code LongAdder.sum()}, the sum is exact when no thread counts concurrently (the caller's own synchronization
 * with the counting threads, e.g. {@code Thread.join}, orders their counts before it) and a snapshot otherwise.
 * A takeover needs the dead owner's last store: {@link Thread#isAlive()} returning false synchronizes-with the
 * end of that thread (JLS 17.4.4), so its last store happens-before the new owner's read of {@code owned}.
 *
 * <p><b>Layout.</b> {@link #owner} (read by every counting thread, written at most once per owner) and
 * {@link #owned} (written on every owner count) sit on separate cache lines, padded by the class hierarchy as in
 * JCTools, so non-owners reading {@code owner} do not take the owner's line away on each count; the shared
 * {@link LongAdder} is a separate object allocated after the padding.
 */
public final class BiasedCounter extends BiasedCounterPad2
{
    private static final VarHandle OWNER;
    private static final VarHandle OWNED;

    static
    {
        try
        {
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            OWNER = lookup.findVarHandle(BiasedCounterOwner.class, "owner", Thread.class);
            OWNED = lookup.findVarHandle(BiasedCounterOwned.class, "owned", long.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    /** Counts of every thread but the owner. */
    private final LongAdder shared = new LongAdder();

    /** Adds one. */
    public void increment()
    {
        add(1);
    }

    /** Adds {@code x} (may be negative). */
    public void add(final long x)
    {
        final Thread t = Thread.currentThread();
        final Thread o = owner;
        if (o == t || (o == null || !o.isAlive()) && OWNER.compareAndSet(this, o, t))
        {
            OWNED.setOpaque(this, owned + x); // single writer: the owner (see the class comment)
            return;
        }
        shared.add(x);
    }

    /** @return the count: the owner's plus everyone else's; a snapshot while threads count. */
    public long sum()
    {
        return (long)OWNED.getOpaque(this) + shared.sum();
    }

    /** @return the thread that counts without atomics now, or null before the first count. */
    public Thread owner()
    {
        return (Thread)OWNER.getVolatile(this);
    }

    @Override
    public String toString()
    {
        return Long.toString(sum());
    }
}

/** Padding before {@link BiasedCounterOwner#owner}: 128 bytes (two lines, for the adjacent-line prefetcher). */
abstract class BiasedCounterPad0
{
    long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p0a, p0b, p0c, p0d, p0e, p0f;
}

/** The owner; read on every count, written by a claim. */
abstract class BiasedCounterOwner extends BiasedCounterPad0
{
    /** Null, or the thread that counts in {@link BiasedCounterOwned#owned}. Written only by CAS. */
    Thread owner;
}

/** Padding between the owner and its count. */
abstract class BiasedCounterPad1 extends BiasedCounterOwner
{
    long p10, p11, p12, p13, p14, p15, p16, p17, p18, p19, p1a, p1b, p1c, p1d, p1e, p1f;
}

/** The owner's count. */
abstract class BiasedCounterOwned extends BiasedCounterPad1
{
    /** The owners' counts; single writer (the current owner), opaque stores. */
    long owned;
}

/** Padding after the count (the subclass's own fields come after it). */
abstract class BiasedCounterPad2 extends BiasedCounterOwned
{
    long p20, p21, p22, p23, p24, p25, p26, p27, p28, p29, p2a, p2b, p2c, p2d, p2e, p2f;
}
