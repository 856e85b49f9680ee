package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.EngineStats;
import dev.dmasim.engine.FlushQueueConfig;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.iommu.InvalidationCost;
import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaDirection.BIDIRECTIONAL;
import static dev.dmasim.engine.DmaDirection.TO_DEVICE;
import static dev.dmasim.engine.iommu.IommuTestSupport.PAGE;
import static dev.dmasim.engine.iommu.IommuTestSupport.alloc;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadOk;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadRc;
import static dev.dmasim.engine.iommu.IommuTestSupport.fill;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The lifetime guarantees of the two translated modes, seen from the device: strict closes the window before
 * {@code unmapPhys} returns (one IOTLB invalidation per unmap); lazy leaves stale IOTLB entries usable, and
 * counted, until a flush, and never hands an IOVA out again before a flush that started after its unmap has
 * finished (256-entry rings, 10 ms timer, or one global queue).
 */
class StrictLazyTest
{
    private static final long SEED = 0x57A1E_0001L;
    /** A timer that never fires within a test: flushes happen only when a ring fills or on demand. */
    private static final FlushQueueConfig NO_TIMER = new FlushQueueConfig(FlushQueueConfig.DEFAULT_SIZE, 600_000,
        false);

    private static DmaEngine lazy(final FlushQueueConfig fq)
    {
        return DmaEngine.builder().cpus(1).iommu(IommuMode.LAZY).flushQueue(fq).build();
    }

