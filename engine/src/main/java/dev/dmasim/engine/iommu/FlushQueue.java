package dev.dmasim.engine.iommu;

import java.lang.invoke.VarHandle;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The lazy-mode flush queue of one DMA-FQ domain ({@code struct iova_fq} per CPU plus the domain's
 * {@code fq_flush_start_cnt}/{@code fq_flush_finish_cnt}): unmapped IOVAs wait here, still reachable through
 * stale IOTLB entries, until an IOTLB flush that started after they were queued has finished. Entries are
 * pfn ranges (pfns of the IOVA granule).
 *
 * <p><b>Invariant</b>: an IOVA is handed back to the allocator only when {@code entry.counter < finishCount},
 * i.e. a flush that incremented {@code startCount} past the value read at queue time has completed.
 * <b>Ordering</b>: {@link #queue} runs after the page-table entries were cleared; the full fence before it
 * reads {@code startCount} (the kernel's {@code smp_mb()}) keeps that read from moving above the clearing
 * stores, so any flush that starts after the read invalidates an IOTLB that can no longer be refilled from
 * the cleared entries. {@code startCount}/{@code finishCount} are volatile (sequentially consistent)
 * counters: flush = {@code start++}, invalidate, {@code finish++}.
 * <b>Locking</b>: one lock per ring (per CPU, uncontended unless two threads share a CPU slot); the timer
 * takes each ring's lock in turn. No global lock on the queueing path; a full ring flushes synchronously.
 */
final class FlushQueue
{
    /** Receives IOVAs whose flush has completed. */
    interface Freer
    {
        void free(long pfn, long pages, int cpu);
    }

    private static final class Ring
    {
        final ReentrantLock lock = new ReentrantLock();
        final long[] pfn;
        final long[] pages;
        final long[] counter;
        final int mask;
        final int cpu;
        int head;
        int tail;

        Ring(final int entries, final int cpu)
        {
            pfn = new long[entries];
            pages = new long[entries];
            counter = new long[entries];
            mask = entries - 1;
            this.cpu = cpu;
        }

        boolean full()
        {
            return ((tail + 1) & mask) == head;
        }
    }

    private final Ring[] rings;
    private final AtomicLong startCount = new AtomicLong();
    private final AtomicLong finishCount = new AtomicLong();
    private final AtomicBoolean timerOn = new AtomicBoolean();
    private final AtomicLong flushes = new AtomicLong();
    private final AtomicLong queued = new AtomicLong();
    private final Runnable flushIotlb;
    private final Freer freer;
    private final ScheduledExecutorService timer;
    private final long timeoutMillis;
    private final Runnable timeoutTask = this::flushTimeout;

    FlushQueue(final int cpus, final int entries, final boolean single, final long timeoutMillis,
        final Runnable flushIotlb, final Freer freer, final ScheduledExecutorService timer)
    {
        this.rings = new Ring[single ? 1 : cpus];
        for (int i = 0; i < rings.length; i++)
        {
            rings[i] = new Ring(entries, i);
        }
        this.flushIotlb = flushIotlb;
        this.freer = freer;
        this.timer = timer;
        this.timeoutMillis = timeoutMillis;
    }

    /** {@code queue_iova}: defers freeing {@code [pfn, pfn+pages)} until a later IOTLB flush completes. */
    void queue(final long pfn, final long pages, final int cpu)
    {
        VarHandle.fullFence(); // order the caller's PTE clearing before the startCount read below
        final Ring ring = rings[rings.length == 1 ? 0 : cpu];
        ring.lock.lock();
        try
        {
            ringFree(ring);
            if (ring.full())
            {
                flush();
                ringFree(ring);
            }
            final int idx = ring.tail;
            ring.pfn[idx] = pfn;
            ring.pages[idx] = pages;
            ring.counter[idx] = startCount.get();
            ring.tail = (idx + 1) & ring.mask;
        }
        finally
        {
            ring.lock.unlock();
        }
        queued.incrementAndGet();
        if (!timerOn.get() && timerOn.compareAndSet(false, true))
        {
            timer.schedule(timeoutTask, timeoutMillis, TimeUnit.MILLISECONDS);
        }
    }

    /** Frees every entry whose flush has finished; the ring's lock is held. */
    private void ringFree(final Ring ring)
    {
        final long finished = finishCount.get();
        int head = ring.head;
        while (head != ring.tail && ring.counter[head] < finished)
        {
            freer.free(ring.pfn[head], ring.pages[head], ring.cpu);
            head = (head + 1) & ring.mask;
        }
        ring.head = head;
    }

    /** {@code fq_flush_iotlb}: one domain-wide IOTLB invalidation, bracketed by the counters. */
    private void flush()
    {
        startCount.incrementAndGet();
        flushIotlb.run();
        finishCount.incrementAndGet();
        flushes.incrementAndGet();
    }

    /** {@code fq_flush_timeout}: flush once, then drain every ring. Also called to drain on demand. */
    void flushTimeout()
    {
        timerOn.set(false);
        flush();
        for (final Ring ring : rings)
        {
            ring.lock.lock();
            try
            {
                ringFree(ring);
            }
            finally
            {
                ring.lock.unlock();
            }
        }
    }

    /** @return entries still waiting (a snapshot). */
    long pending()
    {
        long n = 0;
        for (final Ring ring : rings)
        {
            ring.lock.lock();
            try
            {
                n += (ring.tail - ring.head) & ring.mask;
            }
            finally
            {
                ring.lock.unlock();
            }
        }
        return n;
    }

    /** @return IOTLB flushes this queue issued. */
    long flushes()
    {
        return flushes.get();
    }

    /** @return IOVAs queued so far. */
    long queuedTotal()
    {
        return queued.get();
    }
}
