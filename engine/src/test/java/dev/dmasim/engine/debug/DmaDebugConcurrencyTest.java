package dev.dmasim.engine.debug;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.engine.ScatterList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two threads map, check, sync and unmap disjoint addresses of one device. Their 4 KiB pages interleave in the
 * same 8 KiB buckets and their device-writable mappings share the cacheline table, so bucket and table locking
 * is exercised; a lost update would show up as a false report or a left-over entry.
 */
class DmaDebugConcurrencyTest
{
    private static final int ITERATIONS = 20_000;
    private static final int OUTSTANDING = 8;

    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void shouldNotReportAnythingForTwoCorrectThreads() throws Exception
    {
        final KernelLog log = new KernelLog(10);
        final DmaDebug debug = new DmaDebug(new TestMemory(), log).allErrors(true).stackDepth(1);
        final TestDevice dev = new TestDevice("nvme", "0000:03:00.0");
        final CyclicBarrier start = new CyclicBarrier(2);

        try (ExecutorService pool = Executors.newFixedThreadPool(2))
        {
            final Future<?> a = pool.submit(() -> driver(debug, dev, 0, start));
            final Future<?> b = pool.submit(() -> driver(debug, dev, 1, start));
            a.get();
            b.get();
        }

        assertThat(debug.reports()).isEmpty();
        assertThat(debug.errorCount()).isZero();
        assertThat(log.count()).isZero();
        assertThat(debug.liveEntries()).isZero();
        assertThat(debug.liveEntries(dev)).isZero();
        assertThat(debug.dump()).isEmpty();
    }

    private static Void driver(final DmaDebug debug, final TestDevice dev, final int id, final CyclicBarrier start)
        throws Exception
    {
        // Thread 0 uses the first 4 KiB of each of buckets 0 and 1, thread 1 the second: always the same two
        // buckets, with up to OUTSTANDING live entries per thread in them.
        final DmaDirection[] dirs = {DmaDirection.BIDIRECTIONAL, DmaDirection.TO_DEVICE, DmaDirection.FROM_DEVICE};
        final long physBase = 0x100_0000L * (id + 1);
        final long[] live = new long[OUTSTANDING];
        final DmaDirection[] liveDir = new DmaDirection[OUTSTANDING];
        final ScatterList sgl = new ScatterList(2);
        final long sgDma = 0x1000L * id + 0x800;
        start.await();
        for (int i = 0; i < ITERATIONS; i++)
        {
            final int slot = i % OUTSTANDING;
            final long dma = 0x1000L * id + 0x2000L * (slot & 1) + 0x100L * (slot >> 1);
            if (liveDir[slot] != null)
            {
                debug.unmapPhys(dev, live[slot], 0x100, liveDir[slot], DmaAttrs.NONE);
            }
            final DmaDirection dir = dirs[i % 3];
            debug.mapPhys(dev, physBase + 0x1000L * slot, 0x100, dir, dma, DmaAttrs.NONE);
            debug.mappingError(dev, dma);
            debug.syncSingle(dev, dma, 0x100, dir, false);
            debug.syncSingle(dev, dma + 0x10, 0x40, dir, true);
            live[slot] = dma;
            liveDir[slot] = dir;

            if (i % 5 == 0)
            {
                sgl.set(0, physBase + 0x10_0000, 0x80).set(1, physBase + 0x10_1000, 0x80);
                sgl.setDma(0, sgDma, 0x80);
                sgl.setDma(1, sgDma + 0x80, 0x80);
                debug.mapSg(dev, sgl, 2, 2, dir, DmaAttrs.NONE);
                debug.syncSg(dev, sgl, 2, dir, false);
                debug.unmapSg(dev, sgl, 2, dir);
            }
        }
        for (int slot = 0; slot < OUTSTANDING; slot++)
        {
            debug.unmapPhys(dev, live[slot], 0x100, liveDir[slot], DmaAttrs.NONE);
        }
        return null;
    }
}
