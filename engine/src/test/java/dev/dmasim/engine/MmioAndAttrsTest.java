package dev.dmasim.engine;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaBytes.assertBytes;
import static dev.dmasim.engine.DmaBytes.cpuRead;
import static dev.dmasim.engine.DmaBytes.cpuWrite;
import static dev.dmasim.engine.DmaBytes.devRead;
import static dev.dmasim.engine.DmaBytes.devWrite;
import static dev.dmasim.engine.DmaBytes.highPage;
import static dev.dmasim.engine.DmaBytes.lowPage;
import static dev.dmasim.engine.DmaBytes.random;
import static dev.dmasim.engine.Device.DMA_MAPPING_ERROR;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * MMIO mappings ({@code dma_map_resource}, {@code DMA_ATTR_MMIO}) and the attributes that change dma-direct's
 * behaviour: REQUIRE_COHERENT, SKIP_CPU_SYNC, NO_WARN; and the overflow error when nothing can bounce.
 */
class MmioAndAttrsTest
{
    static final String BDF = "0000:03:00.0";
    static final long BAR = Machines.DEFAULT_BAR_BASE;

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
        engine = DmaEngine.builder().swiotlb(swiotlb).build();
        return engine.attach(config);
    }

    @Test
    void mapResourceOfAnUnalignedSizeIsNeverBouncedAndReachesTheBar()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        // A 32-bit device: RAM above 4 GiB would bounce, the BAR below 4 GiB is reachable as it is.
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32).coherent(false));
        final long phys = BAR + 0x103;

        // 13 bytes: not a multiple of any cache line (the v4 regression refused it).
        final long dma = dev.mapResource(phys, 13, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).isFalse();
        assertThat(dma).as("MMIO: bus address = physical address, no translation").isEqualTo(phys);
        assertThat(engine.stats().bounces()).isZero();
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();

        final byte[] peer = random(rnd, 13);
        devWrite(dev, dma, peer);
        final byte[] atBar = new byte[13];
        assertThat(engine.memory().read(phys, MemorySegment.ofArray(atBar))).isEqualTo(MemTx.OK);
        assertBytes(atBar, peer, "the BAR handler stored the device's write, seed " + seed);
        assertBytes(devRead(dev, dma, 13), peer, "and returns it, seed " + seed);

        dev.unmapResource(dma, 13, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(engine.log().lines()).isEmpty();
    }

    @Test
    void mmioUnderForcedBouncingFailsWithTheOverflowWarning()
    {
        final Device dev = attach(SwiotlbConfig.defaults().force(true), DeviceConfig.pci(BDF));
        final long dma = dev.mapResource(BAR, 13, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).isTrue();
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        assertThat(engine.stats().mapErrors()).isEqualTo(1);
        assertThat(engine.log().lines()).containsExactly(
            BDF + ": DMA addr 0x00000000e0000000+13 overflow (mask ffffffffffffffff, bus limit 0).");

        // RAM still bounces under force.
        final long ram = dev.mapPhys(lowPage(engine), 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.swiotlb().isSwiotlbBuffer(ram)).isTrue();
        dev.unmapPhys(ram, 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
    }

    @Test
    void mmioBeyondTheMaskFailsEvenWithSwiotlbActive()
    {
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(31));
        final long dma = dev.mapResource(BAR, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).as("MMIO cannot bounce").isTrue();
        assertThat(engine.stats().bounces()).isZero();
        assertThat(engine.log().lines()).containsExactly(
            BDF + ": DMA addr 0x00000000e0000000+4096 overflow (mask 7fffffff, bus limit 0).");
    }

    @Test
    void mapPageRefusesMmioAndUnmapPageWithMmioDoesNothing()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        assertThat(dev.mapPage(BAR >>> 12, 0, 13, DmaDirection.TO_DEVICE, DmaAttrs.MMIO)).isEqualTo(DMA_MAPPING_ERROR);

        final long page = highPage(engine);
        final byte[] data = random(rnd, 100);
        cpuWrite(engine, page + 0x80, data);
        final long dma = dev.mapPage(page >>> 12, 0x80, 100, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).isFalse();
        assertThat(engine.swiotlb().isSwiotlbBuffer(dma)).isTrue();
        final long used = engine.stats().swiotlbSlotsUsed();
        assertThat(used).isPositive();

        dev.unmapPage(dma, 100, DmaDirection.FROM_DEVICE, DmaAttrs.MMIO);
        assertThat(engine.stats().swiotlbSlotsUsed()).as("unmapPage(MMIO) is a no-op").isEqualTo(used);
        assertThat(engine.stats().unmaps()).isZero();

        final byte[] rx = random(rnd, 100);
        devWrite(dev, dma, rx);
        dev.unmapPage(dma, 100, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertBytes(cpuRead(engine, page + 0x80, 100), rx, "seed " + seed);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void requireCoherentFailsOnANonCoherentDevice()
    {
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).coherent(false));
        final long buf = lowPage(engine);
        assertThat(dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.REQUIRE_COHERENT))
            .isEqualTo(DMA_MAPPING_ERROR);

        final ScatterList sgl = new ScatterList(2).set(0, buf, 512).set(1, buf + 1024, 512);
        assertThat(dev.mapSg(sgl, 2, DmaDirection.TO_DEVICE, DmaAttrs.REQUIRE_COHERENT)).isZero();
        final SgTable sgt = new SgTable(2).set(0, buf, 512).set(1, buf + 1024, 512);
        assertThat(dev.mapSgtable(sgt, DmaDirection.TO_DEVICE, DmaAttrs.REQUIRE_COHERENT))
            .as("the kernel returns -EOPNOTSUPP before reaching a backend").isEqualTo(-Errno.EOPNOTSUPP);
        assertThat(engine.stats().mapErrors()).isEqualTo(3);

        final long ok = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(ok)).isFalse();
        dev.unmapPhys(ok, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
    }

    @Test
    void requireCoherentNeverBounces()
    {
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        final long high = highPage(engine);
        assertThat(dev.mapPhys(high, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.REQUIRE_COHERENT))
            .as("beyond the mask, and bouncing is not allowed").isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.stats().bounces()).isZero();
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();

        final long low = lowPage(engine);
        final long dma = dev.mapPhys(low, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.REQUIRE_COHERENT);
        assertThat(dma).as("reachable: a plain direct mapping").isEqualTo(low);
        dev.unmapPhys(dma, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.REQUIRE_COHERENT);
    }

    @Test
    void requireCoherentFailsUnderForcedBouncing()
    {
        final Device dev = attach(SwiotlbConfig.defaults().force(true), DeviceConfig.pci(BDF));
        final long low = lowPage(engine);
        assertThat(dev.mapPhys(low, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.REQUIRE_COHERENT))
            .isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.stats().bounces()).isZero();
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void skipCpuSyncLeavesTheCopyBackToTheDriver()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        final long buf = highPage(engine);
        final byte[] orig = random(rnd, 4096);
        cpuWrite(engine, buf, orig);

        final long dma = dev.mapPhys(buf, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        assertThat(dev.mappingError(dma)).isFalse();
        assertBytes(devRead(dev, dma, 4096), orig, "map still fills the bounce buffer, seed " + seed);
        devWrite(dev, dma, random(rnd, 4096));
        dev.unmapPhys(dma, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        assertBytes(cpuRead(engine, buf, 4096), orig, "no copy-back at unmap, seed " + seed);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();

        // The driver that passes SKIP_CPU_SYNC syncs itself before unmapping.
        final long dma2 = dev.mapPhys(buf, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        final byte[] rx = random(rnd, 4096);
        devWrite(dev, dma2, rx);
        dev.syncSingleForCpu(dma2, 4096, DmaDirection.FROM_DEVICE);
        dev.unmapPhys(dma2, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        assertBytes(cpuRead(engine, buf, 4096), rx, "seed " + seed);
    }

    @Test
    void noWarnSuppressesTheSwiotlbFullLine()
    {
        final Device dev = attach(SwiotlbConfig.defaults().size(256L << 10), DeviceConfig.pci(BDF).dmaBits(32));
        final long big = DmaBytes.pages(engine, 6, Zone.NORMAL);
        final long dma = dev.mapPhys(big, 256L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).as("the whole pool").isFalse();

        final long page = highPage(engine);
        assertThat(dev.mapPhys(page, 2048, DmaDirection.TO_DEVICE, DmaAttrs.NO_WARN)).isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.log().lines()).isEmpty();
        assertThat(engine.stats().swiotlbFailures()).isEqualTo(1);

        assertThat(dev.mapPhys(page, 2048, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.log().lines()).containsExactly(
            BDF + ": swiotlb buffer is full (sz: 2048 bytes), total 128 (slots), used 128 (slots)");
        dev.unmapPhys(dma, 256L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
    }

    @Test
    void overflowWithoutSwiotlbIsAnErrorWithTheKernelsLine()
    {
        final Device dev = attach(SwiotlbConfig.disabled(), DeviceConfig.pci(BDF).dmaBits(32));
        assertThat(engine.swiotlb()).isNull();
        final long high = highPage(engine);
        assertThat(dev.mapPhys(high, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.log().lines()).containsExactly(BDF + ": DMA addr 0x" + String.format("%016x", high)
            + "+4096 overflow (mask ffffffff, bus limit 0).");

        final Device limited = engine.attach(DeviceConfig.pci("0000:05:00.0").busDmaLimit(0xFFFF_FFFFL));
        assertThat(limited.mapPhys(high, 100, DmaDirection.FROM_DEVICE, DmaAttrs.NONE)).isEqualTo(DMA_MAPPING_ERROR);
        assertThat(engine.log().lines()).contains("0000:05:00.0: DMA addr 0x" + String.format("%016x", high)
            + "+100 overflow (mask ffffffffffffffff, bus limit ffffffff).");

        final ScatterList sgl = new ScatterList(2).set(0, lowPage(engine), 4096).set(1, high, 4096);
        assertThat(dev.mapSg(sgl, 2, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isZero();
        final SgTable sgt = new SgTable(2).set(0, lowPage(engine), 4096).set(1, high, 4096);
        assertThat(dev.mapSgtable(sgt, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isEqualTo(-Errno.EIO);
    }
}
