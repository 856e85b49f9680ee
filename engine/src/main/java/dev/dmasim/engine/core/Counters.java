package dev.dmasim.engine.core;

import java.util.concurrent.atomic.LongAdder;

/**
 * The engine's own event counters (the subsystems keep theirs). {@link LongAdder}s: increments from many
 * threads do not contend and allocate nothing once a thread's cell exists. Thread-safe.
 */
public final class Counters
{
    public final LongAdder maps = new LongAdder();
    public final LongAdder unmaps = new LongAdder();
    public final LongAdder mapErrors = new LongAdder();
    public final LongAdder sgMaps = new LongAdder();
    public final LongAdder sgUnmaps = new LongAdder();
    public final LongAdder syncs = new LongAdder();
    public final LongAdder allocs = new LongAdder();
    public final LongAdder frees = new LongAdder();
    public final LongAdder iovaLinks = new LongAdder();
    public final LongAdder iovaUnlinks = new LongAdder();
}
