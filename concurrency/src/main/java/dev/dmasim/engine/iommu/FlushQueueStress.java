package dev.dmasim.engine.iommu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link FlushQueue}, the lazy-mode (DMA-FQ) flush queue: IOVAs are stamped with
 * {@code startCount} at queue time (after a full fence that orders the caller's PTE clearing before that read)
 * and handed back only once {@code finishCount} has passed the stamp, i.e. once an IOTLB flush that started after
 * the queueing has completed (see the class comment there).
 * <p>
 * Invariants under test:
 * <ul>
 *   <li>an IOVA queued after its PTE was cleared is never freed before a flush whose invalidation ran after the
 *       clear has finished: the device could otherwise still refill the IOTLB from the PTE and reach memory
 *       that is about to be reused ({@link QueueVsTimer}); and it is freed by the next drain, not lost;</li>
 *   <li>two threads queueing on one shared CPU ring (one of them finding it full and flushing synchronously)
 *       free every IOVA exactly once ({@link SharedRing}).</li>
 * </ul>
 * The queue is built directly with a fake flush (it records whether the PTE was already cleared when the
 * invalidation ran) and a recording {@link FlushQueue.Freer}; the timer never fires ({@link #NO_TIMER}): the
 * timer's work is done by an actor calling {@link FlushQueue#flushTimeout()}.
 */
public final class FlushQueueStress
{
    /** A timer that accepts the timeout task and never runs it (no thread is ever started). */
    static final ScheduledThreadPoolExecutor NO_TIMER = new ScheduledThreadPoolExecutor(1)
    {
        @Override
        public ScheduledFuture<?> schedule(final Runnable command, final long delay, final TimeUnit unit)
        {
            return null;
        }
    };

    static final long PFN = 0x1234;
    static final long MAPPED = 0xA003;

    private FlushQueueStress()
    {
    }

    /**
     * The unmap thread clears the PTE (an opaque store, so only {@link FlushQueue#queue}'s own fence orders it)
     * and queues the IOVA; the timer thread runs {@link FlushQueue#flushTimeout()} (flush, then drain). The fake
     * flush notes whether its invalidation saw the PTE cleared (an acquire load, like a device walk). The arbiter
     * drains once more. Result: (freed by the timer's drain, timer's flush saw the PTE cleared, freed after the
     * final drain).
     */
    @JCStressTest
    @Description("FlushQueue.queue vs flushTimeout: an IOVA is freed only after a flush that started after it was queued")
    @Outcome(id = "0, 0, 1", expect = ACCEPTABLE,
        desc = "the flush ran before the PTE was cleared: the IOVA waits for the next flush")
    @Outcome(id = "0, 1, 1", expect = ACCEPTABLE,
        desc = "the flush saw the clear but was not known to start after the queueing (or drained first): waits")
    @Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "freed by the timer after a flush that saw the PTE cleared")
    @Outcome(id = "1, 0, .*", expect = FORBIDDEN,
        desc = "freed after a flush whose invalidation ran before the PTE clear: freed too early (stamp or fence broken)")
    @Outcome(id = ".*, .*, 0", expect = FORBIDDEN, desc = "the IOVA was never freed: lost from the queue")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    @SuppressWarnings("this-escape") // the queue's callbacks run only from the actors, after construction
    public static class QueueVsTimer
    {
        static final VarHandle PTE;

        static
        {
            try
            {
                PTE = MethodHandles.lookup().findVarHandle(QueueVsTimer.class, "pte", long.class);
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new ExceptionInInitializerError(ex);
            }
        }

        long pte = MAPPED;
        /** -1 until the first flush ran; then 1 if its invalidation saw the PTE cleared, else 0. */
        int flushSawCleared = -1;
        /** Frees so far (the freer runs under the ring lock; the arbiter reads after both actors). */
        int freed;
        final FlushQueue fq = new FlushQueue(1, 4, false, 1, this::invalidate, this::free, NO_TIMER);

        /** The fake IOTLB flush: would a device still refill the IOTLB from the PTE after this invalidation? */
        private void invalidate()
        {
            if (flushSawCleared < 0)
            {
                flushSawCleared = (long)PTE.getAcquire(this) == 0L ? 1 : 0;
            }
        }

        private void free(final long pfn, final long pages, final int cpu)
        {
            freed++;
        }

        /** Unmap in lazy mode: clear the PTE, queue the IOVA. */
        @Actor
        public void unmapper()
        {
            PTE.setOpaque(this, 0L);
            fq.queue(PFN, 1, 0);
        }

        /** The flush-queue timer. */
        @Actor
        public void timer()
        {
            fq.flushTimeout();
        }

        /** Drains once more: the IOVA must come out now. */
        @Arbiter
        public void arbiter(final III_Result r)
        {
            r.r1 = freed;
            r.r2 = flushSawCleared;
            fq.flushTimeout();
            r.r3 = freed;
        }
    }

    /**
     * {@link FlushQueue#queue} from two threads on one CPU ring of 2 entries (full after one): one of them finds
     * the ring full and flushes synchronously; the arbiter drains. Result: (times pfn 1 was freed, times pfn 2
     * was freed).
     */
    @JCStressTest
    @Description("FlushQueue.queue x2 on one shared CPU ring: every IOVA freed exactly once")
    @Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "each IOVA freed once")
    @Outcome(id = {"0, .*", ".*, 0"}, expect = FORBIDDEN, desc = "an IOVA was lost from the ring")
    @Outcome(expect = FORBIDDEN, desc = "an IOVA was freed twice (ring head/tail raced)")
    @State
    public static class SharedRing
    {
        final int[] freed = new int[3];
        final FlushQueue fq = new FlushQueue(1, 2, false, 1, () -> { }, this::free, NO_TIMER);

        private void free(final long pfn, final long pages, final int cpu)
        {
            freed[(int)pfn]++;
        }

        /** Queues pfn 1 on CPU 0. */
        @Actor
        public void thread1()
        {
            fq.queue(1, 1, 0);
        }

        /** Queues pfn 2 on CPU 0 (same ring). */
        @Actor
        public void thread2()
        {
            fq.queue(2, 1, 0);
        }

        /** Flushes and drains, then counts. */
        @Arbiter
        public void arbiter(final II_Result r)
        {
            fq.flushTimeout();
            r.r1 = freed[1];
            r.r2 = freed[2];
        }
    }
}
