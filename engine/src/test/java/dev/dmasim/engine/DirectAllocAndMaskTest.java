package dev.dmasim.engine;

import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.dmasim.engine.DmaBytes.highPage;
import static dev.dmasim.engine.DmaBytes.lowPage;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Coherent and non-coherent allocation on dma-direct (zeroed whole pages, zone from the coherent mask with
 * fallbacks, null when impossible), the mask rules ({@code dma_set_mask} and friends, the required mask),
 * {@code dma_max/opt_mapping_size}, {@code dma_need_sync}, {@code dma_need_unmap}, and the 2-step API without an
 * IOMMU.
 */
class DirectAllocAndMaskTest
{
    static final String BDF = "0000:03:00.0";

    DmaEngine engine;

    @AfterEach
    void tearDown()
    {
        if (engine != null)
        {
            engine.close();
        }
    }

    private Device attach(final boolean debug, final SwiotlbConfig swiotlb, final DeviceConfig config)
    {
        engine = DmaEngine.builder().debug(debug).swiotlb(swiotlb).build();
        return engine.attach(config);
    }

    private static boolean allZero(final MemorySegment seg)
    {
        for (long i = 0; i < seg.byteSize(); i += 8)
        {
            if (seg.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0)
            {
                return false;
            }
        }
        return true;
    }

    @Test
    void coherentMemoryIsZeroedWholePages()
    {
        final Device dev = attach(false, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        final DmaBuffer first = dev.allocCoherent(3 * 4096 + 5);
        assertThat(first).isNotNull();
        assertThat(first.size()).as("rounded up to whole pages").isEqualTo(4 * 4096);
        assertThat(first.phys() & 0xfff).isZero();
        assertThat(first.dma()).isEqualTo(first.phys());
        assertThat(first.coherent()).isTrue();
        assertThat(allZero(first.segment())).isTrue();

        first.segment().fill((byte)0xA5);
        assertThat(engine.memory().read(first.phys(), MemorySegment.ofArray(new byte[16]))).isEqualTo(MemTx.OK);
        dev.freeCoherent(first);
        final DmaBuffer second = dev.allocCoherent(3 * 4096 + 5);
        assertThat(second.phys()).as("the buddy allocator hands the same block back").isEqualTo(first.phys());
        assertThat(allZero(second.segment())).as("the garbage was zeroed").isTrue();
        dev.freeCoherent(second);

        final DmaBuffer small = dev.allocCoherent(1);
        assertThat(small.size()).isEqualTo(4096);
        dev.freeCoherent(small);
        assertThat(engine.stats().allocs()).isEqualTo(3);
        assertThat(engine.stats().frees()).isEqualTo(3);
    }

    @Test
    void zoneFollowsTheCoherentMask()
    {
        engine = DmaEngine.builder().build();
        final Device dma24 = engine.attach(DeviceConfig.pci("0000:03:00.0").dmaBits(24));
        final Device dma32 = engine.attach(DeviceConfig.pci("0000:04:00.0").dmaBits(32));
        final Device dma64 = engine.attach(DeviceConfig.pci("0000:05:00.0").dmaBits(64));
        final Device limited = engine.attach(DeviceConfig.pci("0000:06:00.0").busDmaLimit(0xFFFF_FFFFL));
        for (int i = 0; i < 4; i++)
        {
            final DmaBuffer a = dma24.allocCoherent(64 << 10);
            assertThat(a.phys() + a.size() - 1).as("24-bit: ZONE_DMA").isLessThan(16L << 20);
            final DmaBuffer b = dma32.allocCoherent(64 << 10);
            assertThat(b.phys() + b.size() - 1).as("32-bit: below 4 GiB").isLessThan(4L << 30);
            final DmaBuffer l = limited.allocCoherent(64 << 10);
            assertThat(l.phys() + l.size() - 1).as("bus limit: below 4 GiB").isLessThan(4L << 30);
            final DmaBuffer c = dma64.allocCoherent(64 << 10);
            assertThat(c.phys()).as("64-bit: ZONE_NORMAL first").isGreaterThanOrEqualTo(4L << 30);
        }

        // The coherent mask, not the streaming one, picks the zone.
        assertThat(dma64.setCoherentMask(0xFFFF_FFFFL)).isZero();
        assertThat(dma64.coherentMask()).isEqualTo(0xFFFF_FFFFL);
        assertThat(dma64.dmaMask()).isEqualTo(-1L);
        final DmaBuffer d = dma64.allocCoherent(4096);
        assertThat(d.phys()).isLessThan(4L << 30);
    }

    @Test
    void impossibleAllocationsReturnNull()
    {
        final Device dev = attach(false, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF));
        assertThat(dev.allocCoherent((4L << 20) + 1)).as("beyond MAX_ORDER").isNull();
        assertThat(dev.allocPages((4L << 20) + 1, DmaDirection.FROM_DEVICE)).isNull();
        final DmaBuffer max = dev.allocCoherent(4L << 20);
        assertThat(max).isNotNull();
        dev.freeCoherent(max);
        assertThat(engine.stats().allocs()).isEqualTo(1);
        dev.freeCoherent(null);
        assertThat(engine.stats().frees()).isEqualTo(1);
    }

