package dev.dmasim.engine;

import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaBytes.assertBytes;
import static dev.dmasim.engine.DmaBytes.cpuRead;
import static dev.dmasim.engine.DmaBytes.cpuWrite;
import static dev.dmasim.engine.DmaBytes.devRead;
import static dev.dmasim.engine.DmaBytes.devWrite;
import static dev.dmasim.engine.DmaBytes.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Scatter-gather on dma-direct: one DMA segment per entry (never merged, even when physically contiguous), per
 * segment bouncing, all-or-nothing mapping (a failure midway unmaps what was mapped), unmap and sync with the
 * original {@code nents}, {@link SgTable}, and dma-debug's segment checks against {@code maxSegSize} and
 * {@code segBoundary}.
 */
class DirectScatterGatherTest
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

    @Test
    void directNeverMergesEvenContiguousEntries()
    {
        engine = DmaEngine.builder().build();
        final Device dev = engine.attach(DeviceConfig.pci(BDF));
        final long block = DmaBytes.pages(engine, 2, Zone.DMA32);
        final ScatterList sgl = new ScatterList(8);
        for (int i = 0; i < 4; i++)
        {
            sgl.set(i, block + i * 4096L, 4096);
        }
        assertThat(dev.mergeBoundary()).isZero();
        assertThat(dev.mapSg(sgl, 4, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isEqualTo(4);
        for (int i = 0; i < 4; i++)
        {
            assertThat(sgl.dmaAddress(i)).as("segment %d", i).isEqualTo(block + i * 4096L);
            assertThat(sgl.dmaLength(i)).as("segment %d", i).isEqualTo(4096);
        }
        assertThat(sgl.dmaLength(4)).as("past the mapped segments").isZero();
        dev.unmapSg(sgl, 4, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().sgMaps()).isEqualTo(1);
        assertThat(engine.stats().sgUnmaps()).isEqualTo(1);
    }

    @Test
    void segmentsBounceIndividuallyAndSyncWithTheOriginalNents()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        engine = DmaEngine.builder().build();
        final Device dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
        final long[] phys = {
            DmaBytes.pages(engine, 0, Zone.DMA32) + 100,
            DmaBytes.pages(engine, 1, Zone.NORMAL) + 7,
            DmaBytes.pages(engine, 0, Zone.DMA32),
        };
        final int[] len = { 1000, 5000, 4096 };
        final SgTable sgt = new SgTable(4);
        final byte[][] out = new byte[3][];
        for (int i = 0; i < 3; i++)
        {
            out[i] = random(rnd, len[i]);
            cpuWrite(engine, phys[i], out[i]);
            sgt.set(i, phys[i], len[i]);
        }
        assertThat(dev.mapSgtable(sgt, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE)).isZero();
        assertThat(sgt.nents()).isEqualTo(3);
        final ScatterList sgl = sgt.sgl();
        assertThat(sgl.dmaAddress(0)).isEqualTo(phys[0]);
        assertThat(engine.swiotlb().isSwiotlbBuffer(sgl.dmaAddress(1))).as("the high entry bounced").isTrue();
        assertThat(sgl.dmaAddress(2)).isEqualTo(phys[2]);
        for (int i = 0; i < 3; i++)
        {
            assertThat(sgl.dmaLength(i)).isEqualTo(len[i]);
            assertBytes(devRead(dev, sgl.dmaAddress(i), len[i]), out[i], "segment " + i + " seed " + seed);
        }

        final byte[][] in = new byte[3][];
        for (int i = 0; i < 3; i++)
        {
            in[i] = random(rnd, len[i]);
            devWrite(dev, sgl.dmaAddress(i), in[i]);
        }
        assertBytes(cpuRead(engine, phys[1], len[1]), out[1], "bounced segment stale before sync, seed " + seed);
        dev.syncSgForCpu(sgl, 3, DmaDirection.BIDIRECTIONAL);
        for (int i = 0; i < 3; i++)
        {
            assertBytes(cpuRead(engine, phys[i], len[i]), in[i], "segment " + i + " after sync, seed " + seed);
        }
        final byte[] update = random(rnd, len[1]);
        cpuWrite(engine, phys[1], update);
        dev.syncSgForDevice(sgl, 3, DmaDirection.BIDIRECTIONAL);
        assertBytes(devRead(dev, sgl.dmaAddress(1), len[1]), update, "after sync for device, seed " + seed);

        dev.unmapSgtable(sgt, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void aFailureMidwayUnmapsWhatWasMappedAndReturnsZero()
    {
        engine = DmaEngine.builder().swiotlb(SwiotlbConfig.defaults().size(256L << 10)).build();
        final Device dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
        // Occupy 100 of the 128 slots with a live mapping.
        final long hold = DmaBytes.pages(engine, 6, Zone.NORMAL);
        final long held = dev.mapPhys(hold, 200L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(held)).isFalse();
        final long before = engine.stats().swiotlbSlotsUsed();
        assertThat(before).isEqualTo(100);

        // Four 16 KiB entries need 32 slots: the first ones map, a later one finds the pool full.
        final ScatterList sgl = new ScatterList(4);
        final SgTable sgt = new SgTable(4);
        for (int i = 0; i < 4; i++)
        {
            final long p = DmaBytes.pages(engine, 2, Zone.NORMAL);
            sgl.set(i, p, 16 << 10);
            sgt.set(i, p, 16 << 10);
        }
        assertThat(dev.mapSg(sgl, 4, DmaDirection.FROM_DEVICE, DmaAttrs.NONE)).isZero();
        assertThat(engine.stats().swiotlbSlotsUsed()).as("the mapped entries were released").isEqualTo(before);
        assertThat(engine.stats().bounces()).as("some entries had been bounced").isGreaterThan(1);
        assertThat(dev.mapSgtable(sgt, DmaDirection.FROM_DEVICE, DmaAttrs.NONE)).isEqualTo(-Errno.EIO);
        assertThat(sgt.nents()).isZero();
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(before);
        assertThat(engine.stats().sgMaps()).isZero();
        assertThat(engine.stats().mapErrors()).isEqualTo(2);

        dev.unmapPhys(held, 200L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mapSg(sgl, 4, DmaDirection.FROM_DEVICE, DmaAttrs.NONE)).as("fits now").isEqualTo(4);
        dev.unmapSg(sgl, 4, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void dmaDebugChecksSegmentLengthAndBoundary()
    {
        engine = DmaEngine.builder().debug(true).build();
        final Device dev = engine.attach(DeviceConfig.pci(BDF).maxSegSize(4096).segBoundary(0xFFFF));
        final long block = DmaBytes.pages(engine, 5, Zone.DMA32); // 128 KiB, 128 KiB-aligned
        final ScatterList sgl = new ScatterList(3)
            .set(0, block, 4096)
            .set(1, block + 0x8000, 8192)
            .set(2, block + 0xF800, 4096);
        assertThat(dev.mapSg(sgl, 3, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).as("mapped all the same").isEqualTo(3);

        assertThat(engine.debug().reports()).extracting(DebugReport::kind).containsExactly(
            DebugReport.Kind.SG_SEGMENT_TOO_LONG, DebugReport.Kind.SG_SEGMENT_ACROSS_BOUNDARY);
        assertThat(engine.debug().reports().get(0).message()).isEqualTo("DMA-API: dmasim " + BDF
            + ": mapping sg segment longer than device claims to support [len=8192] [max=4096]");
        assertThat(engine.debug().reports().get(1).message()).isEqualTo("DMA-API: dmasim " + BDF
            + ": mapping sg segment across boundary [start=" + String.format("0x%016x", block + 0xF800)
            + "] [end=" + String.format("0x%016x", block + 0x107FF) + "] [boundary=0x000000000000ffff]");

        dev.unmapSg(sgl, 3, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.debug().reports()).hasSize(2);
        assertThat(engine.debug().liveEntries(dev)).isZero();
    }
}
