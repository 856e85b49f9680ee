package dev.dmasim.bench.jmh.baseline;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Baseline of the swiotlb bounce benchmarks: one raw {@link MemorySegment#copy} between two page-aligned native
 * segments of {@code size} bytes, what a bounce costs at least. Compare with {@code SwiotlbBench.mapUnmap}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CopyBaselineBench
{
    @Param({ "1500", "4096", "65536" })
    public int size;

    private Arena arena;
    private MemorySegment src;
    private MemorySegment dst;
    private MemorySegment pool;
    private long poolOffset;
    private long stride;

    @Setup
    public void setup()
    {
        arena = Arena.ofShared();
        src = arena.allocate(size, 4096);
        dst = arena.allocate(size, 4096);
        pool = arena.allocate(POOL_BYTES, 4096);
        stride = (size + 2047) & -2048L;
        for (long i = 0; i < size; i++)
        {
            src.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte)i);
        }
    }

    /** Bytes the pool-walk destination cycles through: swiotlb's default pool. */
    public static final long POOL_BYTES = 64L << 20;

    @TearDown
    public void tearDown()
    {
        arena.close();
    }

    /** {@code MemorySegment.copy(src, 0, dst, 0, size)}. */
    @Benchmark
    public MemorySegment rawCopy()
    {
        MemorySegment.copy(src, 0, dst, 0, size);
        return dst;
    }

    /**
     * The same copy into a destination that walks a 64 MiB pool in 2 KiB slots, as swiotlb's bounce buffers do
     * (each map searches from where the last one ended): the copy's stores miss the caches. Not a goal baseline;
     * it shows how much of the bounce cost is the cold pool rather than the bookkeeping.
     */
    @Benchmark
    public MemorySegment rawCopyPoolWalk()
    {
        long off = poolOffset;
        if (off + size > POOL_BYTES)
        {
            off = 0;
        }
        MemorySegment.copy(src, 0, pool, off, size);
        poolOffset = off + stride;
        return pool;
    }
}
