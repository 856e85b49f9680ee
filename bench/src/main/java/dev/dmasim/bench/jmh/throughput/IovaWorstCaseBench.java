package dev.dmasim.bench.jmh.throughput;

import dev.dmasim.engine.iova.IovaDomain;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The worst single IOVA allocation: {@code live} one-pfn ranges at every other pfn (1-pfn holes a 2-pfn aligned
 * request cannot use) above one 64-pfn hole, everything below the hole reserved, and the cached node at the
 * top. The kernel's allocator walks down from the cached node over every range to reach the hole (11 ms at
 * 10^6 in user space); dmasim's augmented tree descends to it. Each iteration times one allocation
 * ({@link Mode#SingleShotTime}); the iteration teardown frees it and puts the cached node back at the top.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 200)
@Measurement(iterations = 200)
public class IovaWorstCaseBench
{
    private static final long BASE = 1L << 24; // 64 GiB: above the 32-bit zone
    private static final long HOLE = 64;

    @Param({ "1000000" })
    public int live;

    private IovaDomain iovad;
    private long top;
    private long last;

    @Setup(Level.Trial)
    public void setup()
    {
        iovad = new IovaDomain(4096, 1, 2);
        iovad.reserveIova(1, BASE - HOLE - 1);
        long pfn = BASE;
        for (int i = 0; i < live; i++, pfn += 2)
        {
            iovad.reserveIova(pfn, pfn);
        }
        top = pfn - 2;
    }

    /** One allocation of 2 size-aligned pfns below the top range: lands in the hole under everything. */
    @Benchmark
    public long worstAlloc()
    {
        last = iovad.allocIova(2, top, true);
        return last;
    }

    @TearDown(Level.Iteration)
    public void reset()
    {
        if (last < BASE - HOLE || last >= BASE)
        {
            throw new IllegalStateException("allocation missed the hole: " + last);
        }
        iovad.freeIova(last);
        // Freeing the top range moves the cached node to the anchor again (the kernel's
        // __cached_rbnode_delete_update); re-reserving it does not touch the cached node.
        iovad.freeIova(top);
        iovad.reserveIova(top, top);
    }
}
