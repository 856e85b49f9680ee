package dev.dmasim.engine.iommu;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;

import static org.assertj.core.api.Assertions.assertThat;

/** The flush queue's gating rule in isolation: an entry is freed only after a flush that started after it. */
class FlushQueueTest
{
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
    private final List<Long> freed = new ArrayList<>();
    private int flushes;
    private Runnable duringFlush = () -> { };

    @AfterEach
    void stop()
    {
        timer.shutdownNow();
    }

    private FlushQueue queue(final int cpus, final int entries, final boolean single)
    {
        return new FlushQueue(cpus, entries, single, 600_000, () ->
        {
            flushes++;
            duringFlush.run();
        }, (pfn, pages, cpu) -> freed.add(pfn), timer);
    }

    @Test
    void shouldFreeNothingBeforeAFlushAndEverythingAfter()
    {
        final FlushQueue fq = queue(2, 8, false);
        fq.queue(10, 1, 0);
        fq.queue(20, 1, 1);
        fq.queue(30, 2, 0);
        assertThat(freed).isEmpty();
        assertThat(fq.pending()).isEqualTo(3);
        fq.flushTimeout();
        assertThat(flushes).isEqualTo(1);
        assertThat(freed).containsExactly(10L, 30L, 20L);
        assertThat(fq.pending()).isZero();
    }

    @Test
    void shouldFlushSynchronouslyWhenARingIsFull()
    {
        final FlushQueue fq = queue(1, 4, false); // 3 usable slots
        fq.queue(1, 1, 0);
        fq.queue(2, 1, 0);
        fq.queue(3, 1, 0);
        assertThat(flushes).isZero();
        fq.queue(4, 1, 0);
        assertThat(flushes).isEqualTo(1);
        assertThat(freed).containsExactly(1L, 2L, 3L);
        assertThat(fq.pending()).isEqualTo(1);
    }

    @Test
    void shouldNotFreeAnEntryQueuedWhileAFlushRuns()
    {
        final FlushQueue fq = queue(1, 8, false);
        fq.queue(1, 1, 0);
        duringFlush = () ->
        {
            duringFlush = () -> { };
            fq.queue(2, 1, 0); // its PTEs were cleared after this flush's invalidation may have passed them
        };
        fq.flushTimeout();
        assertThat(freed).containsExactly(1L);
        assertThat(fq.pending()).isEqualTo(1);
        fq.flushTimeout();
        assertThat(freed).containsExactly(1L, 2L);
    }

    @Test
    void shouldShareOneRingAcrossCpusWhenSingle()
    {
        final FlushQueue fq = queue(4, 4, true);
        fq.queue(1, 1, 0);
        fq.queue(2, 1, 1);
        fq.queue(3, 1, 2);
        fq.queue(4, 1, 3);
        assertThat(flushes).as("three slots shared by four CPUs").isEqualTo(1);
        assertThat(freed).containsExactly(1L, 2L, 3L);
    }
}
