package dev.dmasim.bench.jmh.baseline;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Baseline for queue comparisons (flush queue, fault ring): {@link ArrayBlockingQueue} offer+poll of one
 * preallocated element, single thread (one lock acquisition each).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class QueueBaselineBench
{
    private static final Long ELEMENT = 42L;
    private ArrayBlockingQueue<Long> queue;

    @Setup
    public void setup()
    {
        queue = new ArrayBlockingQueue<>(256);
    }

    /** {@code offer} then {@code poll}. */
    @Benchmark
    public Long arrayBlockingQueueOfferPoll()
    {
        queue.offer(ELEMENT);
        return queue.poll();
    }
}
