package dev.dmasim.engine;

import dev.dmasim.sim.cache.CpuCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaBytes.assertBytes;
import static dev.dmasim.engine.DmaBytes.cpuRead;
import static dev.dmasim.engine.DmaBytes.cpuWrite;
import static dev.dmasim.engine.DmaBytes.devWrite;
import static dev.dmasim.engine.DmaBytes.highPage;
import static dev.dmasim.engine.DmaBytes.lowPage;
import static dev.dmasim.engine.DmaBytes.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cache maintenance for non-coherent devices (arm64 semantics): clean for the device on map and sync-for-device
 * in every direction, invalidate for the CPU on unmap and sync-for-cpu unless the device only read, on the right
 * physical ranges (the bounce buffer when bounced), never for coherent devices, MMIO or SKIP_CPU_SYNC; and the
 * order relative to bounce copies: invalidate before the bounce-to-original copy, original-to-bounce copy before
 * the clean. A recording {@link CpuCache} snapshots a watched range at each call to prove the order.
 */
class NonCoherentSyncTest
{
    static final String BDF = "0000:03:00.0";
    static final int SIZE = 4096;

    /** One cache operation, with the watched bytes as they were when it was called. */
    record Op(String kind, long phys, long len, byte[] watched)
    {
        @Override
        public String toString()
        {
            return kind + "(0x" + Long.toHexString(phys) + ", " + len + ")";
        }
    }

    /** Records clean/invalidate calls; thread-safe enough for one test thread. */
    static final class RecordingCache implements CpuCache
    {
        final List<Op> ops = new ArrayList<>();
        DmaEngine engine;
        long watch;
        int watchLen;

        @Override
        public synchronized void clean(final long phys, final long len)
        {
            ops.add(new Op("clean", phys, len, snapshot()));
        }

        @Override
        public synchronized void invalidate(final long phys, final long len)
        {
            ops.add(new Op("invalidate", phys, len, snapshot()));
        }

        private byte[] snapshot()
        {
            return watchLen == 0 ? null : cpuRead(engine, watch, watchLen);
        }

        synchronized List<String> drain()
        {
            final List<String> out = ops.stream().map(Op::toString).toList();
            ops.clear();
            return out;
        }

        synchronized Op single()
        {
            assertThat(ops).hasSize(1);
            final Op op = ops.get(0);
            ops.clear();
            return op;
        }
    }

    final RecordingCache cache = new RecordingCache();
    DmaEngine engine;

    @AfterEach
    void tearDown()
    {
        if (engine != null)
        {
            engine.close();
        }
    }

    private Device attach(final SwiotlbConfig swiotlb, final DeviceConfig config)
    {
        engine = DmaEngine.builder().swiotlb(swiotlb).cache(cache).build();
        cache.engine = engine;
        return engine.attach(config);
    }

    private static String op(final String kind, final long phys, final long len)
    {
        return kind + "(0x" + Long.toHexString(phys) + ", " + len + ")";
    }

    @ParameterizedTest
    @EnumSource(value = DmaDirection.class, names = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" })
    void directMappingCleansForTheDeviceAndInvalidatesForTheCpu(final DmaDirection dir)
    {
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).coherent(false));
        final long buf = lowPage(engine);
        final long dma = dev.mapPhys(buf, SIZE, dir, DmaAttrs.NONE);
        assertThat(dma).isEqualTo(buf);
        assertThat(cache.drain()).as("map").containsExactly(op("clean", buf, SIZE));
        assertThat(dev.needSync(dma)).as("non-coherent devices always need syncs").isTrue();

        dev.syncSingleForDevice(dma + 512, 1024, dir);
        assertThat(cache.drain()).as("partial sync for device").containsExactly(op("clean", buf + 512, 1024));

        dev.syncSingleForCpu(dma + 512, 1024, dir);
        assertThat(cache.drain()).as("partial sync for cpu")
            .isEqualTo(dir == DmaDirection.TO_DEVICE ? List.of() : List.of(op("invalidate", buf + 512, 1024)));

