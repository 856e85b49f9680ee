package dev.dmasim.sim.mem;

import java.lang.foreign.MemorySegment;

import dev.dmasim.concurrency.TinyRam;

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
 * jcstress tests of {@link PhysAddressSpace}, the sparse simulated RAM: chunks allocated on first touch under a
 * striped lock with a re-check and published by a {@code setRelease} of the directory slot, read with
 * {@code getAcquire} (see "Chunk publication" in the class comment).
 * <p>
 * Invariants under test:
 * <ul>
 *   <li>two threads touching the same untouched chunk for the first time lose no write: the slot goes from null
 *       to a segment exactly once ({@link FirstTouch});</li>
 *   <li>{@link PhysAddressSpace#putLongRelease} seen by {@link PhysAddressSpace#getLongAcquire} publishes the
 *       writer's earlier plain writes, even when both words sit in chunks neither thread had touched
 *       ({@link MessagePassing}).</li>
 * </ul>
 * Each state owns a 128 KiB space (two 64 KiB chunks) and closes it in its arbiter (see {@link TinyRam}).
 */
public final class PhysAddressSpaceStress
{
    static final long RAM = 2 * TinyRam.CHUNK;
    /** The 8 bytes of the long 2 (native order, as {@code getLong} reads them); only ever read. */
    static final MemorySegment TWO = MemorySegment.ofArray(new long[] {2});

    private PhysAddressSpaceStress()
    {
    }

    /**
     * {@link PhysAddressSpace#putLong} from two threads into the same untouched chunk (different words): both
     * threads take the first-touch path. Result: (word written by actor 1, word written by actor 2), read after
     * both finished.
     */
    @JCStressTest
    @Description("PhysAddressSpace first touch: two threads allocating the same chunk lose no write")
    @Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "both writes landed in the one chunk that was published")
    @Outcome(id = {"0, 2", "1, 0", "0, 0"}, expect = FORBIDDEN,
        desc = "a write was lost: it went into a chunk that a racing first touch then replaced")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class FirstTouch
    {
        final PhysAddressSpace mem = TinyRam.create(RAM);
        final byte[] ballast = TinyRam.ballast(RAM);

        /** First touch at the start of chunk 0. */
        @Actor
        public void actor1()
        {
            mem.putLong(0x0, 1);
        }

        /** First touch of the same chunk, another word, by a bulk write (the other first-touch entry point). */
        @Actor
        public void actor2()
        {
            mem.write(0x1008, TWO, 0, Long.BYTES);
        }

        /** Reads both words, then frees the space's native memory. */
        @Arbiter
        public void arbiter(final JJ_Result r)
        {
            r.r1 = mem.getLong(0x0);
            r.r2 = mem.getLong(0x1008);
            mem.close();
        }
    }

    /**
     * Message passing through simulated RAM: the writer stores data (plain {@code putLong}) in chunk 0, then a
     * flag with {@link PhysAddressSpace#putLongRelease} in chunk 1; the reader loads the flag with
     * {@link PhysAddressSpace#getLongAcquire} and then the data with a plain {@code getLong}. Neither chunk is
     * touched beforehand, so chunk publication is part of the path. Result: (flag, data) seen by the reader.
     */
    @JCStressTest
    @Description("PhysAddressSpace putLongRelease / getLongAcquire: a seen flag publishes the earlier data write")
    @Outcome(id = {"0, 0", "0, 42"}, expect = ACCEPTABLE, desc = "the reader did not see the flag yet")
    @Outcome(id = "1, 42", expect = ACCEPTABLE, desc = "flag seen, and with it the data")
    @Outcome(id = "1, 0", expect = FORBIDDEN,
        desc = "flag seen but not the data written before it: release/acquire pairing (or chunk publication) broken")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class MessagePassing
    {
        static final long DATA = 0x40;
        static final long FLAG = TinyRam.CHUNK + 0x80;

        final PhysAddressSpace mem = TinyRam.create(RAM);
        final byte[] ballast = TinyRam.ballast(RAM);

        /** Producer: data, then the release store of the flag. */
        @Actor
        public void writer()
        {
            mem.putLong(DATA, 42);
            mem.putLongRelease(FLAG, 1);
        }

        /** Consumer: acquire load of the flag, then the data. */
        @Actor
        public void reader(final JJ_Result r)
        {
            r.r1 = mem.getLongAcquire(FLAG);
            r.r2 = mem.getLong(DATA);
        }

        /** Frees the space's native memory. */
        @Arbiter
        public void arbiter()
        {
            mem.close();
        }
    }
}
