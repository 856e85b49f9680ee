package dev.dmasim.engine.check;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.check.CheckReport.Kind;
import dev.dmasim.sim.cache.ObservedMemory;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With checks on and no cache model, {@code cpuMemory()} is the raw memory observed by the checks: the CPU-side
 * kinds ({@code MISSING_SYNC_FOR_CPU}, {@code CPU_WRITE_WHILE_DEVICE_OWNS}) are reported, {@code
 * MISSING_SYNC_FOR_DEVICE} cannot be (nothing is ever dirty); with checks off it is {@code memory()} itself.
 */
class ChecksWithoutCacheModelTest
{
    private static final long PAGE = 4096;
    private static final String BDF = "0000:03:00.0";
    private DmaEngine engine;

    @AfterEach
    void close()
    {
        if (engine != null)
        {
            engine.close();
        }
    }

    private Device engineAndDevice(final IommuMode mode, final boolean checks)
    {
        engine = DmaEngine.builder().cpus(1).iommu(mode).checks(checks).build();
        return engine.attach(DeviceConfig.pci(BDF).coherent(false));
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

    private static boolean mentions(final StackTraceElement[] stack, final String method)
    {
        return stack != null && Arrays.stream(stack).anyMatch(f -> f.getMethodName().equals(method));
    }

    @Test
    void cpuMemoryIsTheRawMemoryWithChecksOffAndAnObservedViewWithChecksOn()
    {
        engineAndDevice(IommuMode.NONE, false);
        assertThat(engine.cpuMemory()).isSameAs(engine.memory());
        engine.close();

        engineAndDevice(IommuMode.NONE, true);
        final PhysicalMemory cpu = engine.cpuMemory();
        assertThat(cpu).isInstanceOf(ObservedMemory.class);
        assertThat(((ObservedMemory)cpu).memory()).isSameAs(engine.memory());
        assertThat(((ObservedMemory)cpu).observer()).isSameAs(engine.checks());
        final long buf = page();
        assertThat(cpu.ramSlice(buf, 64)).as("a zero-copy view would not be observed").isNull();
        assertThat(engine.memory().ramSlice(buf, 64)).isNotNull();
        cpu.putLong(buf, 0x1122334455667788L);
        assertThat(engine.memory().getLong(buf)).as("the same bytes").isEqualTo(0x1122334455667788L);
        assertThat(cpu.isRam(buf, PAGE)).isTrue();
        assertThat(cpu.regions()).isEqualTo(engine.memory().regions());
    }

    @ParameterizedTest
    @EnumSource(IommuMode.class)
    void missingSyncForCpuIsReportedWithoutACacheModel(final IommuMode mode)
    {
        final Device dev = engineAndDevice(mode, true);
        final long buf = page();
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.bus().dmaWrite(dma + 128, filled(64, 0xDA))).isEqualTo(MemTx.OK);
        final MemorySegment got = filled(32, 0);
        assertThat(engine.cpuMemory().read(buf + 128, got)).isEqualTo(MemTx.OK); // the bug: no sync for the CPU
        assertThat(got.get(ValueLayout.JAVA_BYTE, 0) & 0xff).as("no cache: the bytes are right, the code is not")
            .isEqualTo(0xDA);

        final List<CheckReport> r = engine.checks().reports();
        assertThat(r).hasSize(1);
        final CheckReport m = r.get(0);
        assertThat(m.kind()).isEqualTo(Kind.MISSING_SYNC_FOR_CPU);
        assertThat(m.device()).isEqualTo(BDF);
        assertThat(m.mappedAs()).isEqualTo("single");
        assertThat(m.dma()).isEqualTo(dma);
        assertThat(m.phys()).isEqualTo(buf);
        assertThat(m.size()).isEqualTo(PAGE);
        assertThat(m.direction()).isEqualTo(DmaDirection.FROM_DEVICE);
        assertThat(m.address()).isEqualTo(buf + 128);
        assertThat(m.length()).isEqualTo(32);
        assertThat(m.message()).contains("without dma_sync_single_for_cpu or unmap first");
        assertThat(mentions(m.accessStack(), "missingSyncForCpuIsReportedWithoutACacheModel")).isTrue();

        dev.syncSingleForCpu(dma, PAGE, DmaDirection.FROM_DEVICE);
        engine.cpuMemory().read(buf + 128, got);
        dev.unmapPhys(dma, PAGE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        engine.cpuMemory().read(buf + 128, got);
        assertThat(engine.checks().totalCount()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(IommuMode.class)
    void cpuWriteWhileDeviceOwnsIsReportedWithoutACacheModelButNeverMissingSyncForDevice(final IommuMode mode)
    {
        final Device dev = engineAndDevice(mode, true);
        final long buf = page();
        final long buf2 = page();
        final ScatterList sgl = new ScatterList(2).set(0, buf, PAGE).set(1, buf2, PAGE);
        assertThat(dev.mapSg(sgl, 2, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isPositive();
        engine.cpuMemory().fill(buf2 + 8, 24, (byte)0x4E); // the bug: the device owns the buffer
        final MemorySegment seen = filled(32, 0);
        final long dma2 = sgl.dmaLength(0) > PAGE ? sgl.dmaAddress(0) + PAGE : sgl.dmaAddress(1);
        assertThat(dev.bus().dmaRead(dma2 + 8, seen)).isEqualTo(MemTx.OK);
        assertThat(seen.get(ValueLayout.JAVA_BYTE, 0) & 0xff).as("no cache: nothing is stale").isEqualTo(0x4E);

        final List<CheckReport> r = engine.checks().reports();
        assertThat(r).hasSize(1);
        final CheckReport m = r.get(0);
        assertThat(m.kind()).isEqualTo(Kind.CPU_WRITE_WHILE_DEVICE_OWNS);
        assertThat(m.mappedAs()).isEqualTo("sg");
        assertThat(m.dma()).isEqualTo(sgl.dmaAddress(0));
        assertThat(m.phys()).isEqualTo(buf);
        assertThat(m.size()).isEqualTo(2 * PAGE);
        assertThat(m.direction()).isEqualTo(DmaDirection.TO_DEVICE);
        assertThat(m.address()).isEqualTo(buf2 + 8);
        assertThat(m.length()).isEqualTo(24);
        assertThat(engine.checks().count(Kind.MISSING_SYNC_FOR_DEVICE)).isZero();

        dev.unmapSg(sgl, 2, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        engine.cpuMemory().fill(buf2, PAGE, (byte)0);
        assertThat(engine.checks().totalCount()).isEqualTo(1);
        assertThat(engine.checks().liveMappings()).isZero();
    }

    @Test
    void engineBounceCopiesAreNotJudged()
    {
        engine = DmaEngine.builder().cpus(1).iommu(IommuMode.NONE).checks(true)
            .swiotlb(dev.dmasim.engine.SwiotlbConfig.defaults().size(4L << 20).force(true)).build();
        final Device dev = engine.attach(DeviceConfig.pci(BDF).coherent(false));
        final long buf = page();
        engine.cpuMemory().write(buf, filled(64, 0x61));
        final long dma = dev.mapPhys(buf, PAGE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE); // bounce copy
        assertThat(dma).isNotEqualTo(buf);
        dev.bus().dmaWrite(dma, filled(64, 0x62));
        dev.unmapPhys(dma, PAGE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE); // copy back
        final MemorySegment got = filled(1, 0);
        engine.cpuMemory().read(buf, got);
        assertThat(got.get(ValueLayout.JAVA_BYTE, 0) & 0xff).isEqualTo(0x62);
        assertThat(engine.checks().reports()).isEmpty();
    }
}
