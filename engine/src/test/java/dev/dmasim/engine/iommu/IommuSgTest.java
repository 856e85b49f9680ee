package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaDirection.BIDIRECTIONAL;
import static dev.dmasim.engine.DmaDirection.TO_DEVICE;
import static dev.dmasim.engine.iommu.IommuTestSupport.PAGE;
import static dev.dmasim.engine.iommu.IommuTestSupport.alloc;
import static dev.dmasim.engine.iommu.IommuTestSupport.cpuRead;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadOk;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadRc;
import static dev.dmasim.engine.iommu.IommuTestSupport.fill;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code iommu_dma_map_sg} through {@code Device.mapSg}: one IOVA for the whole list and the kernel's
 * {@code __finalise_sg} merge rules (page-aligned runs merge; an offset starts a segment; a short entry ends the
 * run; max_seg_size splits; seg_boundary padding), what the device reads through each output segment, and
 * {@code unmapSg} freeing the one range.
 */
class IommuSgTest
{
    private static final long SEED = 0x5C_A77E4L;
    private DmaEngine engine;
    private long[] page;

    @BeforeEach
    void start()
    {
        engine = IommuTestSupport.engine(IommuMode.STRICT);
        page = new long[8];
        final SplittableRandom rnd = new SplittableRandom(SEED);
        for (int i = 0; i < page.length; i++)
        {
            page[i] = alloc(engine, 1); // 8 KiB each, scattered
            fill(engine, page[i], 2 * (int)PAGE, rnd);
        }
    }

    @AfterEach
    void stop()
    {
        assertThat(engine.debug().reports()).isEmpty();
        engine.close();
    }

