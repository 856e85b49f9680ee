package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaDirection.BIDIRECTIONAL;
import static dev.dmasim.engine.DmaDirection.FROM_DEVICE;
import static dev.dmasim.engine.DmaDirection.TO_DEVICE;
import static dev.dmasim.engine.iommu.IommuTestSupport.PAGE;
import static dev.dmasim.engine.iommu.IommuTestSupport.alloc;
import static dev.dmasim.engine.iommu.IommuTestSupport.cpuRead;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadOk;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadRc;
import static dev.dmasim.engine.iommu.IommuTestSupport.devWrite;
import static dev.dmasim.engine.iommu.IommuTestSupport.fill;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Untrusted (external) devices: always strict, and any mapping that does not cover whole granules is bounced
 * through swiotlb with zeroed padding, so the device can never read or write the rest of the page it shares.
 */
class UntrustedDeviceTest
{
    private static final long SEED = 0x7B_0017L;
    private static final String TBT = "0000:05:00.0";

    private static DmaEngine lazyEngine()
    {
        return DmaEngine.builder().cpus(1).iommu(IommuMode.LAZY).debug(true).build();
    }

    @Test
    void shouldBeStrictEvenWhenTheEngineIsLazy()
    {
        try (DmaEngine engine = lazyEngine())
        {
            final Device dev = engine.attach(DeviceConfig.pci(TBT).untrusted(true));
            final Device trusted = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            assertThat(dev.iommuMode()).isEqualTo(IommuMode.STRICT);
            assertThat(dev.bus().domain().type()).isEqualTo(DomainType.DMA);
            assertThat(trusted.iommuMode()).isEqualTo(IommuMode.LAZY);
            assertThat(engine.attach(DeviceConfig.pci("0000:06:00.0").untrusted(true).iommu(IommuMode.LAZY))
                .iommuMode()).as("a per-device LAZY request is overridden too").isEqualTo(IommuMode.STRICT);

            final long buf = alloc(engine, 0);
            final long dma = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
            assertThat(dev.mappingError(dma)).isFalse();
            devReadOk(dev, dma, 64);
            dev.unmapPhys(dma, PAGE, TO_DEVICE, 0);
            assertThat(devReadRc(dev, dma, 8)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(engine.stats().pendingFlushes()).isZero();
            assertThat(engine.stats().strictInvalidations()).isEqualTo(1);
        }
    }

    @Test
    void shouldExposeOnlyTheMappedBytesOfASharedPage()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.LAZY).debug(true)
            .swiotlb(SwiotlbConfig.defaults().size(256 << 10)).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci(TBT).untrusted(true));
            final long buf = alloc(engine, 0);
            final Swiotlb pool = engine.swiotlb();
            for (int i = 0; i < 200; i++)
            {
                // leftovers of earlier bounces everywhere in the pool: padding must be zeroed, not merely fresh
                fill(engine, pool.start(), (int)(pool.end() - pool.start()), (byte)0xA5);

                final byte[] page = fill(engine, buf, (int)PAGE, rnd); // the secret around the buffer
                final int off = rnd.nextInt((int)PAGE - 1);
                final int len = 1 + rnd.nextInt((int)PAGE - off - 1); // never the whole page
                final long bouncesBefore = engine.stats().bounces();
                final long dma = dev.mapPhys(buf + off, len, TO_DEVICE, 0);
                assertThat(dev.mappingError(dma)).isFalse();
                assertThat(engine.stats().bounces()).isEqualTo(bouncesBefore + 1);
                final long granule = dma & -PAGE;
                final int at = (int)(dma - granule);
                final byte[] seen = devReadOk(dev, granule, (int)PAGE);
                final byte[] expected = new byte[(int)PAGE];
                System.arraycopy(page, off, expected, at, len);
                assertThat(seen).as("seed %x iteration %d: off 0x%x len %d", SEED, i, off, len).isEqualTo(expected);
                assertThat(devReadRc(dev, granule + PAGE, 1)).as("nothing mapped past the granule")
                    .isEqualTo(MemTx.TRANSLATION_FAULT);
                dev.unmapPhys(dma, len, TO_DEVICE, 0);
            }
            assertThat(engine.swiotlb().usedSlots()).isZero();
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldCopyOnlyTheMappedBytesBackAtUnmap()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = lazyEngine())
        {
            final Device dev = engine.attach(DeviceConfig.pci(TBT).untrusted(true));
            final long buf = alloc(engine, 0);
            final byte[] page = fill(engine, buf, (int)PAGE, rnd);
            final long dma = dev.mapPhys(buf + 0x300, 100, FROM_DEVICE, 0);
            assertThat(dev.mappingError(dma)).isFalse();
            final byte[] incoming = new byte[200]; // 100 bytes more than mapped: lands in the padding
            rnd.nextBytes(incoming);
            assertThat(devWrite(dev, dma, incoming)).isEqualTo(MemTx.OK);
            assertThat(cpuRead(engine, buf, (int)PAGE)).as("bounced: nothing reaches RAM before unmap").isEqualTo(page);
            dev.unmapPhys(dma, 100, FROM_DEVICE, 0);
            final byte[] expected = page.clone();
            System.arraycopy(incoming, 0, expected, 0x300, 100);
            assertThat(cpuRead(engine, buf, (int)PAGE)).isEqualTo(expected);
            assertThat(engine.swiotlb().usedSlots()).isZero();
        }
    }

    @Test
    void shouldMapWholeGranulesDirectlyAndLimitMappingsToTheSwiotlbMaximum()
    {
        try (DmaEngine engine = lazyEngine())
        {
            final Device dev = engine.attach(DeviceConfig.pci(TBT).untrusted(true));
            final Device trusted = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            assertThat(dev.maxMappingSize()).isEqualTo(engine.swiotlb().maxMappingSize(0))
                .isEqualTo(Swiotlb.MAX_MAPPING_BYTES);
            assertThat(trusted.maxMappingSize()).isEqualTo(Long.MAX_VALUE);
            final long buf = alloc(engine, 1);
            final byte[] data = fill(engine, buf, 2 * (int)PAGE, new SplittableRandom(SEED));
            final long dma = dev.mapPhys(buf, 2 * PAGE, TO_DEVICE, 0);
            assertThat(engine.stats().bounces()).as("aligned: no bounce").isZero();
            assertThat(dev.bus().domain().iovaToPhys(dma)).isEqualTo(buf);
            assertThat(devReadOk(dev, dma, 2 * (int)PAGE)).isEqualTo(data);
            dev.unmapPhys(dma, 2 * PAGE, TO_DEVICE, 0);
        }
    }

    @Test
    void shouldBounceEachSgEntryWithoutMerging()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = lazyEngine())
        {
            final Device dev = engine.attach(DeviceConfig.pci(TBT).untrusted(true));
            final long buf = alloc(engine, 2);
            final byte[] data = fill(engine, buf, 4 * (int)PAGE, rnd);
            final ScatterList sgl = new ScatterList(4)
                .set(0, buf, PAGE).set(1, buf + PAGE, PAGE).set(2, buf + 2 * PAGE + 0x10, 0x20).set(3, buf + 3 * PAGE, PAGE);
            assertThat(dev.mapSg(sgl, 4, BIDIRECTIONAL, 0)).as("nents, never merged").isEqualTo(4);
            assertThat(engine.swiotlb().usedSlots()).as("only the sub-granule entry bounces").isPositive();
            for (int i = 0; i < 4; i++)
            {
                final int from = (int)(sgl.phys(i) - buf);
                assertThat(sgl.dmaLength(i)).isEqualTo(sgl.length(i));
                assertThat(devReadOk(dev, sgl.dmaAddress(i), (int)sgl.length(i))).as("entry %d", i)
                    .isEqualTo(Arrays.copyOfRange(data, from, from + (int)sgl.length(i)));
            }
            assertThat(dev.iovaRangesInUse()).isEqualTo(4);
            dev.unmapSg(sgl, 4, BIDIRECTIONAL, 0);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.swiotlb().usedSlots()).isZero();
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldRefuseUnalignedMappingsWithoutBounceBuffers()
    {
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT).swiotlb(SwiotlbConfig.disabled())
            .build())
        {
            final Device dev = engine.attach(DeviceConfig.pci(TBT).untrusted(true));
            final long buf = alloc(engine, 0);
            assertThat(dev.mapPhys(buf + 8, 64, TO_DEVICE, 0)).isEqualTo(Device.DMA_MAPPING_ERROR);
            assertThat(engine.log().contains("DMA bounce buffers are inactive, unable to map unaligned transaction."))
                .isTrue();
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(dev.mapPhys(buf, PAGE, TO_DEVICE, 0)).as("aligned still works").isEqualTo(0xFFFF_F000L);
        }
    }
}