    @Test
    void shouldFaultEveryDeviceAccessAfterAStrictUnmap()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT)
            .iommuConfig(IommuConfig.defaults().withInvalidationCost(InvalidationCost.SMMUV3)).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 5); // 128 KiB
            final byte[] data = fill(engine, buf, 128 << 10, rnd);
            final ScatterList sgl = new ScatterList(4);
            for (int i = 0; i < 2000; i++)
            {
                final long off = rnd.nextLong(4096);
                final int len = 1 + rnd.nextInt(64 << 10);
                final long dma;
                final int ents;
                if (rnd.nextBoolean())
                {
                    dma = dev.mapPhys(buf + off, len, BIDIRECTIONAL, 0);
                    ents = 0;
                }
                else
                {
                    sgl.set(0, buf + off, len).set(1, buf + (64 << 10), 4096);
                    ents = dev.mapSg(sgl, 2, BIDIRECTIONAL, 0);
                    assertThat(ents).as("seed %x iteration %d", SEED, i).isPositive();
                    dma = sgl.dmaAddress(0);
                }
                assertThat(dma).as("seed %x iteration %d", SEED, i).isNotEqualTo(-1L);
                final byte[] got = devReadOk(dev, dma, len); // fills the IOTLB
                assertThat(got).as("seed %x iteration %d", SEED, i)
                    .isEqualTo(java.util.Arrays.copyOfRange(data, (int)off, (int)off + len));
                if (ents == 0)
                {
                    dev.unmapPhys(dma, len, BIDIRECTIONAL, 0);
                }
                else
                {
                    dev.unmapSg(sgl, 2, BIDIRECTIONAL, 0);
                }
                assertThat(devReadRc(dev, dma, 1)).as("seed %x iteration %d: use after strict unmap", SEED, i)
                    .isEqualTo(MemTx.TRANSLATION_FAULT);
                assertThat(devReadRc(dev, dma + len - 1, 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
            }
            final EngineStats s = engine.stats();
            assertThat(s.unmaps() + s.sgUnmaps()).isEqualTo(2000);
            assertThat((double)s.strictInvalidations() / (s.unmaps() + s.sgUnmaps())).isEqualTo(1.0);
            assertThat(s.iotlbInvalidations()).as("nothing but the strict ones").isEqualTo(2000);
            assertThat(s.staleHits()).isZero();
            assertThat(s.lazyFlushes()).isZero();
            assertThat(s.faults()).isEqualTo(4000);
            assertThat(dev.iovaRangesInUse()).isZero();
        }
    }

    @Test
    void shouldKeepAStaleIotlbEntryUsableUntilTheFlush()
    {
        try (DmaEngine engine = lazy(NO_TIMER))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 0);
            final byte[] data = fill(engine, buf, (int)PAGE, new SplittableRandom(SEED));
            final long dma = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
            assertThat(devReadOk(dev, dma, (int)PAGE)).isEqualTo(data);
            dev.unmapPhys(dma, PAGE, TO_DEVICE, 0);
            assertThat(engine.stats().pendingFlushes()).isEqualTo(1);
            assertThat(dev.iovaRangesInUse()).as("queued, not free").isEqualTo(1);

            assertThat(devReadOk(dev, dma, (int)PAGE)).as("the lazy exposure window").isEqualTo(data);
            assertThat(devReadOk(dev, dma + 8, 8)).hasSize(8);
            assertThat(engine.stats().staleHits()).isEqualTo(2);

            engine.flushQueues();
            assertThat(devReadRc(dev, dma, 8)).isEqualTo(MemTx.TRANSLATION_FAULT);
            final EngineStats s = engine.stats();
            assertThat(s.staleHits()).as("no stale hit after the flush").isEqualTo(2);
            assertThat(s.lazyFlushes()).isEqualTo(1);
            assertThat(s.pendingFlushes()).isZero();
            assertThat(s.strictInvalidations()).isZero();
            assertThat(dev.iovaRangesInUse()).isZero();
        }
    }

    @Test
    void shouldNeverReuseAnIovaBeforeItsFlushFinished()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = lazy(NO_TIMER))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long[] bufs = { alloc(engine, 0), alloc(engine, 0) };
            final byte[][] data = { fill(engine, bufs[0], (int)PAGE, rnd), fill(engine, bufs[1], (int)PAGE, rnd) };
            final Map<Long, Long> flushesAtUnmap = new HashMap<>();
            int reused = 0;
            for (int i = 0; i < 300; i++)
            {
                final int b = i & 1;
                final long dma = dev.mapPhys(bufs[b], PAGE, TO_DEVICE, 0);
                final Long at = flushesAtUnmap.remove(dma);
                if (at != null)
                {
                    reused++;
                    assertThat(engine.stats().lazyFlushes()).as("iteration %d reuses 0x%x", i, dma).isGreaterThan(at);
                }
                assertThat(devReadOk(dev, dma, (int)PAGE)).as("iteration %d: never the previous page", i)
                    .isEqualTo(data[b]);
                dev.unmapPhys(dma, PAGE, TO_DEVICE, 0);
                flushesAtUnmap.put(dma, engine.stats().lazyFlushes());
            }
            final EngineStats s = engine.stats();
            assertThat(s.lazyFlushes()).as("the 256th queued unmap found the ring full").isEqualTo(1);
            assertThat(reused).isPositive();
            assertThat(s.pendingFlushes()).isEqualTo(300 - 255);
            engine.flushQueues();
            assertThat(dev.iovaRangesInUse()).isZero();
        }
    }

    @Test
    void shouldFlushOnTheTimeout() throws InterruptedException
    {
        try (DmaEngine engine = lazy(new FlushQueueConfig(FlushQueueConfig.DEFAULT_SIZE, 1, false)))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 0);
            final long dma = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
            devReadOk(dev, dma, 64);
            dev.unmapPhys(dma, PAGE, TO_DEVICE, 0);
            for (int i = 0; i < 10_000 && engine.stats().pendingFlushes() != 0; i++)
            {
                Thread.sleep(1); // liveness only: the timer must run at some point
            }
            assertThat(engine.stats().pendingFlushes()).isZero();
            assertThat(engine.stats().lazyFlushes()).isGreaterThanOrEqualTo(1);
            assertThat(devReadRc(dev, dma, 8)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(dev.iovaRangesInUse()).isZero();
        }
    }

    @Test
    void shouldQueueEveryCpuInOneRingWithTheSingleQueue() throws InterruptedException
    {
        final FlushQueueConfig single = FlushQueueConfig.singleQueue();
        assertThat(single.entries()).isEqualTo(32768);
        assertThat(single.timeoutMillis()).isEqualTo(1000);
        assertThat(single.single()).isTrue();
        try (DmaEngine engine = DmaEngine.builder().cpus(2).iommu(IommuMode.LAZY)
            .flushQueue(new FlushQueueConfig(single.entries(), 600_000, true)).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 0);
            final Runnable work = () ->
            {
                for (int i = 0; i < 600; i++)
                {
                    dev.unmapPhys(dev.mapPhys(buf, PAGE, TO_DEVICE, 0), PAGE, TO_DEVICE, 0);
                }
            };
            for (int cpu = 0; cpu < 2; cpu++)
            {
                final int c = cpu;
                final Thread t = new Thread(() ->
                {
                    engine.cpu().bind(c);
                    work.run();
                });
                t.start();
                t.join();
            }
            assertThat(engine.stats().lazyFlushes()).as("1200 entries fit one 32768-entry ring").isZero();
            assertThat(engine.stats().pendingFlushes()).isEqualTo(1200);
            engine.flushQueues();
            assertThat(engine.stats().lazyFlushes()).isEqualTo(1);
            assertThat(dev.iovaRangesInUse()).isZero();
        }
        try (DmaEngine engine = DmaEngine.builder().cpus(2).iommu(IommuMode.LAZY).flushQueue(NO_TIMER).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 0);
            for (int i = 0; i < 600; i++)
            {
                dev.unmapPhys(dev.mapPhys(buf, PAGE, TO_DEVICE, 0), PAGE, TO_DEVICE, 0);
            }
            assertThat(engine.stats().lazyFlushes()).as("per-CPU rings of 256 do flush").isEqualTo(2);
        }
    }

    @Test
    void shouldIssueAtMostOneInvalidationPer128UnmapsOverALongLazyRun()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = lazy(NO_TIMER))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 4);
            final long[] live = new long[8];
            final long[] size = new long[8];
            int unmaps = 0;
            for (int i = 0; i < 20_000; i++)
            {
                final int slot = rnd.nextInt(live.length);
                if (live[slot] != 0)
                {
                    dev.unmapPhys(live[slot], size[slot], TO_DEVICE, 0);
                    unmaps++;
                }
                size[slot] = 1 + rnd.nextLong(64 << 10);
                live[slot] = dev.mapPhys(buf, size[slot], TO_DEVICE, 0);
                assertThat(live[slot]).as("seed %x iteration %d", SEED, i).isNotEqualTo(-1L);
            }
            final EngineStats s = engine.stats();
            assertThat(s.strictInvalidations()).isZero();
            assertThat((double)s.iotlbInvalidations() / unmaps).as("%s over %d unmaps", s.iotlbInvalidations(), unmaps)
                .isLessThanOrEqualTo(1.0 / 128);
            assertThat(s.lazyFlushes()).isPositive();
            assertThat(s.rcacheHits()).as("reuse comes from the magazines").isGreaterThan(unmaps / 2);
        }
    }
}
