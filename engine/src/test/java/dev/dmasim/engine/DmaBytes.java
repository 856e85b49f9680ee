package dev.dmasim.engine;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.Zone;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Test helpers that move bytes the way a driver (CPU side, {@code engine.memory()}) and its hardware (device side,
 * {@code dev.bus()}) do, and a seed source: every randomised test takes {@link #seed()} and names it in its
 * assertion messages; {@code -Ddmasim.test.seed=N} replays a run.
 */
final class DmaBytes
{
    private DmaBytes()
    {
    }

    /** @return the seed for a randomised test: {@code -Ddmasim.test.seed} or a fresh one. */
    static long seed()
    {
        return Long.getLong("dmasim.test.seed", System.nanoTime());
    }

    /** @return {@code n} random bytes, none of them zero (so a zeroed or unwritten buffer never matches). */
    static byte[] random(final SplittableRandom rnd, final int n)
    {
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (byte)(1 + rnd.nextInt(255));
        }
        return b;
    }

    /** @return {@code n} bytes of {@code value}. */
    static byte[] filled(final int n, final int value)
    {
        final byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte)value);
        return b;
    }

    /**
     * Asserts {@code actual} equals {@code expected}, reporting the first differing index instead of both arrays.
     *
     * @param what description (with the seed) for the failure message.
     */
    static void assertBytes(final byte[] actual, final byte[] expected, final String what)
    {
        final int mismatch = java.util.Arrays.mismatch(actual, expected);
        if (mismatch >= 0)
        {
            final String detail = mismatch >= Math.min(actual.length, expected.length)
                ? "length " + actual.length + " != " + expected.length
                : "byte " + mismatch + " is " + actual[mismatch] + ", expected " + expected[mismatch] + " (" +
                countDiffs(actual, expected) + " bytes differ)";
            throw new AssertionError(what + ": " + detail);
        }
    }

    private static int countDiffs(final byte[] a, final byte[] b)
    {
        int n = 0;
        for (int i = 0; i < Math.min(a.length, b.length); i++)
        {
            n += a[i] != b[i] ? 1 : 0;
        }
        return n;
    }

    /** The CPU stores {@code bytes} at {@code phys}. */
    static void cpuWrite(final DmaEngine engine, final long phys, final byte[] bytes)
    {
        assertThat(engine.memory().write(phys, MemorySegment.ofArray(bytes))).as("CPU write at 0x%x", phys)
            .isEqualTo(MemTx.OK);
    }

    /** @return {@code n} bytes the CPU loads from {@code phys}. */
    static byte[] cpuRead(final DmaEngine engine, final long phys, final int n)
    {
        final byte[] b = new byte[n];
        assertThat(engine.memory().read(phys, MemorySegment.ofArray(b))).as("CPU read at 0x%x", phys)
            .isEqualTo(MemTx.OK);
        return b;
    }

    /** @return {@code n} bytes the device reads by DMA at bus address {@code dma} (asserting the transfer worked). */
    static byte[] devRead(final Device dev, final long dma, final int n)
    {
        final byte[] b = new byte[n];
        assertThat(dev.bus().dmaRead(dma, MemorySegment.ofArray(b))).as("device read at 0x%x", dma)
            .isEqualTo(MemTx.OK);
        return b;
    }

    /** The device writes {@code bytes} by DMA at bus address {@code dma} (asserting the transfer worked). */
    static void devWrite(final Device dev, final long dma, final byte[] bytes)
    {
        assertThat(dev.bus().dmaWrite(dma, MemorySegment.ofArray(bytes))).as("device write at 0x%x", dma)
            .isEqualTo(MemTx.OK);
    }

    /** @return a block of {@code 1 << order} pages in {@code zone}, asserting it really lies there. */
    static long pages(final DmaEngine engine, final int order, final Zone zone)
    {
        final long phys = engine.pages().allocPages(order, zone);
        assertThat(phys).as("allocPages(%d, %s)", order, zone).isNotEqualTo(PageAllocator.NO_PAGE);
        assertThat(Zone.of(phys)).as("zone of 0x%x", phys).isEqualTo(zone);
        return phys;
    }

    /** @return a page above 4 GiB (beyond a 32-bit device's reach) on the default machine. */
    static long highPage(final DmaEngine engine)
    {
        return pages(engine, 0, Zone.NORMAL);
    }

    /** @return a page below 4 GiB (and above 16 MiB) on the default machine. */
    static long lowPage(final DmaEngine engine)
    {
        return pages(engine, 0, Zone.DMA32);
    }
}