        dev.unmapPhys(dma, SIZE, dir, DmaAttrs.NONE);
        assertThat(cache.drain()).as("unmap")
            .isEqualTo(dir == DmaDirection.TO_DEVICE ? List.of() : List.of(op("invalidate", buf, SIZE)));
    }

    @Test
    void skipCpuSyncMmioAndCoherentDevicesTouchNoCache()
    {
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).coherent(false));
        final long buf = lowPage(engine);
        final long dma = dev.mapPhys(buf, SIZE, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        dev.unmapPhys(dma, SIZE, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        assertThat(cache.drain()).as("SKIP_CPU_SYNC").isEmpty();

        final long bar = dev.mapResource(Machines.DEFAULT_BAR_BASE, 13, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        dev.unmapResource(bar, 13, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(cache.drain()).as("MMIO").isEmpty();

        final Device coherent = engine.attach(DeviceConfig.pci("0000:05:00.0"));
        final long c = coherent.mapPhys(buf, SIZE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        coherent.syncSingleForCpu(c, SIZE, DmaDirection.BIDIRECTIONAL);
        coherent.syncSingleForDevice(c, SIZE, DmaDirection.BIDIRECTIONAL);
        coherent.unmapPhys(c, SIZE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(cache.drain()).as("coherent").isEmpty();
    }

    @Test
    void bouncedMappingCleansTheBounceBufferAfterFillingIt()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32).coherent(false));
        final long buf = highPage(engine);
        final byte[] first = random(rnd, SIZE);
        cpuWrite(engine, buf, first);
        // The first mapping lands at the start of area 0 of this thread's CPU: watch the pool there.
        final long tlb0 = engine.swiotlb().start() + (long)(engine.cpu().current() & (engine.swiotlb().areas() - 1))
            * engine.swiotlb().areaSlots() * 2048;
        cache.watch = tlb0;
        cache.watchLen = SIZE;

        final long dma = dev.mapPhys(buf, SIZE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dma).isEqualTo(tlb0);
        final Op map = cache.single();
        assertThat(map.toString()).as("clean the bounce buffer, not the original").isEqualTo(op("clean", dma, SIZE));
        assertBytes(map.watched(), first, "bounce filled before the clean, seed " + seed);

        final byte[] second = random(rnd, SIZE);
        cpuWrite(engine, buf, second);
        dev.syncSingleForDevice(dma, SIZE, DmaDirection.TO_DEVICE);
        final Op sync = cache.single();
        assertThat(sync.toString()).isEqualTo(op("clean", dma, SIZE));
        assertBytes(sync.watched(), second, "orig->bounce copy before the clean, seed " + seed);

        dev.unmapPhys(dma, SIZE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(cache.drain()).as("TO_DEVICE: no invalidate at unmap").isEmpty();
    }

    @Test
    void bouncedMappingInvalidatesBeforeCopyingBack()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32).coherent(false));
        final long buf = highPage(engine);
        final byte[] orig = random(rnd, SIZE);
        cpuWrite(engine, buf, orig);
        cache.watch = buf;
        cache.watchLen = SIZE;

        final long dma = dev.mapPhys(buf, SIZE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(cache.drain()).as("map cleans the bounce buffer (every direction)")
            .containsExactly(op("clean", dma, SIZE));

        final byte[] rx1 = random(rnd, SIZE);
        devWrite(dev, dma, rx1);
        dev.syncSingleForCpu(dma, SIZE, DmaDirection.FROM_DEVICE);
        final Op sync = cache.single();
        assertThat(sync.toString()).as("invalidate the bounce buffer").isEqualTo(op("invalidate", dma, SIZE));
        assertBytes(sync.watched(), orig, "invalidate ran before the bounce->orig copy, seed " + seed);
        assertBytes(cpuRead(engine, buf, SIZE), rx1, "then the copy, seed " + seed);

        final byte[] rx2 = random(rnd, SIZE);
        devWrite(dev, dma, rx2);
        dev.unmapPhys(dma, SIZE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        final Op unmap = cache.single();
        assertThat(unmap.toString()).isEqualTo(op("invalidate", dma, SIZE));
        assertBytes(unmap.watched(), rx1, "invalidate ran before the copy-back at unmap, seed " + seed);
        assertBytes(cpuRead(engine, buf, SIZE), rx2, "seed " + seed);
    }

    @Test
    void scatterGatherSyncsEverySegment()
    {
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).coherent(false));
        final long a = lowPage(engine);
        final long b = lowPage(engine);
        final ScatterList sgl = new ScatterList(2).set(0, a + 64, 1000).set(1, b, 4096);
        assertThat(dev.mapSg(sgl, 2, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE)).isEqualTo(2);
        assertThat(cache.drain()).containsExactly(op("clean", a + 64, 1000), op("clean", b, 4096));
        dev.syncSgForCpu(sgl, 2, DmaDirection.BIDIRECTIONAL);
        assertThat(cache.drain()).containsExactly(op("invalidate", a + 64, 1000), op("invalidate", b, 4096));
        dev.syncSgForDevice(sgl, 2, DmaDirection.BIDIRECTIONAL);
        assertThat(cache.drain()).containsExactly(op("clean", a + 64, 1000), op("clean", b, 4096));
        dev.unmapSg(sgl, 2, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(cache.drain()).containsExactly(op("invalidate", a + 64, 1000), op("invalidate", b, 4096));
    }
}
