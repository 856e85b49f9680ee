package dev.dmasim.engine.cpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link BiasedCounter}: exact sums with one owner and many other threads, and owner takeover after its death. */
class BiasedCounterTest
{
    @Test
    void shouldMakeTheFirstCounterTheOwnerAndCountEveryone() throws Exception
    {
        final BiasedCounter c = new BiasedCounter();
        assertThat(c.owner()).isNull();
        assertThat(c.sum()).isZero();
        c.increment();
        c.add(4);
        c.add(-2);
        assertThat(c.owner()).isSameAs(Thread.currentThread());
        assertThat(c.sum()).isEqualTo(3);
        assertThat(c).hasToString("3");

        final int threads = 4;
        final int perThread = 200_000;
        final CyclicBarrier start = new CyclicBarrier(threads + 1);
        final List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final Thread w = new Thread(() ->
            {
                await(start);
                for (int i = 0; i < perThread; i++)
                {
                    c.increment();
                }
            });
            w.start();
            workers.add(w);
        }
        await(start);
        for (int i = 0; i < perThread; i++)
        {
            c.increment(); // the owner counts concurrently with the others
        }
        for (final Thread w : workers)
        {
            w.join();
        }
        assertThat(c.owner()).as("a live owner keeps its place").isSameAs(Thread.currentThread());
        assertThat(c.sum()).isEqualTo(3 + (long)(threads + 1) * perThread);
    }

    @Test
    void shouldHandOwnershipOnOnlyWhenTheOwnerHasDiedAndKeepItsCounts() throws Exception
    {
        final BiasedCounter c = new BiasedCounter();
        final Thread first = new Thread(() ->
        {
            for (int i = 0; i < 1000; i++)
            {
                c.increment();
            }
        });
        first.start();
        first.join();
        assertThat(c.owner()).isSameAs(first);
        assertThat(c.sum()).isEqualTo(1000);

        // Several threads race to take over from the dead owner: one wins, nothing is lost.
        final int threads = 3;
        final CyclicBarrier start = new CyclicBarrier(threads);
        final List<Thread> racers = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final Thread r = new Thread(() ->
            {
                await(start);
                for (int i = 0; i < 50_000; i++)
                {
                    c.increment();
                }
            });
            r.start();
            racers.add(r);
        }
        for (final Thread r : racers)
        {
            r.join();
        }
        assertThat(racers).contains(c.owner());
        assertThat(c.sum()).isEqualTo(1000 + threads * 50_000L);

        // Every racer has died too: the next thread to count takes over.
        c.increment();
        assertThat(c.owner()).isSameAs(Thread.currentThread());
        assertThat(c.sum()).isEqualTo(1001 + threads * 50_000L);
    }

    private static void await(final CyclicBarrier b)
    {
        try
        {
            b.await();
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
