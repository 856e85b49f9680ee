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
    private static final int PHYS_SLOTS = 8;

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
        final long dmaBase = 0x1_0000_0000L + 0x1000L * id;       // thread 0: even pages, thread 1: odd pages
        final long physBase = 0x100_0000L * (id + 1);
        final DmaDirection[] dirs = DmaDirection.values();
        final ScatterList sgl = new ScatterList(2);
        start.await();
        for (int i = 0; i < ITERATIONS; i++)
        {
            final int slot = i % PHYS_SLOTS;
            final long dma = dmaBase + 0x2000L * (i % 4096);
            final long phys = physBase + 0x1000L * slot;
            final DmaDirection dir = dirs[i % 3];
            if (i % 5 == 0)
            {
                sgl.set(0, phys, 2048).set(1, phys + 2048, 2048);
                sgl.setDma(0, dma, 2048);
                sgl.setDma(1, dma + 2048, 2048);
                debug.mapSg(dev, sgl, 2, 2, dir, DmaAttrs.NONE);
                debug.syncSg(dev, sgl, 2, dir, true);
                debug.unmapSg(dev, sgl, 2, dir);
            }
            else
            {
                debug.mapPhys(dev, phys, 4096, dir, dma, DmaAttrs.NONE);
                debug.mappingError(dev, dma);
                debug.syncSingle(dev, dma, 4096, dir, false);
                debug.syncSingle(dev, dma + 1024, 1024, dir, true);
                debug.unmapPhys(dev, dma, 4096, dir, DmaAttrs.NONE);
            }
        }
        return null;
    }
}
