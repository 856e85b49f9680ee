package dev.dmasim.engine;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static dev.dmasim.engine.DmaBytes.highPage;
import static dev.dmasim.engine.DmaBytes.lowPage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Programming errors through {@link Device} on dma-direct: precise {@link IllegalArgumentException}s naming the
 * device, the argument and the value, thrown before anything changes; and {@link IllegalStateException} for
 * every call on a detached device.
 */
class DeviceInputTest
{
    static final String BDF = "0000:03:00.0";

    DmaEngine engine;
    Device dev;

    @BeforeEach
    void setUp()
    {
        engine = DmaEngine.builder().build();
        dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
    }

    @AfterEach
    void tearDown()
    {
        engine.close();
    }

    private void assertRejected(final ThrowingCallable call, final String... fragments)
    {
        final EngineStats before = engine.stats();
        assertThatThrownBy(call).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(BDF + ": ")
            .hasMessageContainingAll(fragments);
        assertThat(engine.stats()).as("nothing changed").isEqualTo(before);
    }

    @Test
    void sizesMustBePositive()
    {
        final long buf = highPage(engine);
        for (final long size : new long[] { 0, -1, Long.MIN_VALUE })
        {
            final String was = "size must be > 0, was " + size;
            assertRejected(() -> dev.mapPhys(buf, size, DmaDirection.TO_DEVICE, DmaAttrs.NONE), "mapPhys", was);
            assertRejected(() -> dev.unmapPhys(buf, size, DmaDirection.TO_DEVICE, DmaAttrs.NONE), "unmapPhys", was);
            assertRejected(() -> dev.mapResource(Machines.DEFAULT_BAR_BASE, size, DmaDirection.TO_DEVICE, 0), was);
            assertRejected(() -> dev.syncSingleForCpu(buf, size, DmaDirection.FROM_DEVICE), "syncSingleForCpu", was);
            assertRejected(() -> dev.syncSingleForDevice(buf, size, DmaDirection.TO_DEVICE), was);
            assertRejected(() -> dev.allocCoherent(size), "allocCoherent", was);
            assertRejected(() -> dev.allocPages(size, DmaDirection.TO_DEVICE), "allocPages", was);
        }
    }

