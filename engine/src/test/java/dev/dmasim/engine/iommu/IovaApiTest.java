package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.Errno;
import dev.dmasim.engine.FlushQueueConfig;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
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
 * The 2-step IOVA API ({@code dma_iova_*}) on dma-iommu: allocation only where there is translation, links that
 * need an explicit sync, unlinks that invalidate at once, destroy through the flush queue, the partial-failure
 * rollback, and dmasim's link/unlink balance check (the blk-mq leak, reference §7 #12).
 */
class IovaApiTest
{
    private static final long SEED = 0x10_7A5L;
    private static final FlushQueueConfig NO_TIMER = new FlushQueueConfig(256, 600_000, false);

    private static DmaEngine engine(final IommuMode mode)
    {
        return DmaEngine.builder().cpus(1).iommu(mode).flushQueue(NO_TIMER).debug(true).build();
    }

    @ParameterizedTest
    @EnumSource(IommuMode.class)
    void shouldAllocateOnlyOnTranslatedDevices(final IommuMode mode)
    {
        try (DmaEngine engine = engine(mode))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final IovaState s = new IovaState();
            final long buf = alloc(engine, 0);
            assertThat(dev.iovaTryAlloc(s, buf + 0x200, 3 * PAGE)).isEqualTo(mode.translated());
            if (mode.translated())
            {
                assertThat(s.addr()).as("granule offset of phys kept").isEqualTo(0xFFFF_C200L);
                assertThat(s.size()).isEqualTo(3 * PAGE);
                assertThat(dev.iovaRangesInUse()).isEqualTo(1);
                dev.iovaFree(s);
                assertThat(s.inUse()).isFalse();
                assertThat(dev.iovaRangesInUse()).isZero();
            }
            else
            {
                assertThat(s.inUse()).isFalse();
            }
            assertThat(dev.iovaTryAlloc(s, buf, 0)).isFalse();
        }
    }

    @Test
    void shouldLinkWithoutSyncingAndReadTheLinkedPagesAfterTheSync()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        try (DmaEngine engine = engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long[] pages = new long[3];
            final ByteArrayOutputStream expected = new ByteArrayOutputStream();
            for (int i = 0; i < pages.length; i++)
            {
                pages[i] = alloc(engine, 0);
                expected.writeBytes(fill(engine, pages[i], (int)PAGE, rnd));
            }
            final IovaState s = new IovaState();
            assertThat(dev.iovaTryAlloc(s, 0, 3 * PAGE)).isTrue();
            assertThat(devReadRc(dev, s.addr(), 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
            final long syncs = engine.iommu().mapSyncs();
            for (int i = 0; i < pages.length; i++)
            {
                assertThat(dev.iovaLink(s, pages[i], i * PAGE, PAGE, TO_DEVICE, 0)).isZero();
            }
            assertThat(engine.iommu().mapSyncs()).as("links do not sync").isEqualTo(syncs);
            assertThat(dev.iovaSync(s, 0, 3 * PAGE)).isZero();
            assertThat(engine.iommu().mapSyncs()).isEqualTo(syncs + 1);
            assertThat(engine.stats().iovaLinks()).isEqualTo(3);
            assertThat(devReadOk(dev, s.addr(), 3 * (int)PAGE)).isEqualTo(expected.toByteArray());

            final long addr = s.addr();
            dev.iovaDestroy(s, 3 * PAGE, TO_DEVICE, 0);
            assertThat(s.inUse()).isFalse();
            assertThat(devReadRc(dev, addr, 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldInvalidateAtOnceOnUnlinkButQueueTheDestroyInLazyMode()
    {
        try (DmaEngine engine = engine(IommuMode.LAZY))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 1);
            fill(engine, buf, 2 * (int)PAGE, new SplittableRandom(SEED));
            final IovaState s = new IovaState();
            assertThat(dev.iovaTryAlloc(s, buf, 2 * PAGE)).isTrue();
            final long addr = s.addr();
            assertThat(dev.iovaLink(s, buf, 0, 2 * PAGE, BIDIRECTIONAL, 0)).isZero();
            dev.iovaSync(s, 0, 2 * PAGE);
            devReadOk(dev, addr, 2 * (int)PAGE); // both pages now in the IOTLB

            dev.iovaUnlink(s, PAGE, PAGE, BIDIRECTIONAL, 0);
            assertThat(devReadRc(dev, addr + PAGE, 1)).as("unlink never waits for a flush")
                .isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(engine.stats().staleHits()).isZero();
            assertThat(engine.stats().pendingFlushes()).isZero();
            assertThat(devReadRc(dev, addr, 1)).isEqualTo(MemTx.OK);

            dev.iovaDestroy(s, PAGE, BIDIRECTIONAL, 0);
            assertThat(engine.stats().pendingFlushes()).as("destroy queued its IOVA").isEqualTo(1);
            assertThat(devReadRc(dev, addr, 1)).as("lazy: stale until the flush").isEqualTo(MemTx.OK);
            assertThat(engine.stats().staleHits()).isEqualTo(1);
            engine.flushQueues();
            assertThat(devReadRc(dev, addr, 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldUnlinkThenFree()
    {
        try (DmaEngine engine = engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 0);
            final IovaState s = new IovaState();
            assertThat(dev.iovaTryAlloc(s, buf, PAGE)).isTrue();
            dev.iovaLink(s, buf, 0, PAGE, TO_DEVICE, 0);
            dev.iovaSync(s, 0, PAGE);
            dev.iovaUnlink(s, 0, PAGE, TO_DEVICE, 0);
            assertThat(s.linkedBytes()).isZero();
            dev.iovaFree(s);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.debug().reports()).isEmpty();

            // freeing with something still linked is reported
            assertThat(dev.iovaTryAlloc(s, buf, PAGE)).isTrue();
            dev.iovaLink(s, buf, 0, PAGE, TO_DEVICE, 0);
            dev.iovaFree(s);
            assertThat(engine.debug().count(DebugReport.Kind.IOVA_LINK_IMBALANCE)).isEqualTo(1);
        }
    }

    @Test
    void shouldRefuseAnUnalignedLinkAfterTheFirst()
    {
        try (DmaEngine engine = engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long buf = alloc(engine, 1);
            final IovaState s = new IovaState();
            assertThat(dev.iovaTryAlloc(s, buf + 0x100, 2 * PAGE)).isTrue();
            assertThat(dev.iovaLink(s, buf + 0x100, 0, PAGE - 0x100, TO_DEVICE, 0)).as("the first may").isZero();
            assertThat(dev.iovaLink(s, buf + PAGE + 0x10, PAGE - 0x100, 0x100, TO_DEVICE, 0)).isEqualTo(-Errno.EIO);
            assertThat(engine.log().contains("only the first link may start unaligned")).isTrue();
            assertThat(s.linkedBytes()).isEqualTo(PAGE - 0x100);
            dev.iovaDestroy(s, PAGE - 0x100, TO_DEVICE, 0);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldUnlinkWhatAFailedLinkMappedAndReportTheBlkMqLeak()
    {
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT).debug(true)
            .swiotlb(SwiotlbConfig.defaults().size(256 << 10)).build())
        {
            // a 32-bit dma-direct device bouncing 252 KiB from above 4 GiB leaves exactly one granule of the pool
            final Device hog = engine.attach(DeviceConfig.pci("0000:01:00.0").dmaBits(32).iommu(IommuMode.NONE));
            final long high = engine.pages().allocPages(6, Zone.NORMAL);
            assertThat(high).isGreaterThanOrEqualTo(4L << 30);
            final long hogged = hog.mapPhys(high, 252 << 10, TO_DEVICE, 0);
            assertThat(hog.mappingError(hogged)).isFalse();
            final long usedByHog = engine.swiotlb().usedSlots();
            assertThat(usedByHog).isEqualTo(126);

            // NVMe-like: min_align_mask keeps the granule offset in the bounce slot, which the link path needs
            final Device dev = engine.attach(DeviceConfig.pci("0000:05:00.0").untrusted(true).minAlignMask(0xFFF));
            final long buf = alloc(engine, 1);
            fill(engine, buf, 2 * (int)PAGE, new SplittableRandom(SEED));
            final IovaState s = new IovaState();
            final long len = (PAGE - 0x800) + PAGE + 0x100; // bounced head, linked middle, bounced tail
            assertThat(dev.iovaTryAlloc(s, buf + 0x800, len)).isTrue();
            final int rc = dev.iovaLink(s, buf + 0x800, 0, len, TO_DEVICE, 0);
            assertThat(rc).as("the tail bounce found no slot").isEqualTo(-Errno.ENOMEM);
            assertThat(s.linkedBytes()).isZero();
            assertThat(engine.swiotlb().usedSlots()).as("head bounce released").isEqualTo(usedByHog);
            assertThat(devReadRc(dev, s.addr(), 1)).as("head unlinked").isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(devReadRc(dev, (s.addr() & -PAGE) + PAGE, 1)).as("middle unlinked")
                .isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(engine.debug().reports()).isEmpty();

            // blk-mq before the fix: ignores the error and destroys the whole length
            dev.iovaDestroy(s, len, TO_DEVICE, 0);
            assertThat(engine.debug().reports()).extracting(DebugReport::kind)
                .containsExactly(DebugReport.Kind.IOVA_LINK_IMBALANCE);
            assertThat(dev.iovaRangesInUse()).as("dmasim still frees the allocation").isZero();
            assertThat(engine.swiotlb().usedSlots()).isEqualTo(usedByHog);

            hog.unmapPhys(hogged, 252 << 10, TO_DEVICE, 0);
            assertThat(dev.iovaTryAlloc(s, buf + 0x800, len)).isTrue();
            assertThat(dev.iovaLink(s, buf + 0x800, 0, len, TO_DEVICE, 0)).as("with room it links").isZero();
            assertThat(s.usesSwiotlb()).isTrue();
            dev.iovaSync(s, 0, len);
            dev.iovaDestroy(s, len, TO_DEVICE, 0);
            assertThat(engine.swiotlb().usedSlots()).isZero();
            assertThat(dev.iovaRangesInUse()).isZero();
        }
    }

    @Test
    void shouldFailAnUnalignedBouncedLinkWithoutMinAlignMaskAsTheKernelDoes()
    {
        try (DmaEngine engine = engine(IommuMode.STRICT))
        {
            // swiotlb keeps only the min_align_mask bits of the offset; with none the bounce slot starts on a
            // granule, and bounce_phys - iova_start_pad is misaligned: iommu_map refuses it (-EINVAL)
            final Device dev = engine.attach(DeviceConfig.pci("0000:05:00.0").untrusted(true));
            final long buf = alloc(engine, 1);
            final IovaState s = new IovaState();
            assertThat(dev.iovaTryAlloc(s, buf + 0x800, PAGE)).isTrue();
            assertThat(dev.iovaLink(s, buf + 0x800, 0, PAGE, TO_DEVICE, 0)).isEqualTo(-Errno.EINVAL);
            assertThat(engine.swiotlb().usedSlots()).isZero();
            assertThat(s.linkedBytes()).isZero();
            dev.iovaFree(s);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(dev.iovaTryAlloc(s, buf, 2 * PAGE)).isTrue();
            assertThat(dev.iovaLink(s, buf, 0, 2 * PAGE, TO_DEVICE, 0)).as("aligned links are not bounced").isZero();
            dev.iovaSync(s, 0, 2 * PAGE);
            dev.iovaDestroy(s, 2 * PAGE, TO_DEVICE, 0);
            assertThat(engine.debug().reports()).isEmpty();
        }
    }
}
