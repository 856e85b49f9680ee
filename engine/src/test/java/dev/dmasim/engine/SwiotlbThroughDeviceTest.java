package dev.dmasim.engine;

import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

import static dev.dmasim.engine.DmaBytes.assertBytes;
import static dev.dmasim.engine.DmaBytes.cpuRead;
import static dev.dmasim.engine.DmaBytes.cpuWrite;
import static dev.dmasim.engine.DmaBytes.devRead;
import static dev.dmasim.engine.DmaBytes.devWrite;
import static dev.dmasim.engine.DmaBytes.highPage;
import static dev.dmasim.engine.DmaBytes.random;
import static dev.dmasim.engine.Device.DMA_MAPPING_ERROR;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * swiotlb as a driver meets it through {@link Device}: exhaustion with the kernel's exact log line and full
 * recovery, the 256 KiB single-mapping limit, per-CPU areas, the engine counters, and two CPUs bouncing at once
 * with every byte verified.
 */
class SwiotlbThroughDeviceTest
{
    static final String BDF = "0000:03:00.0";
    static final long POOL = 1L << 20;

    DmaEngine engine;

    @AfterEach
    void tearDown()
    {
        if (engine != null)
        {
            engine.close();
        }
    }

    private Device attach(final int cpus)
    {
        engine = DmaEngine.builder().cpus(cpus).swiotlb(SwiotlbConfig.defaults().size(POOL)).build();
        return engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
    }

    @Test
    void exhaustionFailsWithTheKernelLineAndUnmappingEverythingRecovers()
    {
        final Device dev = attach(2);
        final long buf = highPage(engine);
        final long total = engine.stats().swiotlbSlotsTotal();
        assertThat(total).isEqualTo(POOL / 2048);

        final List<Long> live = new ArrayList<>();
        long dma;
        while ((dma = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE)) != DMA_MAPPING_ERROR)
        {
            live.add(dma);
            assertThat(live.size()).as("the pool must run out").isLessThanOrEqualTo((int)total);
        }
        assertThat(live).hasSize((int)(total / 2));
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(total);
        assertThat(engine.log().lines()).containsExactly(BDF + ": swiotlb buffer is full (sz: 4096 bytes), total "
            + total + " (slots), used " + total + " (slots)");
        assertThat(engine.stats().swiotlbFailures()).isEqualTo(1);
        assertThat(engine.stats().mapErrors()).isEqualTo(1);
        assertThat(live).doesNotHaveDuplicates();

