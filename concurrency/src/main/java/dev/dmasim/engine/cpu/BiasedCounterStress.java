package dev.dmasim.engine.cpu;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link BiasedCounter}, the engine's event counters: the first thread to count claims the owner
 * field by CAS and then counts with a plain read and an opaque store of its own field; every other thread counts in
 * a {@code LongAdder}.
 * <p>
 * Invariant under test: with two threads racing for ownership on a fresh counter, exactly one owns it and no count
 * is lost ({@link RaceForOwnership}).
 */
public final class BiasedCounterStress
{
    private BiasedCounterStress()
    {
    }

    /**
     * Two threads count three events each on a fresh counter. Result: (the sum afterwards, 1 if the owner is one
     * of the two threads).
     */
    @JCStressTest
    @Description("BiasedCounter: two threads race to own a fresh counter; one owns it, no count is lost")
    @Outcome(id = "6, 1", expect = ACCEPTABLE, desc = "every count kept; one of the two owns the counter")
    @Outcome(id = "[0-5], .*", expect = FORBIDDEN,
        desc = "a count was lost: both threads counted in the owner's field (the claim was not one CAS)")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class RaceForOwnership
    {
        final BiasedCounter counter = new BiasedCounter();
        volatile Thread t1;
        volatile Thread t2;

        /** Counts three events. */
        @Actor
        public void actor1()
        {
            t1 = Thread.currentThread();
            counter.increment();
            counter.increment();
            counter.increment();
        }

        /** Counts three events. */
        @Actor
        public void actor2()
        {
            t2 = Thread.currentThread();
            counter.add(1);
            counter.add(2);
        }

        /** Sums. */
        @Arbiter
        public void arbiter(final JJ_Result r)
        {
            r.r1 = counter.sum();
            final Thread o = counter.owner();
            r.r2 = o == t1 || o == t2 ? 1 : 0;
        }
    }
}
