package dev.dmasim.engine.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;

import static org.assertj.core.api.Assertions.assertThat;

/** Bindings survive the thread-id cache: explicit binds, unbinds, and many threads sharing cache slots. */
class CpuBindingTest
{
    @Test
    void shouldKeepExplicitBindingsAndRebindRoundRobinAfterUnbind()
    {
        final CpuBinding b = new CpuBinding(4);
        final int first = b.current();
        assertThat(b.current()).isEqualTo(first);
        b.bind(3);
        assertThat(b.current()).isEqualTo(3);
        b.bind(1);
        assertThat(b.current()).isEqualTo(1);
        b.unbind();
        final int again = b.current();
        assertThat(again).isBetween(0, 3).isEqualTo(b.current());
    }

    @Test
    void shouldGiveEveryThreadItsOwnBindingWhenThreadsCollideInTheCache() throws Exception
    {
        final int threads = 4 * CpuBinding.CACHE_SLOTS;
        final CpuBinding b = new CpuBinding(threads);
        final CyclicBarrier barrier = new CyclicBarrier(threads);
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        final Thread[] ts = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            final int cpu = i;
            ts[i] = new Thread(() ->
            {
                try
                {
                    b.bind(cpu);
                    barrier.await();
                    for (int k = 0; k < 2_000; k++)
                    {
                        if (b.current() != cpu)
                        {
                            errors.add("thread " + cpu + " saw " + b.current());
                            return;
                        }
                    }
                    b.unbind();
                    final int implicit = b.current();
                    if (b.current() != implicit)
                    {
                        errors.add("thread " + cpu + " lost its implicit binding");
                    }
                }
                catch (final Exception ex)
                {
                    errors.add(ex.toString());
                }
            });
            ts[i].start();
        }
        for (final Thread t : ts)
        {
            t.join();
        }
        assertThat(errors).isEmpty();
    }
}