        for (final long d : live)
        {
            dev.unmapPhys(d, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        }
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        assertThat(engine.stats().swiotlbSlotsHiwater()).isEqualTo(total);
        for (int area = 0; area < engine.swiotlb().areas(); area++)
        {
            assertThat(engine.swiotlb().areaUsed(area)).isZero();
        }

        // Everything is usable again: the largest mapping fits.
        final long big = DmaBytes.pages(engine, 6, Zone.NORMAL);
        final long again = dev.mapPhys(big, 256L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(again)).isFalse();
        dev.unmapPhys(again, 256L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void aSingleRequestAbove256KiBFailsWithFreeSlots()
    {
        final Device dev = attach(2);
        final long big = DmaBytes.pages(engine, 7, Zone.NORMAL);
        final long dma = dev.mapPhys(big, (256L << 10) + 1, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dma).isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.log().lines()).containsExactly(
            BDF + ": swiotlb buffer is full (sz: 262145 bytes), total 512 (slots), used 0 (slots)");
        assertThat(dev.maxMappingSize()).as("the device was told").isEqualTo(256L << 10);

        final long ok = dev.mapPhys(big, 256L << 10, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(ok)).isFalse();
        dev.unmapPhys(ok, 256L << 10, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
    }

    @Test
    void theBoundCpuSelectsTheAreaTheSearchStartsIn()
    {
        final Device dev = attach(2);
        assertThat(engine.swiotlb().areas()).isEqualTo(2);
        final long buf = highPage(engine);

        engine.cpu().bind(1);
        final long d1 = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.swiotlb().areaUsed(1)).isEqualTo(2);
        assertThat(engine.swiotlb().areaUsed(0)).isZero();
        assertThat(d1).isGreaterThanOrEqualTo(engine.swiotlb().start() + engine.swiotlb().areaSlots() * 2048L);

        engine.cpu().bind(0);
        final long d0 = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.swiotlb().areaUsed(0)).isEqualTo(2);
        assertThat(d0).isLessThan(engine.swiotlb().start() + engine.swiotlb().areaSlots() * 2048L);

        // A full area spills into the next one.
        final List<Long> fill = new ArrayList<>();
        while (engine.swiotlb().areaUsed(0) < engine.swiotlb().areaSlots())
        {
            fill.add(dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE));
        }
        final long spilled = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(spilled)).isFalse();
        assertThat(engine.swiotlb().areaUsed(1)).isEqualTo(4);

        dev.unmapPhys(spilled, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        fill.forEach(d -> dev.unmapPhys(d, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE));
        dev.unmapPhys(d0, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(d1, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        engine.cpu().unbind();
    }

    @Test
    void countersMoveWithEveryOperation()
    {
        final Device dev = attach(2);
        final long buf = highPage(engine);
        final EngineStats s0 = engine.stats();
        assertThat(s0.maps() + s0.unmaps() + s0.bounces() + s0.bytesBounced() + s0.swiotlbSlotsUsed()).isZero();

        final long dma = dev.mapPhys(buf, 3000, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        EngineStats s = engine.stats();
        assertThat(s.maps()).isEqualTo(1);
        assertThat(s.bounces()).isEqualTo(1);
        assertThat(s.bytesBounced()).as("map copies orig->bounce").isEqualTo(3000);
        assertThat(s.swiotlbSlotsUsed()).isEqualTo(2);
        assertThat(s.swiotlbSlotsHiwater()).isEqualTo(2);

        dev.syncSingleForCpu(dma, 1000, DmaDirection.FROM_DEVICE);
        s = engine.stats();
        assertThat(s.syncs()).isEqualTo(1);
        assertThat(s.bytesBounced()).isEqualTo(4000);

        dev.syncSingleForDevice(dma, 1000, DmaDirection.FROM_DEVICE);
        assertThat(engine.stats().bytesBounced()).as("FROM_DEVICE: nothing to copy for the device").isEqualTo(4000);

        dev.unmapPhys(dma, 3000, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        s = engine.stats();
        assertThat(s.unmaps()).isEqualTo(1);
        assertThat(s.bytesBounced()).as("unmap copies bounce->orig").isEqualTo(7000);
        assertThat(s.swiotlbSlotsUsed()).isZero();
        assertThat(s.swiotlbSlotsHiwater()).isEqualTo(2);

        final long direct = dev.mapPhys(DmaBytes.lowPage(engine), 100, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(direct, 100, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        s = engine.stats();
        assertThat(s.maps()).isEqualTo(2);
        assertThat(s.unmaps()).isEqualTo(2);
        assertThat(s.bounces()).as("direct mappings do not bounce").isEqualTo(1);
        assertThat(s.mapErrors()).isZero();
        assertThat(s.debugReports()).isZero();
    }

    @Test
    void twoCpusBounceConcurrentlyWithVerifiedBytes() throws Exception
    {
        final long seed = DmaBytes.seed();
        final Device dev = attach(2);
        final int iterations = 400;
        final CyclicBarrier start = new CyclicBarrier(2);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] threads = new Thread[2];
        final long[] buffers = { DmaBytes.pages(engine, 2, Zone.NORMAL), DmaBytes.pages(engine, 2, Zone.NORMAL) };
        final DmaDirection[] dirs = { DmaDirection.BIDIRECTIONAL, DmaDirection.TO_DEVICE, DmaDirection.FROM_DEVICE };
        for (int t = 0; t < 2; t++)
        {
            final int cpu = t;
            threads[t] = new Thread(() ->
            {
                try
                {
                    engine.cpu().bind(cpu);
                    final SplittableRandom rnd = new SplittableRandom(seed + cpu);
                    final long buf = buffers[cpu];
                    start.await();
                    for (int i = 0; i < iterations; i++)
                    {
                        final int len = 1 + rnd.nextInt(16 << 10);
                        final DmaDirection dir = dirs[rnd.nextInt(3)];
                        final byte[] out = random(rnd, len);
                        cpuWrite(engine, buf, out);
                        final long dma = dev.mapPhys(buf, len, dir, DmaAttrs.NONE);
                        assertThat(dev.mappingError(dma)).as("cpu %d iteration %d seed %d", cpu, i, seed).isFalse();
                        assertThat(engine.swiotlb().isSwiotlbBuffer(dma)).isTrue();
                        final String what = "cpu " + cpu + " iteration " + i + " " + dir + " len " + len + " seed "
                            + seed;
                        assertBytes(devRead(dev, dma, len), out, what + " device read");
                        byte[] expected = out;
                        if (dir.deviceWrites())
                        {
                            expected = random(rnd, len);
                            devWrite(dev, dma, expected);
                        }
                        dev.unmapPhys(dma, len, dir, DmaAttrs.NONE);
                        assertBytes(cpuRead(engine, buf, len), expected, what + " after unmap");
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                    start.reset();
                }
            }, "dma-cpu-" + t);
            threads[t].start();
        }
        for (final Thread t : threads)
        {
            t.join(60_000);
            assertThat(t.isAlive()).as("thread finished").isFalse();
        }
        if (failure.get() != null)
        {
            throw new AssertionError("seed " + seed, failure.get());
        }
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        assertThat(engine.stats().bounces()).isEqualTo(2L * iterations);
        assertThat(engine.stats().swiotlbFailures()).isZero();
    }
}