    @Test
    void directionMustBeAMappingDirection()
    {
        final long buf = highPage(engine);
        for (final DmaDirection dir : new DmaDirection[] { DmaDirection.NONE, null })
        {
            final String was = "was " + dir;
            assertRejected(() -> dev.mapPhys(buf, 64, dir, DmaAttrs.NONE), "mapPhys", "direction", was);
            assertRejected(() -> dev.unmapPhys(buf, 64, dir, DmaAttrs.NONE), "unmapPhys", "direction", was);
            assertRejected(() -> dev.syncSingleForCpu(buf, 64, dir), "direction", was);
            assertRejected(() -> dev.mapSg(new ScatterList(1).set(0, buf, 64), 1, dir, 0), "mapSg", was);
            assertRejected(() -> dev.allocPages(4096, dir), "allocPages", was);
        }
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void rangesMustBeRamUnlessMmio()
    {
        // Past the end of RAM at 6 GiB.
        final long top = (6L << 30) - 100;
        assertRejected(() -> dev.mapPhys(top, 200, DmaDirection.TO_DEVICE, DmaAttrs.NONE), "mapPhys",
            "phys 0x17fffff9c size 200", "is not RAM");
        // Across the end of low RAM into the PCI hole, and in the BAR without MMIO.
        assertRejected(() -> dev.mapPhys((2L << 30) - 2048, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE),
            "phys 0x7ffff800 size 4096", "is not RAM");
        assertRejected(() -> dev.mapPhys(Machines.DEFAULT_BAR_BASE, 13, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
            "phys 0xe0000000 size 13", "mapResource");
        // Overflowing the address space.
        assertRejected(() -> dev.mapPhys(Long.MAX_VALUE - 10, 100, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
            "phys 0x7ffffffffffffff5 + size 100 overflows");
        assertRejected(() -> dev.mapResource(-4096, 100, DmaDirection.TO_DEVICE, DmaAttrs.NONE), "overflows");
        assertRejected(() -> dev.mapPage(-1, 0, 100, DmaDirection.TO_DEVICE, DmaAttrs.NONE), "mapPage", "pfn -1");
        final ScatterList sgl = new ScatterList(2).set(0, lowPage(engine), 4096).set(1, top, 200);
        assertRejected(() -> dev.mapSg(sgl, 2, DmaDirection.TO_DEVICE, DmaAttrs.NONE), "mapSg", "is not RAM");
        assertThat(engine.stats().swiotlbSlotsUsed()).as("the first entry was not mapped either").isZero();
    }

    @Test
    void theRamCheckStaysExactAfterEveryHit()
    {
        // Each accepted map leaves its RAM run in the device's hint; a range that leaves the run must still fail.
        final long low = lowPage(engine);
        final long high = highPage(engine);
        for (final long warm : new long[] { low, high, low })
        {
            final long dma = dev.mapPhys(warm, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            assertRejected(() -> dev.mapPhys((2L << 30) - 2048, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
                "phys 0x7ffff800 size 4096", "is not RAM");
            assertRejected(() -> dev.mapPhys((6L << 30) - 100, 200, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
                "phys 0x17fffff9c size 200", "is not RAM");
            assertRejected(() -> dev.mapPhys(Machines.DEFAULT_BAR_BASE, 13, DmaDirection.TO_DEVICE, 0), "mapResource");
        }
    }

    @Test
    void aClosedEngineRefusesMapsEvenAfterARamHit()
    {
        final long buf = lowPage(engine);
        final long dma = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        final Device other = engine.attach(DeviceConfig.pci("0000:05:00.0"));
        engine.close();
        final ScatterList sgl = new ScatterList(1).set(0, buf, 4096);
        final ThrowingCallable[] calls = {
            () -> dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
            () -> dev.mapPage(buf >>> 12, 0, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
            () -> dev.mapSg(sgl, 1, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
            () -> other.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE),
        };
        for (int i = 0; i < calls.length; i++)
        {
            assertThatThrownBy(calls[i]).as("call %d", i).isInstanceOf(IllegalStateException.class)
                .hasMessage("address space closed");
        }
    }

    @Test
    void scatterListsMustHoldNents()
    {
        final ScatterList sgl = new ScatterList(2).set(0, lowPage(engine), 64).set(1, lowPage(engine), 64);
        assertRejected(() -> dev.mapSg(sgl, 0, DmaDirection.TO_DEVICE, 0), "mapSg", "nents must be 1..2, was 0");
        assertRejected(() -> dev.mapSg(sgl, 3, DmaDirection.TO_DEVICE, 0), "nents must be 1..2, was 3");
        assertRejected(() -> dev.mapSg(null, 1, DmaDirection.TO_DEVICE, 0), "scatterlist is null");
        assertRejected(() -> dev.unmapSg(sgl, 3, DmaDirection.TO_DEVICE, 0), "unmapSg", "was 3");
        assertRejected(() -> dev.syncSgForCpu(sgl, -1, DmaDirection.TO_DEVICE), "syncSgForCpu", "was -1");
        assertRejected(() -> dev.mapSgtable(null, DmaDirection.TO_DEVICE, 0), "mapSgtable", "null");
        assertRejected(() -> dev.mapSgtable(new SgTable(2), DmaDirection.TO_DEVICE, 0), "nents must be 1..2, was 0");
    }

    @Test
    void doubleUnmapOfABouncedMappingWithoutDmaDebugThrowsAndKeepsAccountingExact()
    {
        final long bystanderBuf = highPage(engine);
        final byte[] theirs = DmaBytes.filled(4096, 0x3c);
        DmaBytes.cpuWrite(engine, bystanderBuf, theirs);
        final long bystander = dev.mapPhys(bystanderBuf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        for (final DmaDirection dir : new DmaDirection[] { DmaDirection.FROM_DEVICE, DmaDirection.TO_DEVICE })
        {
            final long dma = dev.mapPhys(highPage(engine), 4096, dir, DmaAttrs.NONE);
            assertThat(engine.swiotlb().isSwiotlbBuffer(dma)).isTrue();
            dev.unmapPhys(dma, 4096, dir, DmaAttrs.NONE);
            final EngineStats before = engine.stats();
            assertThatThrownBy(() -> dev.unmapPhys(dma, 4096, dir, DmaAttrs.NONE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(BDF)
                .hasMessageContaining("0x" + Long.toHexString(dma)).hasMessageContaining("not");
            assertThat(engine.stats()).as("%s: nothing changed", dir).isEqualTo(before);
            assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(2);
        }
        DmaBytes.assertBytes(DmaBytes.devRead(dev, bystander, 4096), theirs, "bystander intact");
        dev.unmapPhys(bystander, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void aDetachedDeviceRefusesEveryCall()
    {
        final long buf = lowPage(engine);
        final long dma = dev.mapPhys(buf, 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        final DmaBuffer coherent = dev.allocCoherent(4096);
        engine.detach(dev);
        assertThat(engine.device(BDF)).isNull();
        final ScatterList sgl = new ScatterList(1).set(0, buf, 64);
        final ThrowingCallable[] calls = {
            () -> dev.mapPhys(buf, 64, DmaDirection.TO_DEVICE, 0),
            () -> dev.unmapPhys(dma, 64, DmaDirection.TO_DEVICE, 0),
            () -> dev.mapPage(buf >>> 12, 0, 64, DmaDirection.TO_DEVICE, DmaAttrs.MMIO),
            () -> dev.unmapPage(dma, 64, DmaDirection.TO_DEVICE, DmaAttrs.MMIO),
            () -> dev.mapResource(Machines.DEFAULT_BAR_BASE, 13, DmaDirection.TO_DEVICE, 0),
            () -> dev.mappingError(dma),
            () -> dev.mapSg(sgl, 1, DmaDirection.TO_DEVICE, 0),
            () -> dev.unmapSg(sgl, 1, DmaDirection.TO_DEVICE, 0),
            () -> dev.syncSingleForCpu(dma, 64, DmaDirection.TO_DEVICE),
            () -> dev.syncSingleForDevice(dma, 64, DmaDirection.TO_DEVICE),
            () -> dev.syncSgForCpu(sgl, 1, DmaDirection.TO_DEVICE),
            () -> dev.allocCoherent(4096),
            () -> dev.freeCoherent(coherent),
            () -> dev.allocPages(4096, DmaDirection.TO_DEVICE),
            () -> dev.setMask(-1L),
            () -> dev.setCoherentMask(-1L),
            () -> dev.setMaskAndCoherent(-1L),
            () -> dev.requiredMask(),
            () -> dev.maxMappingSize(),
            () -> dev.needSync(dma),
            () -> dev.needUnmap(),
            () -> dev.iovaTryAlloc(new IovaState(), buf, 4096),
        };
        final EngineStats before = engine.stats();
        for (int i = 0; i < calls.length; i++)
        {
            assertThatThrownBy(calls[i]).as("call %d", i).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(BDF).hasMessageContaining("detached");
        }
        assertThat(engine.stats()).isEqualTo(before);

        // The name can be attached again; the new device is independent.
        final Device again = engine.attach(DeviceConfig.pci(BDF));
        final long d2 = again.mapPhys(buf, 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(again.mappingError(d2)).isFalse();
        again.unmapPhys(d2, 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThatThrownBy(() -> engine.detach(dev)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void configsRejectNonsense()
    {
        assertThatThrownBy(() -> engine.attach(DeviceConfig.pci(BDF))).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("already attached");
        assertThatThrownBy(() -> DeviceConfig.pci("03:00.0")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DeviceConfig.pci(BDF).dmaBits(8)).hasMessageContaining("dmaBits");
        assertThatThrownBy(() -> DeviceConfig.pci(BDF).minAlignMask(0x1000)).hasMessageContaining("minAlignMask");
        assertThatThrownBy(() -> engine.attach(DeviceConfig.pci("0000:05:00.0").dmaOffset(1L << 30)
            .iommu(IommuMode.STRICT))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dmaOffset");
        assertThatThrownBy(() -> SwiotlbConfig.defaults().size(1000)).isInstanceOf(IllegalArgumentException.class);
    }
}
