package dev.dmasim.engine.core;

import dev.dmasim.engine.cpu.BiasedCounter;

/**
 * The engine's own event counters (the subsystems keep theirs). {@link BiasedCounter}s: the first thread to count
 * an event counts it without atomics, any other thread through a {@code LongAdder}; nothing allocates once a
 * thread's {@code LongAdder} cell exists. Thread-safe.
 */
public final class Counters
{
    public final BiasedCounter maps = new BiasedCounter();
    public final BiasedCounter unmaps = new BiasedCounter();
    public final BiasedCounter mapErrors = new BiasedCounter();
    public final BiasedCounter sgMaps = new BiasedCounter();
    public final BiasedCounter sgUnmaps = new BiasedCounter();
    public final BiasedCounter syncs = new BiasedCounter();
    public final BiasedCounter allocs = new BiasedCounter();
    public final BiasedCounter frees = new BiasedCounter();
    public final BiasedCounter iovaLinks = new BiasedCounter();
    public final BiasedCounter iovaUnlinks = new BiasedCounter();
}
