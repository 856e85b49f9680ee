package dev.dmasim.engine.cpu;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link CpuBinding}: the per-thread CPU slot that every per-CPU structure (IOVA magazines,
 * flush-queue rings, swiotlb areas) is indexed by.
 * <p>
 * Invariants: a thread's slot never changes between two {@link CpuBinding#current()} calls unless it re-binds;
 * implicit first-use binding is round-robin ({@code getAndIncrement} of one counter), so with two CPUs two
 * threads binding for the first time get different slots.
 */
public final class CpuBindingStress
{
    private CpuBindingStress()
    {
    }

    /**
     * {@link CpuBinding#current()}: two threads bind implicitly (first call) and call it again.
     * Result: (first, second) CPU of actor 1, (first, second) CPU of actor 2, with {@code cpus = 2}.
     */
    @JCStressTest
    @Description("CpuBinding.current(): implicit binding from two threads is stable per thread and round-robin")
    @Outcome(id = {"0, 0, 1, 1", "1, 1, 0, 0"}, expect = ACCEPTABLE,
        desc = "each thread keeps its slot; the two first uses took consecutive round-robin slots")
    @Outcome(id = {"0, 0, 0, 0", "1, 1, 1, 1"}, expect = FORBIDDEN,
        desc = "both threads got the same slot: the round-robin counter lost an increment")
    @Outcome(expect = FORBIDDEN, desc = "a thread's slot changed between two calls without a re-bind")
    @State
    public static class ImplicitBindingIsStable
    {
        final CpuBinding binding = new CpuBinding(2);

        /** A thread that was never bound: binds on first use, then must see the same slot. */
        @Actor
        public void actor1(final IIII_Result r)
        {
            r.r1 = binding.current();
            r.r2 = binding.current();
        }

        /** The other thread, racing for the round-robin counter. */
        @Actor
        public void actor2(final IIII_Result r)
        {
            r.r3 = binding.current();
            r.r4 = binding.current();
        }
    }
}
