package dev.dmasim.engine.check;

import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.FlushQueueConfig;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.engine.check.CheckReport.Kind;
import dev.dmasim.sim.cache.CacheConfig;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CPU cache model seen through the engine (stale bytes when a driver forgets a sync on a non-coherent
 * device, right bytes with the syncs, coherent devices unaffected) and every checker triggered on purpose.
 */
class DmaChecksTest
{
    private static final long PAGE = 4096;
    private DmaEngine engine;

    @AfterEach
    void close()
    {
        if (engine != null)
        {
            engine.close();
        }
    }

    private DmaEngine engine(final IommuMode mode, final boolean cache, final boolean checks)
    {
        return engine(mode, cache, checks, SwiotlbConfig.defaults().size(4L << 20));
    }

    private DmaEngine engine(final IommuMode mode, final boolean cache, final boolean checks, final SwiotlbConfig sw)
    {
        // a 10 s flush timeout: the lazy-mode tests look at the stale-IOTLB window, which the default 10 ms timer
        // can close early on a loaded machine; they flush explicitly
        final DmaEngine.Builder b = DmaEngine.builder().cpus(1).iommu(mode).swiotlb(sw).checks(checks)
            .flushQueue(new FlushQueueConfig(FlushQueueConfig.DEFAULT_SIZE, 10_000, false));
        if (cache)
        {
            b.cache(CacheConfig.defaults());
        }
        engine = b.build();
        return engine;
    }

    private Device nonCoherent()
    {
        return engine.attach(DeviceConfig.pci("0000:03:00.0").coherent(false));
    }

    private long page()
    {
        final long p = engine.pages().allocPages(0, Zone.NORMAL);
        assertThat(p).isNotNegative();
        return p;
    }

    private static MemorySegment filled(final int len, final int value)
    {
        final byte[] b = new byte[len];
        Arrays.fill(b, (byte)value);
        return MemorySegment.ofArray(b);
    }