    private byte[] cpu(final ScatterList sgl, final int nents)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < nents; i++)
        {
            out.writeBytes(cpuRead(engine, sgl.phys(i), (int)sgl.length(i)));
        }
        return out.toByteArray();
    }

    private static byte[] device(final Device dev, final ScatterList sgl, final int segments)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < segments; i++)
        {
            out.writeBytes(devReadOk(dev, sgl.dmaAddress(i), (int)sgl.dmaLength(i)));
        }
        return out.toByteArray();
    }

    private static java.util.List<String> segments(final ScatterList sgl, final int count)
    {
        final java.util.List<String> s = new java.util.ArrayList<>();
        for (int i = 0; i < count; i++)
        {
            s.add(seg(sgl.dmaAddress(i), sgl.dmaLength(i)));
        }
        return s;
    }

    private static String seg(final long dma, final long len)
    {
        return "0x" + Long.toHexString(dma) + "+" + len;
    }

    @Test
    void shouldMergePageAlignedEntriesIntoOneSegment()
    {
        final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
        final ScatterList sgl = new ScatterList(3).set(0, page[0], PAGE).set(1, page[1], PAGE).set(2, page[2], 2 * PAGE);
        assertThat(dev.mapSg(sgl, 3, TO_DEVICE, 0)).isEqualTo(1);
        assertThat(segments(sgl, 1)).containsExactly(seg(0xFFFF_C000L, 4 * PAGE));
        assertThat(sgl.dmaLength(1)).isZero();
        assertThat(new long[] { sgl.dmaAddress(1), sgl.dmaLength(1), sgl.dmaAddress(2), sgl.dmaLength(2) })
            .as("entries past the last segment: DMA_MAPPING_ERROR, 0").containsExactly(-1L, 0L, -1L, 0L);
        assertThat(device(dev, sgl, 1)).isEqualTo(cpu(sgl, 3));
        assertThat(dev.iovaRangesInUse()).as("one IOVA for the list").isEqualTo(1);
        dev.unmapSg(sgl, 3, TO_DEVICE, 0);
        assertThat(dev.iovaRangesInUse()).isZero();
        assertThat(devReadRc(dev, 0xFFFF_C000L, 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
        assertThat(devReadRc(dev, 0xFFFF_F000L, 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
        assertThat(engine.stats().strictInvalidations()).as("one range, one invalidation").isEqualTo(1);
    }

    @Test
    void shouldStartANewSegmentAtAnOffsetAndAfterAShortEntry()
    {
        final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
        // [0] full page, [1] starts at 0x100 -> new segment; [2] full page merges onto [1] (which ends at its
        // granule end); [3] ends at 0x800 -> ends the run; [4] page-aligned but starts a new segment
        final ScatterList sgl = new ScatterList(5)
            .set(0, page[0], PAGE)
            .set(1, page[1] + 0x100, PAGE - 0x100)
            .set(2, page[2], PAGE)
            .set(3, page[3], 0x800)
            .set(4, page[4], PAGE);
        final int n = dev.mapSg(sgl, 5, BIDIRECTIONAL, 0);
        assertThat(n).isEqualTo(3);
        final long iova = 0xFFFF_8000L; // 5 granules, rounded to 8
        assertThat(segments(sgl, 3)).containsExactly(
            seg(iova, PAGE),
            seg(iova + PAGE + 0x100, (PAGE - 0x100) + PAGE + 0x800),
            seg(iova + 4 * PAGE, PAGE));
        assertThat(new long[] { sgl.dmaAddress(3), sgl.dmaLength(3), sgl.dmaAddress(4), sgl.dmaLength(4) })
            .as("entries past the last segment: DMA_MAPPING_ERROR, 0").containsExactly(-1L, 0L, -1L, 0L);
        assertThat(device(dev, sgl, n)).isEqualTo(cpu(sgl, 5));
        assertThat(new long[] { sgl.phys(1), sgl.length(1), sgl.phys(3), sgl.length(3) }).as("CPU side restored")
            .containsExactly(page[1] + 0x100, PAGE - 0x100, page[3], 0x800);
        dev.unmapSg(sgl, 5, BIDIRECTIONAL, 0);
        assertThat(dev.iovaRangesInUse()).isZero();
    }

    @Test
    void shouldSplitAtTheMaxSegmentSize()
    {
        final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").maxSegSize(2 * PAGE));
        final ScatterList sgl = new ScatterList(5);
        for (int i = 0; i < 5; i++)
        {
            sgl.set(i, page[i], PAGE);
        }
        assertThat(dev.mapSg(sgl, 5, TO_DEVICE, 0)).isEqualTo(3);
        final long iova = 0xFFFF_8000L;
        assertThat(segments(sgl, 3)).containsExactly(
            seg(iova, 2 * PAGE), seg(iova + 2 * PAGE, 2 * PAGE), seg(iova + 4 * PAGE, PAGE));
        assertThat(device(dev, sgl, 3)).isEqualTo(cpu(sgl, 5));
        dev.unmapSg(sgl, 5, TO_DEVICE, 0);
    }

    @Test
    void shouldPadSoThatNoSegmentCrossesTheBoundary()
    {
        final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").segBoundary(0x3FFF));
        final ScatterList sgl = new ScatterList(3).set(0, page[0], PAGE).set(1, page[1], 2 * PAGE)
            .set(2, page[2], 2 * PAGE);
        assertThat(dev.mapSg(sgl, 3, TO_DEVICE, 0)).isEqualTo(2);
        // [0]+[1] fill 12 KiB of the first 16 KiB window; [1] is padded by 4 KiB so [2] starts the next window
        final long iova = 0xFFFF_8000L; // 24 KiB rounded to 32 KiB
        assertThat(segments(sgl, 2)).containsExactly(seg(iova, 3 * PAGE), seg(iova + 4 * PAGE, 2 * PAGE));
        assertThat(device(dev, sgl, 2)).isEqualTo(cpu(sgl, 3));
        dev.unmapSg(sgl, 3, TO_DEVICE, 0);
        assertThat(dev.iovaRangesInUse()).isZero();
        assertThat(devReadRc(dev, iova + 3 * PAGE, 1)).as("the padding granule is unmapped too")
            .isEqualTo(MemTx.TRANSLATION_FAULT);
    }

    @Test
    void shouldKeepRandomListsIntactThroughTheMerge()
    {
        final SplittableRandom rnd = new SplittableRandom(SEED);
        final long maxSeg = 16 * PAGE;
        final long boundary = 0xFFFF;
        final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").maxSegSize(maxSeg).segBoundary(boundary));
        final ScatterList sgl = new ScatterList(8);
        for (int iter = 0; iter < 500; iter++)
        {
            final int nents = 1 + rnd.nextInt(8);
            final long[] phys = new long[nents];
            final long[] len = new long[nents];
            for (int i = 0; i < nents; i++)
            {
                final boolean aligned = rnd.nextInt(3) != 0;
                final long off = aligned ? 0 : rnd.nextLong(PAGE);
                len[i] = aligned && rnd.nextBoolean() ? PAGE * (1 + rnd.nextInt(2)) : 1 + rnd.nextLong(2 * PAGE - off);
                phys[i] = page[rnd.nextInt(page.length)] + off;
                sgl.set(i, phys[i], len[i]);
            }
            final byte[] expected = cpu(sgl, nents);
            final int n = dev.mapSg(sgl, nents, TO_DEVICE, 0);
            assertThat(n).as("seed %x iteration %d", SEED, iter).isBetween(1, nents);
            long total = 0;
            for (int i = 0; i < n; i++)
            {
                final long a = sgl.dmaAddress(i);
                final long l = sgl.dmaLength(i);
                total += l;
                assertThat(l).as("seed %x iteration %d segment %d", SEED, iter, i).isBetween(1L, maxSeg);
                assertThat(a & ~boundary).as("seed %x iteration %d segment %d crosses", SEED, iter, i)
                    .isEqualTo((a + l - 1) & ~boundary);
            }
            assertThat(total).isEqualTo(java.util.Arrays.stream(len).sum());
            assertThat(device(dev, sgl, n)).as("seed %x iteration %d", SEED, iter).isEqualTo(expected);
            for (int i = 0; i < nents; i++)
            {
                assertThat(sgl.phys(i)).isEqualTo(phys[i]);
                assertThat(sgl.length(i)).isEqualTo(len[i]);
            }
            final long first = sgl.dmaAddress(0);
            dev.unmapSg(sgl, nents, TO_DEVICE, 0);
            assertThat(devReadRc(dev, first, 1)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(dev.iovaRangesInUse()).as("seed %x iteration %d", SEED, iter).isZero();
        }
    }
}
