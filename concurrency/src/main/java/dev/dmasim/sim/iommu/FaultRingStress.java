package dev.dmasim.sim.iommu;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress tests of {@link FaultRing}, the IOMMU's MPSC fault queue on Agrona's {@code ManyToOneRingBuffer}: a
 * faulting device thread claims a slot by CAS on the tail, writes the body with plain stores and publishes it with
 * a release store of the record length ({@code commit}); the reader loads the length with acquire and reads the
 * body only when it is positive, then frees the space.
 * <p>
 * Invariants under test: a polled record is always complete, never a claimed-but-unwritten or half-written one
 * ({@link RecordThenPoll}); two faulting threads never get the same slot, so no record is lost or overwritten
 * ({@link TwoProducers}); when one slot is left, exactly one of two racing faults gets it and the other is
 * counted as dropped ({@link LastSlot}).
 * <p>
 * An exception in an actor (a broken ring can throw, e.g. Agrona's single-producer ring on a slot claimed twice)
 * is counted as a torn record (bit 0), a FORBIDDEN result rather than a test error.
 * <p>
 * Each state owns a 1 KiB ring (25 records) off-heap, which jcstress cannot see; a heap {@link #BALLAST} of the same
 * size per state keeps its footprint limit honest (as {@code TinyRam} does for simulated RAM).
 */
public final class FaultRingStress
{
    /** Bytes of heap carried per state: the ring's off-heap buffer plus Agrona's trailer. */
    static final int BALLAST = 2048;
    static final long ADDR_1 = 0x1234_5678_9abc_d000L;
    static final long ADDR_2 = 0x0fed_cba9_8765_4000L;

    private FaultRingStress()
    {
    }

    /** A ring of the smallest size with a handler that checks every field of what it is handed. */
    abstract static class Base implements FaultHandler
    {
        final FaultRing ring = new FaultRing(1);
        final byte[] ballast = new byte[BALLAST];
        /** Bit (1 << rid) for every intact record polled, bit 0 for a torn one. */
        int seen;
        int polled;
        /** Set by an actor that threw. */
        volatile boolean thrown;

        /** @return 1 if the fault was recorded, 0 if dropped or if the ring threw (then {@link #thrown} is set). */
        int record(final int rid)
        {
            try
            {
                return ring.record(rid, rid == 1 ? ADDR_1 : ADDR_2, rid, 0x10 + rid, 0x100 + rid) ? 1 : 0;
            }
            catch (final RuntimeException ex)
            {
                thrown = true;
                return 0;
            }
        }

        /** Polls up to {@code limit} records. */
        int poll(final int limit)
        {
            try
            {
                return ring.poll(this, limit);
            }
            catch (final RuntimeException ex)
            {
                thrown = true;
                return 0;
            }
        }

        /** @return the bits of the records seen, bit 0 also when an actor threw. */
        int seen()
        {
            return thrown ? seen | 1 : seen;
        }

        @Override
        public void onFault(final int requesterId, final long busAddress, final int access, final int reason,
            final int domainId, final long timestampNs)
        {
            polled++;
            final boolean intact = (requesterId == 1 || requesterId == 2)
                && busAddress == (requesterId == 1 ? ADDR_1 : ADDR_2) && access == requesterId
                && reason == 0x10 + requesterId && domainId == 0x100 + requesterId && timestampNs != 0;
            seen |= intact ? 1 << requesterId : 1;
        }
    }

    /**
     * A device thread records a fault while the reader polls. Result: (records the reader's poll got, records the
     * arbiter's poll got, bits of intact records seen (2 = the record, bit 0 = a torn one), {@code count()}).
     */
    @JCStressTest
    @Description("FaultRing: a polled record is complete (length published with release after the body)")
    @Outcome(id = {"1, 0, 2, 1", "0, 1, 2, 1"}, expect = ACCEPTABLE,
        desc = "the reader got the whole record, or nothing yet and the arbiter got it")
    @Outcome(id = ".*, .*, [013], .*", expect = FORBIDDEN,
        desc = "a record was polled before its body was written (torn), or lost")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class RecordThenPoll extends Base
    {
        /** The faulting device. */
        @Actor
        public void device()
        {
            record(1);
        }

        /** The reader. */
        @Actor
        public void reader(final IIII_Result r)
        {
            r.r1 = poll(16);
        }

        /** Drains the rest. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r2 = poll(16);
            r.r3 = seen();
            r.r4 = (int)ring.count();
        }
    }

    /**
     * Two device threads record faults at once. Result: (records polled afterwards, bits of intact records
     * (6 = both), {@code count()}, {@code dropped()}).
     */
    @JCStressTest
    @Description("FaultRing: two producers claim distinct slots: both records arrive intact")
    @Outcome(id = "2, 6, 2, 0", expect = ACCEPTABLE, desc = "both records, intact")
    @Outcome(expect = FORBIDDEN, desc = "a record was lost or overwritten (two producers claimed one slot)")
    @State
    public static class TwoProducers extends Base
    {
        /** Device 1. */
        @Actor
        public void device1()
        {
            record(1);
        }

        /** Device 2. */
        @Actor
        public void device2()
        {
            record(2);
        }

        /** Drains the ring. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r1 = poll(64);
            r.r2 = seen();
            r.r3 = (int)ring.count();
            r.r4 = (int)ring.dropped();
        }
    }

    /**
     * The ring has room for one more record and two device threads fault at once. Result: (faults recorded
     * (true returns), {@code dropped()}, records polled afterwards, bits of intact records among the racers'
     * (2 or 4: exactly one of them)).
     */
    @JCStressTest
    @Description("FaultRing: one slot left, two producers: exactly one records, the other is dropped and counted")
    @Outcome(id = {"1, 1, 25, 2", "1, 1, 25, 4"}, expect = ACCEPTABLE, desc = "one recorded, one dropped")
    @Outcome(expect = FORBIDDEN, desc = "both or neither got the slot, or the drop was not counted")
    @State
    public static class LastSlot extends Base
    {
        static final int FILL = 24;
        int ok1;
        int ok2;

        /** Fills the ring (25 records of 40 bytes in 1 KiB) up to one free slot with records of requester 3. */
        public LastSlot()
        {
            for (int i = 0; i < FILL; i++)
            {
                ring.record(3, 0, 3, 0x13, 0x103);
            }
        }

        /** Device 1. */
        @Actor
        public void device1()
        {
            ok1 = record(1);
        }

        /** Device 2. */
        @Actor
        public void device2()
        {
            ok2 = record(2);
        }

        /** Drains the ring. */
        @Arbiter
        public void arbiter(final IIII_Result r)
        {
            r.r1 = ok1 + ok2;
            r.r2 = (int)ring.dropped();
            r.r3 = poll(64);
            r.r4 = seen() & ~(1 << 3);
        }

        @Override
        public void onFault(final int requesterId, final long busAddress, final int access, final int reason,
            final int domainId, final long timestampNs)
        {
            if (requesterId == 3)
            {
                polled++;
                seen |= 1 << 3;
                return;
            }
            super.onFault(requesterId, busAddress, access, reason, domainId, timestampNs);
        }
    }
}