    private static int first(final MemorySegment s)
    {
        return s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0) & 0xff;
    }

    private int cpuRead(final long phys)
    {
        final MemorySegment s = filled(64, 0);
        assertThat(engine.cpuMemory().read(phys, s)).isEqualTo(MemTx.OK);
        return first(s);
    }

    private int deviceRead(final Device dev, final long dma, final int expectRc)
    {
        final MemorySegment s = filled(64, 0);
        assertThat(dev.bus().dmaRead(dma, s)).isEqualTo(expectRc);
        return first(s);
    }

    private static boolean mentions(final StackTraceElement[] stack, final String method)
    {
        return stack != null && Arrays.stream(stack).anyMatch(f -> f.getMethodName().equals(method));
    }

    // ------------------------------------------------------------------------------------------------ missing syncs

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "STRICT", "LAZY"})
    void missingSyncForDeviceMakesTheDeviceReadStaleMemoryAndIsReported(final IommuMode mode)
    {
        engine(mode, true, true);
        final Device dev = nonCoherent();
        final long buf = page();
        engine.cpuMemory().write(buf, filled(64, 0x0D)); // old contents, dirty in the CPU cache
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE); // cleans
        assertThat(deviceRead(dev, dma, MemTx.OK)).isEqualTo(0x0D);
        dev.syncSingleForCpu(dma, PAGE, DmaDirection.TO_DEVICE);
        engine.cpuMemory().write(buf, filled(64, 0x4E)); // new contents: dirty, not cleaned
        assertThat(engine.checks().totalCount()).isZero();

        assertThat(deviceRead(dev, dma, MemTx.OK)).as("forgot syncSingleForDevice: stale").isEqualTo(0x0D);
        final List<CheckReport> missing = engine.checks().reports(Kind.MISSING_SYNC_FOR_DEVICE);
        assertThat(missing).hasSize(1);
        final CheckReport r = missing.get(0);
        assertThat(r.device()).isEqualTo("0000:03:00.0");
        assertThat(r.dma()).isEqualTo(dma);
        assertThat(r.phys()).isEqualTo(buf);
        assertThat(r.size()).isEqualTo(PAGE);
        assertThat(r.direction()).isEqualTo(DmaDirection.TO_DEVICE);
        assertThat(r.address()).as("the dirty line").isEqualTo(buf);
        assertThat(mentions(r.mapStack(), "missingSyncForDeviceMakesTheDeviceReadStaleMemoryAndIsReported")).isTrue();
        assertThat(r.message()).contains("dma_sync_single_for_device");
        assertThat(engine.checks().count(Kind.DEVICE_ACCESS_WHILE_CPU_OWNS)).isEqualTo(1);

        dev.syncSingleForDevice(dma, PAGE, DmaDirection.TO_DEVICE);
        assertThat(deviceRead(dev, dma, MemTx.OK)).as("with the sync").isEqualTo(0x4E);
        dev.unmapPhys(dma, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.checks().totalCount()).as("nothing more after the sync").isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "STRICT", "LAZY"})
    void missingSyncForCpuReadsStaleCacheLinesAndIsReported(final IommuMode mode)
    {
        engine(mode, true, true);
        final Device dev = nonCoherent();
        final long buf = page();
        engine.cpuMemory().fill(buf, PAGE, (byte)0); // the driver clears its receive buffer: lines now cached
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.bus().dmaWrite(dma, filled(64, 0xDA))).isEqualTo(MemTx.OK);

        assertThat(cpuRead(buf)).as("forgot syncSingleForCpu: stale cache line").isZero();
        final List<CheckReport> missing = engine.checks().reports(Kind.MISSING_SYNC_FOR_CPU);
        assertThat(missing).hasSize(1);
        assertThat(missing.get(0).dma()).isEqualTo(dma);
        assertThat(missing.get(0).address()).isEqualTo(buf);
        assertThat(mentions(missing.get(0).accessStack(), "cpuRead")).as("where it was read").isTrue();
        assertThat(mentions(missing.get(0).mapStack(), "missingSyncForCpuReadsStaleCacheLinesAndIsReported")).isTrue();

        dev.syncSingleForCpu(dma, PAGE, DmaDirection.FROM_DEVICE);
        assertThat(cpuRead(buf)).as("with the sync").isEqualTo(0xDA);
        dev.unmapPhys(dma, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(engine.checks().totalCount()).isEqualTo(1);
    }

    /** A clean driver: syncs where the API wants them. Right bytes, zero reports, in every mode, bounced or not. */
    @ParameterizedTest
    @EnumSource(IommuMode.class)
    void cleanDriverSequenceOnNonCoherentDeviceHasRightBytesAndNoReports(final IommuMode mode)
    {
        for (final boolean bounce : new boolean[] {false, true})
        {
            engine(mode, true, true, SwiotlbConfig.defaults().size(4L << 20).force(bounce));
            final Device dev = nonCoherent();
            final long buf = page();
            final String where = mode + (bounce ? " bounced" : "");
            // transmit
            engine.cpuMemory().write(buf, filled(256, 0x71));
            long dma = dev.mapPhys(buf, 256, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            assertThat(deviceRead(dev, dma, MemTx.OK)).as(where).isEqualTo(0x71);
            dev.syncSingleForCpu(dma, 256, DmaDirection.TO_DEVICE);
            engine.cpuMemory().write(buf, filled(256, 0x72));
            dev.syncSingleForDevice(dma, 256, DmaDirection.TO_DEVICE);
            assertThat(deviceRead(dev, dma, MemTx.OK)).as(where).isEqualTo(0x72);
            dev.unmapPhys(dma, 256, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            // receive, twice, with a CPU that reads (and caches) the buffer in between
            dma = dev.mapPhys(buf, 256, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
            dev.bus().dmaWrite(dma, filled(256, 0x81));
            dev.syncSingleForCpu(dma, 256, DmaDirection.FROM_DEVICE);
            assertThat(cpuRead(buf)).as(where).isEqualTo(0x81);
            dev.syncSingleForDevice(dma, 256, DmaDirection.FROM_DEVICE);
            dev.bus().dmaWrite(dma, filled(256, 0x82));
            dev.unmapPhys(dma, 256, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
            assertThat(cpuRead(buf)).as(where).isEqualTo(0x82);
            // bidirectional
            engine.cpuMemory().write(buf, filled(256, 0x91));
            dma = dev.mapPhys(buf, 256, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            assertThat(deviceRead(dev, dma, MemTx.OK)).as(where).isEqualTo(0x91);
            dev.bus().dmaWrite(dma, filled(256, 0x92));
            dev.syncSingleForCpu(dma, 256, DmaDirection.BIDIRECTIONAL);
            assertThat(cpuRead(buf)).as(where).isEqualTo(0x92);
            engine.cpuMemory().write(buf, filled(256, 0x93));
            dev.syncSingleForDevice(dma, 256, DmaDirection.BIDIRECTIONAL);
            assertThat(deviceRead(dev, dma, MemTx.OK)).as(where).isEqualTo(0x93);
            dev.unmapPhys(dma, 256, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            // scatter-gather
            final long buf2 = page();
            engine.cpuMemory().write(buf2, filled(64, 0xA1));
            final ScatterList sgl = new ScatterList(2).set(0, buf, PAGE).set(1, buf2, PAGE);
            final int ents = dev.mapSg(sgl, 2, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            assertThat(ents).as(where).isPositive();
            final long dma2 = ents == 1 ? sgl.dmaAddress(0) + PAGE : sgl.dmaAddress(1);
            assertThat(deviceRead(dev, dma2, MemTx.OK)).as(where).isEqualTo(0xA1);
            dev.bus().dmaWrite(dma2, filled(64, 0xA2));
            dev.syncSgForCpu(sgl, 2, DmaDirection.BIDIRECTIONAL);
            assertThat(cpuRead(buf2)).as(where).isEqualTo(0xA2);
            dev.syncSgForDevice(sgl, 2, DmaDirection.BIDIRECTIONAL);
            dev.unmapSg(sgl, 2, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);

            assertThat(engine.checks().reports()).as(where).isEmpty();
            assertThat(engine.checks().liveMappings()).as(where).isZero();
            engine.close();
            engine = null;
        }
    }

    /** A coherent device sees the same bytes with and without the cache model, even when no sync is called. */
    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "STRICT"})
    void coherentDevicesAreUnaffectedByTheCache(final IommuMode mode)
    {
        int[] withoutCache = null;
        for (final boolean cache : new boolean[] {false, true})
        {
            engine(mode, cache, true);
            final Device dev = engine.attach(DeviceConfig.pci("0000:05:00.0").coherent(true));
            final long buf = page();
            final PhysicalMemory cpu = engine.cpuMemory();
            cpu.write(buf, filled(128, 0x11));
            final long dma = dev.mapPhys(buf, PAGE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            cpu.write(buf, filled(128, 0x22)); // after the map, no sync
            final int devSaw = deviceRead(dev, dma, MemTx.OK);
            dev.bus().dmaWrite(dma + 64, filled(64, 0x33));
            final int cpuSaw = cpuRead(buf + 64);
            dev.unmapPhys(dma, PAGE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            final int[] seen = {devSaw, cpuSaw, cpuRead(buf)};
            assertThat(seen).as("cache " + cache).containsExactly(0x22, 0x33, 0x22);
            if (withoutCache != null)
            {
                assertThat(seen).isEqualTo(withoutCache);
            }
            withoutCache = seen;
            assertThat(engine.checks().count(Kind.MISSING_SYNC_FOR_DEVICE)).isZero();
            engine.close();
            engine = null;
        }
    }

    // ------------------------------------------------------------------------------------------------ ownership

    @Test
    void cpuWriteWhileDeviceOwnsIsReportedAndEvictionOverwritesDeviceData()
    {
        engine(IommuMode.NONE, true, true);
        final Device dev = nonCoherent();
        final long buf = page();
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        engine.cpuMemory().write(buf, filled(64, 0xCC)); // the bug: the device owns the buffer
        final List<CheckReport> w = engine.checks().reports(Kind.CPU_WRITE_WHILE_DEVICE_OWNS);
        assertThat(w).hasSize(1);
        assertThat(w.get(0).address()).isEqualTo(buf);
        assertThat(mentions(w.get(0).accessStack(), "cpuWriteWhileDeviceOwnsIsReportedAndEvictionOverwritesDeviceData"))
            .isTrue();

        assertThat(dev.bus().dmaWrite(dma, filled(64, 0xDD))).isEqualTo(MemTx.OK); // the device's data, in RAM
        assertThat(engine.memory().read(buf, filled(1, 0))).isEqualTo(MemTx.OK);
        // The CPU works on other memory: 64 KiB through a 32 KiB cache evicts the dirty line.
        final long other = engine.pages().allocPages(4, Zone.NORMAL);
        for (long off = 0; off < (64L << 10); off += 64)
        {
            engine.cpuMemory().read(other + off, filled(8, 0));
        }
        assertThat(engine.cacheModel().dirtyEvictions()).isPositive();
        dev.syncSingleForCpu(dma, PAGE, DmaDirection.FROM_DEVICE);
        assertThat(cpuRead(buf)).as("the evicted dirty line overwrote the device's data").isEqualTo(0xCC);
        dev.unmapPhys(dma, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
    }

    @Test
    void deviceAccessWhileCpuOwnsIsReported()
    {
        engine(IommuMode.STRICT, false, true);
        final Device dev = nonCoherent();
        final long buf = page();
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        dev.syncSingleForCpu(dma, PAGE, DmaDirection.BIDIRECTIONAL);
        assertThat(dev.bus().dmaWrite(dma + 128, filled(16, 1))).isEqualTo(MemTx.OK);
        final List<CheckReport> r = engine.checks().reports(Kind.DEVICE_ACCESS_WHILE_CPU_OWNS);
        assertThat(r).hasSize(1);
        assertThat(r.get(0).address()).isEqualTo(dma + 128);
        assertThat(r.get(0).message()).contains("WRITE").contains("owns");
        dev.syncSingleForDevice(dma, PAGE, DmaDirection.BIDIRECTIONAL);
        dev.bus().dmaWrite(dma + 128, filled(16, 1));
        dev.unmapPhys(dma, PAGE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(engine.checks().totalCount()).isEqualTo(1);
    }

    // ------------------------------------------------------------------------------------------------ use after unmap

    @Test
    void useAfterUnmapWithoutIommuSucceedsSilentlyAndIsReported()
    {
        engine(IommuMode.NONE, false, true);
        final Device dev = nonCoherent();
        final long buf = page();
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(dma, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.bus().dmaWrite(dma, filled(32, 0xEE))).as("no IOMMU: nothing stops it").isEqualTo(MemTx.OK);
        final MemorySegment ram = filled(1, 0);
        engine.memory().read(buf, ram);
        assertThat(first(ram)).as("silent corruption").isEqualTo(0xEE);
        final List<CheckReport> r = engine.checks().reports(Kind.USE_AFTER_UNMAP);
        assertThat(r).hasSize(1);
        assertThat(r.get(0).nanosSinceUnmap()).isNotNegative();
        assertThat(r.get(0).message()).contains("silently");
        assertThat(mentions(r.get(0).mapStack(), "useAfterUnmapWithoutIommuSucceedsSilentlyAndIsReported")).isTrue();
        assertThat(mentions(r.get(0).unmapStack(), "useAfterUnmapWithoutIommuSucceedsSilentlyAndIsReported")).isTrue();
        assertThat(engine.checks().exposureSummary().accesses()).isZero();
    }

    @Test
    void useAfterUnmapInStrictModeFaultsAndIsReportedWithNoExposure()
    {
        engine(IommuMode.STRICT, false, true);
        final Device dev = nonCoherent();
        final long buf = page();
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        deviceRead(dev, dma, MemTx.OK); // fills the IOTLB
        dev.unmapPhys(dma, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        deviceRead(dev, dma, MemTx.TRANSLATION_FAULT);
        final List<CheckReport> r = engine.checks().reports(Kind.USE_AFTER_UNMAP);
        assertThat(r).hasSize(1);
        assertThat(r.get(0).message()).contains("faulted");
        assertThat(engine.checks().count(Kind.STALE_IOTLB_ACCESS)).isZero();
        assertThat(engine.checks().exposureSummary().accesses()).isZero();
    }

    @Test
    void useAfterUnmapInLazyModeHitsStaleIotlbAndReportsExposure() throws Exception
    {
        engine(IommuMode.LAZY, false, true);
        final Device dev = nonCoherent();
        final long buf = page();
        engine.memory().write(buf, filled(64, 0x5A));
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        deviceRead(dev, dma, MemTx.OK); // fills the IOTLB
        dev.unmapPhys(dma, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        Thread.sleep(1);
        assertThat(deviceRead(dev, dma, MemTx.OK)).as("the stale entry still translates").isEqualTo(0x5A);
        final List<CheckReport> stale = engine.checks().reports(Kind.STALE_IOTLB_ACCESS);
        assertThat(stale).hasSize(1);
        assertThat(stale.get(0).nanosSinceUnmap()).isGreaterThanOrEqualTo(1_000_000L);
        assertThat(stale.get(0).dma()).isEqualTo(dma);
        assertThat(engine.checks().count(Kind.USE_AFTER_UNMAP)).isEqualTo(1);
        final ExposureSummary sum = engine.checks().exposureSummary();
        assertThat(sum.accesses()).isEqualTo(1);
        assertThat(sum.maxNanos()).isEqualTo(stale.get(0).nanosSinceUnmap());
        assertThat(sum.meanNanos()).isEqualTo((double)sum.maxNanos());
        assertThat(sum.perDevice()).containsEntry("0000:03:00.0", 1L);

        engine.flushQueues();
        deviceRead(dev, dma, MemTx.TRANSLATION_FAULT);
        assertThat(engine.checks().exposureSummary().accesses()).as("after the flush: no more exposure").isEqualTo(1);
    }

    @Test
    void untrustedDeviceShowsNoExposureInLazyEngine()
    {
        engine(IommuMode.LAZY, false, true);
        final Device dev = engine.attach(DeviceConfig.pci("0000:07:00.0").coherent(false).untrusted(true));
        final long buf = page();
        for (int i = 0; i < 50; i++)
        {
            final long dma = dev.mapPhys(buf, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            deviceRead(dev, dma, MemTx.OK);
            dev.unmapPhys(dma, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            deviceRead(dev, dma, MemTx.TRANSLATION_FAULT);
        }
        assertThat(engine.checks().exposureSummary().accesses()).isZero();
        assertThat(engine.checks().count(Kind.STALE_IOTLB_ACCESS)).isZero();
        assertThat(engine.checks().count(Kind.USE_AFTER_UNMAP)).isPositive();
    }

    @Test
    void checksOffByDefaultReportNothing()
    {
        engine(IommuMode.NONE, true, false);
        final Device dev = nonCoherent();
        final long buf = page();
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        engine.cpuMemory().write(buf, filled(64, 1));
        dev.unmapPhys(dma, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        dev.bus().dmaWrite(dma, filled(64, 2));
        assertThat(engine.checks().enabled()).isFalse();
        assertThat(engine.checks().reports()).isEmpty();
        assertThat(dev.bus().observer()).isNull();
    }
}