    @Test
    void allocPagesIsZeroedNonCoherentMemory()
    {
        final Device dev = attach(true, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).coherent(false));
        final DmaBuffer buf = dev.allocPages(8192, DmaDirection.FROM_DEVICE);
        assertThat(buf.coherent()).isFalse();
        assertThat(buf.size()).isEqualTo(8192);
        assertThat(allZero(buf.segment())).isTrue();
        // Used like a reused streaming mapping: sync it.
        dev.syncSingleForDevice(buf.dma(), 8192, DmaDirection.FROM_DEVICE);
        dev.syncSingleForCpu(buf.dma(), 8192, DmaDirection.FROM_DEVICE);
        dev.freePages(buf, DmaDirection.FROM_DEVICE);
        assertThat(engine.debug().reports()).isEmpty();
        assertThat(engine.debug().liveEntries(dev)).isZero();
    }

    @Test
    void setMaskAcceptsWhatRamAllows()
    {
        final Device dev = attach(false, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF));
        assertThat(dev.setMask(0xFFFF_FFFFL)).isZero();
        assertThat(dev.setMask(-1L)).isZero();
        assertThat(dev.setMask((1L << 40) - 1)).isZero();
        assertThat(dev.setMask((1L << 24) - 1)).as("ZONE_DMA covers 24 bits").isZero();
        assertThat(dev.dmaMask()).isEqualTo((1L << 24) - 1);
        assertThat(dev.setMask((1L << 20) - 1)).as("no RAM zone below 1 MiB").isEqualTo(-Errno.EIO);
        assertThat(dev.dmaMask()).as("unchanged").isEqualTo((1L << 24) - 1);
        assertThat(dev.setMask(0)).isEqualTo(-Errno.EIO);

        assertThat(dev.setMaskAndCoherent((1L << 20) - 1)).isEqualTo(-Errno.EIO);
        assertThat(dev.coherentMask()).as("coherent mask untouched when the streaming one fails").isEqualTo(-1L);
        assertThat(dev.setMaskAndCoherent((1L << 36) - 1)).isZero();
        assertThat(dev.dmaMask()).isEqualTo((1L << 36) - 1);
        assertThat(dev.coherentMask()).isEqualTo((1L << 36) - 1);
        assertThat(dev.setCoherentMask((1L << 20) - 1)).isEqualTo(-Errno.EIO);

        assertThat(dev.requiredMask()).as("RAM ends at 6 GiB").isEqualTo(0x1_FFFF_FFFFL);
    }

    @Test
    void aNarrowerMaskMakesLaterMappingsBounce()
    {
        final Device dev = attach(false, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF));
        final long high = highPage(engine);
        final long direct = dev.mapPhys(high, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(direct).isEqualTo(high);
        dev.unmapPhys(direct, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.maxMappingSize()).isEqualTo(Long.MAX_VALUE);

        assertThat(dev.setMask(0xFFFF_FFFFL)).isZero();
        final long bounced = dev.mapPhys(high, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.swiotlb().isSwiotlbBuffer(bounced)).isTrue();
        dev.unmapPhys(bounced, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.maxMappingSize()).as("now addressing-limited").isEqualTo(256L << 10);
    }

    @Test
    void maxAndOptMappingSize()
    {
        engine = DmaEngine.builder().build();
        final Device wide = engine.attach(DeviceConfig.pci("0000:03:00.0"));
        final Device narrow = engine.attach(DeviceConfig.pci("0000:04:00.0").dmaBits(32));
        final Device nvme = engine.attach(DeviceConfig.pci("0000:05:00.0").dmaBits(32).minAlignMask(0xfff));
        assertThat(wide.maxMappingSize()).isEqualTo(Long.MAX_VALUE);
        assertThat(wide.optMappingSize()).isEqualTo(Long.MAX_VALUE);
        assertThat(narrow.maxMappingSize()).isEqualTo(256L << 10);
        assertThat(narrow.optMappingSize()).isEqualTo(256L << 10);
        assertThat(nvme.maxMappingSize()).as("less min_align_mask rounded to slots").isEqualTo((256L << 10) - 4096);
        engine.close();

        engine = DmaEngine.builder().swiotlb(SwiotlbConfig.defaults().force(true)).build();
        assertThat(engine.attach(DeviceConfig.pci(BDF)).maxMappingSize()).as("forced").isEqualTo(256L << 10);
        engine.close();

        engine = DmaEngine.builder().swiotlb(SwiotlbConfig.disabled()).build();
        assertThat(engine.attach(DeviceConfig.pci(BDF).dmaBits(32)).maxMappingSize()).as("no swiotlb")
            .isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void needSyncAndNeedUnmapOnACoherentDirectDevice()
    {
        final Device dev = attach(false, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        final long pool = engine.swiotlb().start();
        final long low = lowPage(engine);
        assertThat(dev.needSync(low)).isFalse();
        assertThat(dev.needSync(pool)).as("never bounced yet: dma_skip_sync short-cuts").isFalse();
        assertThat(dev.needUnmap()).isFalse();

        final long bounced = dev.mapPhys(highPage(engine), 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.needSync(bounced)).as("the first bounce clears dma_skip_sync").isTrue();
        assertThat(dev.needSync(low)).as("direct addresses still need nothing").isFalse();
        assertThat(dev.needUnmap()).isTrue();
        dev.unmapPhys(bounced, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
    }

    @Test
    void needSyncAndNeedUnmapWithDebugAndNonCoherent()
    {
        final Device dev = attach(true, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        assertThat(dev.needSync(engine.swiotlb().start())).as("debug: computed, a pool address").isTrue();
        assertThat(dev.needSync(lowPage(engine))).as("debug: computed, a direct address").isFalse();
        assertThat(dev.needUnmap()).as("debug: always").isTrue();

        final Device nc = engine.attach(DeviceConfig.pci("0000:05:00.0").coherent(false));
        assertThat(nc.needSync(lowPage(engine))).isTrue();
        assertThat(nc.needUnmap()).isTrue();
    }

    @Test
    void twoStepApiIsUnavailableWithoutAnIommu()
    {
        final Device dev = attach(true, SwiotlbConfig.defaults(), DeviceConfig.pci(BDF));
        final IovaState s = new IovaState();
        s.set(0x1234_0000L, 8192);
        assertThat(dev.iovaTryAlloc(s, lowPage(engine), 8192)).isFalse();
        assertThat(s.inUse()).as("state zeroed").isFalse();
        assertThat(s.addr()).isZero();
        assertThat(s.size()).isZero();
        final long buf = lowPage(engine);
        assertThat(dev.iovaLink(s, buf, 0, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isEqualTo(-Errno.EOPNOTSUPP);
        assertThat(dev.iovaSync(s, 0, 4096)).isEqualTo(-Errno.EOPNOTSUPP);
        dev.iovaUnlink(s, 0, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.iovaFree(s);
        dev.iovaDestroy(s, 0, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().iovaLinks()).isZero();
        assertThat(engine.debug().reports()).isEmpty();
    }
}
