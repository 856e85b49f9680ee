package dev.dmasim.engine.debug;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.debug.DebugReport.Kind;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.dmasim.engine.DmaDirection.BIDIRECTIONAL;
import static dev.dmasim.engine.DmaDirection.FROM_DEVICE;
import static dev.dmasim.engine.DmaDirection.TO_DEVICE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every dma-debug check, triggered on purpose, asserted by kind and the kernel's exact text. */
class DmaDebugTest
{
    private static final String P = "DMA-API: nvme 0000:03:00.0: ";

    private final TestMemory mem = new TestMemory();
    private KernelLog log;
    private DmaDebug debug;
    private TestDevice dev;

    @BeforeEach
    void setUp()
    {
        log = new KernelLog(100);
        debug = new DmaDebug(mem, log);
        dev = new TestDevice("nvme", "0000:03:00.0");
    }

    private DebugReport only(final Kind kind)
    {
        final List<DebugReport> reports = debug.reports();
        assertThat(reports).extracting(DebugReport::kind).containsExactly(kind);
        assertThat(debug.count(kind)).isEqualTo(1);
        return reports.getFirst();
    }

    private void mapChecked(final long phys, final long size, final DmaDirection dir, final long dma)
    {
        debug.mapPhys(dev, phys, size, dir, dma, DmaAttrs.NONE);
        debug.mappingError(dev, dma);
    }

    // ------------------------------------------------------------------------------------------- clean driver

    @Test
    void shouldReportNothingForACorrectDriver()
    {
        // single: map, check, hand to device, take back, unmap
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x8000_0000L);
        debug.syncSingle(dev, 0x8000_0000L, 4096, TO_DEVICE, false);
        debug.syncSingle(dev, 0x8000_0000L, 4096, TO_DEVICE, true);
        debug.unmapPhys(dev, 0x8000_0000L, 4096, TO_DEVICE, DmaAttrs.NONE);

        mapChecked(0x20_0000, 8192, FROM_DEVICE, 0x8001_0000L);
        debug.syncSingle(dev, 0x8001_0000L + 4096, 4096, FROM_DEVICE, true);   // partial range
        debug.syncSingle(dev, 0x8001_0000L, 8192, FROM_DEVICE, false);
        debug.unmapPhys(dev, 0x8001_0000L, 8192, FROM_DEVICE, DmaAttrs.NONE);

        mapChecked(0x30_0000, 512, BIDIRECTIONAL, 0x8002_0000L);
        debug.syncSingle(dev, 0x8002_0000L, 512, BIDIRECTIONAL, false);
        debug.syncSingle(dev, 0x8002_0000L, 512, BIDIRECTIONAL, true);
        debug.unmapPhys(dev, 0x8002_0000L, 512, BIDIRECTIONAL, DmaAttrs.NONE);

        // sg: 3 entries, the mapping merged the last two
        final ScatterList sgl = new ScatterList(3)
            .set(0, 0x40_0000, 4096).set(1, 0x50_0000, 4096).set(2, 0x50_1000, 4096);
        sgl.setDma(0, 0x9000_0000L, 4096);
        sgl.setDma(1, 0x9000_2000L, 8192);
        debug.mapSg(dev, sgl, 3, 2, FROM_DEVICE, DmaAttrs.NONE);
        debug.syncSg(dev, sgl, 3, FROM_DEVICE, true);
        debug.syncSg(dev, sgl, 3, FROM_DEVICE, false);
        assertThat(debug.liveEntries(dev)).isEqualTo(2);
        debug.unmapSg(dev, sgl, 3, FROM_DEVICE);

        // coherent and non-coherent allocations
        debug.allocCoherent(dev, 8192, 0x60_0000, 0xA000_0000L);
        debug.allocPages(dev, 4096, 0x70_0000, 0xA001_0000L, FROM_DEVICE);
        debug.syncSingle(dev, 0xA001_0000L, 4096, FROM_DEVICE, true);
        debug.freePages(dev, 4096, 0x70_0000, 0xA001_0000L, FROM_DEVICE);
        debug.freeCoherent(dev, 8192, 0x60_0000, 0xA000_0000L);

        // a failed mapping is not recorded, and its unmap is never called
        debug.mapPhys(dev, 0x80_0000, 4096, TO_DEVICE, DmaDebug.DMA_MAPPING_ERROR, DmaAttrs.NONE);
        debug.mappingError(dev, DmaDebug.DMA_MAPPING_ERROR);

        debug.deviceReleased(dev);

        assertThat(debug.reports()).isEmpty();
        assertThat(debug.errorCount()).isZero();
        assertThat(log.count()).isZero();
        assertThat(debug.liveEntries()).isZero();
        assertThat(debug.liveEntries(dev)).isZero();
    }

    // ------------------------------------------------------------------------------------------- unmap / free

    @Test
    void shouldReportFreeOfInvalidAddress()
    {
        debug.unmapPhys(dev, DmaDebug.DMA_MAPPING_ERROR, 4096, TO_DEVICE, DmaAttrs.NONE);

        final DebugReport r = only(Kind.FREE_INVALID_ADDRESS);
        assertThat(r.message()).isEqualTo(P + "device driver tries to free an invalid DMA memory address");
        assertThat(r.mapStack()).isNull();
        assertThat(r.toString()).isEqualTo(r.message());
    }

    @Test
    void shouldReportFreeOfMemoryNotAllocated()
    {
        debug.unmapPhys(dev, 0x1234_5000L, 4096, TO_DEVICE, DmaAttrs.NONE);

        assertThat(only(Kind.FREE_NOT_ALLOCATED).message()).isEqualTo(P + "device driver tries to free DMA memory " +
            "it has not allocated [device address=0x0000000012345000] [size=4096 bytes]");
    }

    @Test
    void shouldMatchDevicesByIdentityNotByName()
    {
        final TestDevice twin = new TestDevice("nvme", "0000:03:00.0");
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x1000);
        debug.unmapPhys(twin, 0x1000, 4096, TO_DEVICE, DmaAttrs.NONE);

        assertThat(only(Kind.FREE_NOT_ALLOCATED).dmaAddress()).isEqualTo(0x1000);
        assertThat(debug.liveEntries(dev)).isEqualTo(1);
    }

    @Test
    void shouldReportFreeWithDifferentSize()
    {
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x1000);
        debug.unmapPhys(dev, 0x1000, 2048, TO_DEVICE, DmaAttrs.NONE);

        final DebugReport r = only(Kind.FREE_WRONG_SIZE);
        assertThat(r.message()).isEqualTo(P + "device driver frees DMA memory with different size " +
            "[device address=0x0000000000001000] [map size=4096 bytes] [unmap size=2048 bytes]");
        assertThat(r.mapSize()).isEqualTo(4096);
        assertThat(r.size()).isEqualTo(2048);
        assertThat(debug.liveEntries()).isZero();
    }

    @Test
    void shouldReportFreeWithWrongFunction()
    {
        debug.allocCoherent(dev, 4096, 0x10_0000, 0x2000);
        debug.unmapPhys(dev, 0x2000, 4096, BIDIRECTIONAL, DmaAttrs.NONE);

        final DebugReport r = only(Kind.FREE_WRONG_FUNCTION);
        assertThat(r.message()).isEqualTo(P + "device driver frees DMA memory with wrong function " +
            "[device address=0x0000000000002000] [size=4096 bytes] [mapped as coherent] [unmapped as phy]");
        assertThat(r.mappedAs()).isEqualTo(MappingType.COHERENT);
        assertThat(r.calledAs()).isEqualTo(MappingType.PHY);
    }

    @Test
    void shouldReportSgMappingUnmappedAsPhy()
    {
        final ScatterList sgl = new ScatterList(1).set(0, 0x10_0000, 4096);
        sgl.setDma(0, 0x3000, 4096);
        debug.mapSg(dev, sgl, 1, 1, TO_DEVICE, DmaAttrs.NONE);
        debug.unmapPhys(dev, 0x3000, 4096, TO_DEVICE, DmaAttrs.NONE);

        assertThat(only(Kind.FREE_WRONG_FUNCTION).message()).endsWith("[mapped as scatter-gather] [unmapped as phy]");
    }

    @Test
    void shouldReportFreeWithDifferentCpuAddress()
    {
        debug.allocCoherent(dev, 4096, 0x10_0000, 0x4000);
        debug.freeCoherent(dev, 4096, 0x20_0000, 0x4000);

        // The kernel's format is "0x%pa" and %pa prints its own "0x".
        assertThat(only(Kind.FREE_WRONG_CPU_ADDRESS).message()).isEqualTo(P + "device driver frees DMA memory " +
            "with different CPU address [device address=0x0000000000004000] [size=4096 bytes] " +
            "[cpu alloc address=0x0x0000000000100000] [cpu free address=0x0x0000000000200000]");
    }

    @Test
    void shouldReportNoncoherentFreeWithDifferentCpuAddress()
    {
        debug.allocPages(dev, 4096, 0x10_0000, 0x4000, TO_DEVICE);
        debug.freePages(dev, 4096, 0x10_1000, 0x4000, TO_DEVICE);

        assertThat(only(Kind.FREE_WRONG_CPU_ADDRESS).mappedAs()).isEqualTo(MappingType.NONCOHERENT);
    }

    @Test
    void shouldReportSgUnmapWithDifferentEntryCount()
    {
        final ScatterList sgl = new ScatterList(3).set(0, 0x10_0000, 4096).set(1, 0x20_0000, 4096)
            .set(2, 0x30_0000, 4096);
        sgl.setDma(0, 0x5000, 4096);
        sgl.setDma(1, 0x7000, 4096);
        debug.mapSg(dev, sgl, 2, 2, TO_DEVICE, DmaAttrs.NONE);
        debug.unmapSg(dev, sgl, 3, TO_DEVICE);

        final List<DebugReport> reports = debug.reports();
        assertThat(reports).extracting(DebugReport::kind).containsExactly(Kind.FREE_SG_COUNT, Kind.FREE_SG_COUNT);
        assertThat(reports.getFirst().message()).isEqualTo(P +
            "device driver frees DMA sg list with different entry count [map count=2] [unmap count=3]");
        assertThat(reports.getFirst().mapCount()).isEqualTo(2);
        assertThat(reports.getFirst().count()).isEqualTo(3);
        assertThat(debug.liveEntries()).isZero();
    }

    @Test
    void shouldReportEverySegmentOfAnUnknownSgList()
    {
        final ScatterList sgl = new ScatterList(2).set(0, 0x10_0000, 4096).set(1, 0x20_0000, 4096);
        sgl.setDma(0, 0x5000, 4096);
        sgl.setDma(1, 0x7000, 4096);
        debug.unmapSg(dev, sgl, 2, TO_DEVICE);

        assertThat(debug.reports()).extracting(DebugReport::kind)
            .containsExactly(Kind.FREE_NOT_ALLOCATED, Kind.FREE_NOT_ALLOCATED);
    }

    @Test
    void shouldReportFreeWithDifferentDirection()
    {
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x6000);
        debug.unmapPhys(dev, 0x6000, 4096, FROM_DEVICE, DmaAttrs.NONE);

        final DebugReport r = only(Kind.FREE_WRONG_DIRECTION);
        assertThat(r.message()).isEqualTo(P + "device driver frees DMA memory with different direction " +
            "[device address=0x0000000000006000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] " +
            "[unmapped with DMA_FROM_DEVICE]");
        assertThat(r.mappedWith()).isEqualTo(TO_DEVICE);
        assertThat(r.calledWith()).isEqualTo(FROM_DEVICE);
    }

    @Test
    void shouldReportMissedMappingErrorCheck()
    {
        debug.mapPhys(dev, 0x10_0000, 4096, TO_DEVICE, 0x7000, DmaAttrs.NONE);
        debug.unmapPhys(dev, 0x7000, 4096, TO_DEVICE, DmaAttrs.NONE);

        final DebugReport r = only(Kind.MAP_ERROR_NOT_CHECKED);
        assertThat(r.message()).isEqualTo(P + "device driver failed to check map error" +
            "[device address=0x0000000000007000] [size=4096 bytes] [mapped as phy]");
        assertThat(r.toString()).startsWith(r.message() + "\nDMA-API: Mapped at:\n ");
    }

    @Test
    void shouldMarkOnlyOneOfTwoIdenticalMappingsChecked()
    {
        // Without an IOMMU the same page mapped twice gives the same dma address twice.
        debug.mapPhys(dev, 0x10_0000, 4096, TO_DEVICE, 0x7000, DmaAttrs.NONE);
        debug.mapPhys(dev, 0x10_0000, 4096, TO_DEVICE, 0x7000, DmaAttrs.NONE);
        debug.mappingError(dev, 0x7000);
        debug.unmapPhys(dev, 0x7000, 4096, TO_DEVICE, DmaAttrs.NONE);   // perfect fit: the first, checked
        assertThat(debug.reports()).isEmpty();
        debug.unmapPhys(dev, 0x7000, 4096, TO_DEVICE, DmaAttrs.NONE);

        assertThat(only(Kind.MAP_ERROR_NOT_CHECKED).dmaAddress()).isEqualTo(0x7000);
    }

    @Test
    void shouldPickTheBestFitAmongSeveralMappingsOfOneAddress()
    {
        mapChecked(0x10_0000, 100, TO_DEVICE, 0x8000);
        mapChecked(0x10_0000, 200, TO_DEVICE, 0x8000);
        debug.unmapPhys(dev, 0x8000, 200, TO_DEVICE, DmaAttrs.NONE);
        assertThat(debug.reports()).isEmpty();
        assertThat(debug.liveEntries(dev)).isEqualTo(1);
    }

    @Test
    void shouldFindNothingWhenSeveralMatchAndNoneFitsPerfectly()
    {
        mapChecked(0x10_0000, 100, TO_DEVICE, 0x8000);
        mapChecked(0x10_0000, 200, TO_DEVICE, 0x8000);
        debug.unmapPhys(dev, 0x8000, 300, TO_DEVICE, DmaAttrs.NONE);

        assertThat(only(Kind.FREE_NOT_ALLOCATED).message()).endsWith("[size=300 bytes]");
        assertThat(debug.liveEntries(dev)).isEqualTo(2);
    }

    // --------------------------------------------------------------------------------------------------- sync

    @Test
    void shouldReportSyncOfMemoryNotAllocated()
    {
        debug.syncSingle(dev, 0x9000, 64, FROM_DEVICE, true);

        final DebugReport r = only(Kind.SYNC_NOT_ALLOCATED);
        assertThat(r.message()).isEqualTo(P + "device driver tries to sync DMA memory it has not allocated " +
            "[device address=0x0000000000009000] [size=64 bytes]");
    }

    @Test
    void shouldReportSyncReachingPastTheMappingAsNotAllocated()
    {
        // The lookup needs a containing mapping, so an over-long sync is "not allocated", not "outside range".
        mapChecked(0x10_0000, 4096, BIDIRECTIONAL, 0xA000);
        debug.syncSingle(dev, 0xA800, 4096, BIDIRECTIONAL, true);

        assertThat(only(Kind.SYNC_NOT_ALLOCATED).dmaAddress()).isEqualTo(0xA800);
    }

    @Test
    void shouldFindAContainingMappingInAnEarlierBucket()
    {
        mapChecked(0x10_0000, 0x10000, FROM_DEVICE, 0x2_0000);           // buckets 16..23
        debug.syncSingle(dev, 0x2_E000, 0x100, FROM_DEVICE, true);         // bucket 23
        assertThat(debug.reports()).isEmpty();
    }

    @Test
    void shouldReportSyncOutsideRangeOnlyWhenTheSizeExceedsTheMapping()
    {
        // The kernel compares sizes only; with u64 wrap-around a sync larger than the mapping still "fits".
        mapChecked(0x10_0000, 0x1000, BIDIRECTIONAL, 0x1000);
        final long hugeSize = -0x1000L;                                     // 0xfffffffffffff000
        debug.syncSingle(dev, 0x1800, hugeSize, BIDIRECTIONAL, false);

        final DebugReport r = only(Kind.SYNC_OUTSIDE_RANGE);
        assertThat(r.message()).isEqualTo(P + "device driver syncs DMA memory outside allocated range " +
            "[device address=0x0000000000001000] [allocation size=4096 bytes] " +
            "[sync offset+size=18446744073709547520]");
    }

    @Test
    void shouldReportSyncWithDifferentDirection()
    {
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0xB000);
        debug.syncSingle(dev, 0xB000, 4096, BIDIRECTIONAL, false);

        assertThat(only(Kind.SYNC_WRONG_DIRECTION).message()).isEqualTo(P + "device driver syncs DMA memory with " +
            "different direction [device address=0x000000000000b000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] " +
            "[synced with DMA_BIDIRECTIONAL]");
    }

    @Test
    void shouldReportSyncForCpuOfDeviceReadOnlyMemory()
    {
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0xB000);
        debug.syncSingle(dev, 0xB000, 4096, FROM_DEVICE, true);

        final List<DebugReport> reports = debug.reports();
        assertThat(reports).extracting(DebugReport::kind)
            .containsExactly(Kind.SYNC_WRONG_DIRECTION, Kind.SYNC_CPU_DEVICE_READ_ONLY);
        assertThat(reports.get(1).message()).isEqualTo(P + "device driver syncs device read-only DMA memory for " +
            "cpu [device address=0x000000000000b000] [size=4096 bytes] [mapped with DMA_TO_DEVICE] " +
            "[synced with DMA_FROM_DEVICE]");
    }

    @Test
    void shouldReportSyncForDeviceOfDeviceWriteOnlyMemory()
    {
        debug.allocPages(dev, 8192, 0x10_0000, 0xC000, FROM_DEVICE);
        debug.syncSingle(dev, 0xD000, 4096, TO_DEVICE, false);

        final List<DebugReport> reports = debug.reports();
        assertThat(reports).extracting(DebugReport::kind)
            .containsExactly(Kind.SYNC_WRONG_DIRECTION, Kind.SYNC_DEVICE_WRITE_ONLY);
        assertThat(reports.get(1).message()).isEqualTo(P + "device driver syncs device write-only DMA memory to " +
            "device [device address=0x000000000000d000] [size=8192 bytes] [mapped with DMA_FROM_DEVICE] " +
            "[synced with DMA_TO_DEVICE]");
    }

    @Test
    void shouldSkipDirectionChecksForBidirectionalMappings()
    {
        debug.allocCoherent(dev, 4096, 0x10_0000, 0xC000);
        debug.syncSingle(dev, 0xC000, 4096, TO_DEVICE, true);
        debug.syncSingle(dev, 0xC000, 4096, FROM_DEVICE, false);
        assertThat(debug.reports()).isEmpty();
    }

    @Test
    void shouldReportSgSyncWithDifferentEntryCount()
    {
        final ScatterList sgl = new ScatterList(3).set(0, 0x10_0000, 4096).set(1, 0x20_0000, 4096)
            .set(2, 0x30_0000, 4096);
        sgl.setDma(0, 0x1_0000, 4096);
        sgl.setDma(1, 0x1_2000, 4096);
        debug.mapSg(dev, sgl, 2, 2, TO_DEVICE, DmaAttrs.NONE);
        debug.syncSg(dev, sgl, 3, TO_DEVICE, false);

        final List<DebugReport> reports = debug.reports();
        assertThat(reports).extracting(DebugReport::kind).containsExactly(Kind.SYNC_SG_COUNT, Kind.SYNC_SG_COUNT);
        assertThat(reports.getFirst().message()).isEqualTo(P +
            "device driver syncs DMA sg list with different entry count [map count=2] [sync count=3]");
    }

    @Test
    void shouldCheckNothingWhenSyncingAnUnknownSgList()
    {
        final ScatterList sgl = new ScatterList(1).set(0, 0x10_0000, 4096);
        sgl.setDma(0, 0x1_0000, 4096);
        debug.syncSg(dev, sgl, 1, TO_DEVICE, false);
        assertThat(debug.reports()).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------------- map

    @Test
    void shouldReportMmioMappingOfRam()
    {
        debug.mapPhys(dev, 0x12_3000, 4096, BIDIRECTIONAL, 0xE000, DmaAttrs.MMIO);
        debug.mapPhys(dev, TestMemory.MMIO_BASE, 4096, BIDIRECTIONAL, 0xF000, DmaAttrs.MMIO);

        final DebugReport r = only(Kind.MMIO_RAM);
        assertThat(r.message()).isEqualTo(P + "dma_map_resource called for RAM address 0x0000000000123000");
        assertThat(r.phys()).isEqualTo(0x12_3000);
        assertThat(r.mapStack()).isNotEmpty();
        assertThat(debug.liveEntries(dev)).isEqualTo(2);
    }

    @Test
    void shouldReportSgSegmentLongerThanTheDeviceSupports()
    {
        final ScatterList sgl = new ScatterList(1).set(0, 0x10_0000, 65536 + 4096);
        sgl.setDma(0, 0x2_0000, 65536 + 4096);
        debug.mapSg(dev, sgl, 1, 1, TO_DEVICE, DmaAttrs.NONE);

        final DebugReport r = only(Kind.SG_SEGMENT_TOO_LONG);
        assertThat(r.message()).isEqualTo(P +
            "mapping sg segment longer than device claims to support [len=69632] [max=65536]");
        assertThat(r.mapStack()).isNull();
    }

    @Test
    void shouldReportSgSegmentAcrossTheBoundary()
    {
        final TestDevice narrow = new TestDevice("nvme", "0000:03:00.0", 1L << 20, 0xFFFF);
        final ScatterList sgl = new ScatterList(1).set(0, 0x10_0000, 0x2000);
        sgl.setDma(0, 0xF000, 0x2000);
        debug.mapSg(narrow, sgl, 1, 1, TO_DEVICE, DmaAttrs.NONE);

        assertThat(only(Kind.SG_SEGMENT_ACROSS_BOUNDARY).message()).isEqualTo(P + "mapping sg segment across " +
            "boundary [start=0x000000000000f000] [end=0x0000000000010fff] [boundary=0x000000000000ffff]");
    }

    // ------------------------------------------------------------------------------------ cacheline overlap

    @Test
    void shouldReportOverlappingDeviceWritableMappingsOfOneCacheline()
    {
        mapChecked(0x10_0000, 32, FROM_DEVICE, 0x1_0000);
        mapChecked(0x10_0020, 32, BIDIRECTIONAL, 0x2_0000);

        final DebugReport r = only(Kind.CACHELINE_OVERLAP);
        assertThat(r.message()).isEqualTo(P + "cacheline tracking EEXIST, overlapping mappings aren't supported");
        assertThat(r.dmaAddress()).isEqualTo(0x2_0000);
        assertThat(r.mapStack()).isNotEmpty();
    }

    @Test
    void shouldTrackTheLineFreeAgainAfterUnmap()
    {
        mapChecked(0x10_0000, 32, FROM_DEVICE, 0x1_0000);
        debug.unmapPhys(dev, 0x1_0000, 32, FROM_DEVICE, DmaAttrs.NONE);
        mapChecked(0x10_0020, 32, FROM_DEVICE, 0x2_0000);
        assertThat(debug.reports()).isEmpty();
    }

    @Test
    void shouldNotReportOverlapsTheKernelDoesNotReport()
    {
        // TO_DEVICE mappings are not tracked
        mapChecked(0x10_0000, 32, TO_DEVICE, 0x1_0000);
        mapChecked(0x10_0020, 32, FROM_DEVICE, 0x2_0000);
        // only the first cacheline is tracked: [0x200000, +256) and [0x200040, +64) overlap but start on other lines
        mapChecked(0x20_0000, 256, FROM_DEVICE, 0x3_0000);
        mapChecked(0x20_0040, 64, FROM_DEVICE, 0x4_0000);
        // SKIP_CPU_SYNC on the new mapping
        debug.mapPhys(dev, 0x10_0010, 16, FROM_DEVICE, 0x5_0000, DmaAttrs.SKIP_CPU_SYNC);
        assertThat(debug.reports()).isEmpty();
    }

    @Test
    void shouldAcceptSharedCachelinesOnlyWhenBothMappingsAreCacheClean()
    {
        debug.mapPhys(dev, 0x10_0000, 16, FROM_DEVICE, 0x1_0000, DmaAttrs.CPU_CACHE_CLEAN);
        debug.mapPhys(dev, 0x10_0010, 16, FROM_DEVICE, 0x2_0000, DmaAttrs.CPU_CACHE_CLEAN);
        assertThat(debug.reports()).isEmpty();

        debug.mapPhys(dev, 0x10_0020, 16, FROM_DEVICE, 0x3_0000, DmaAttrs.NONE);
        only(Kind.CACHELINE_OVERLAP);
        debug.clear();

        debug.mapPhys(dev, 0x20_0000, 16, FROM_DEVICE, 0x4_0000, DmaAttrs.NONE);
        debug.mapPhys(dev, 0x20_0010, 16, FROM_DEVICE, 0x5_0000, DmaAttrs.CPU_CACHE_CLEAN);
        only(Kind.CACHELINE_OVERLAP);
    }

    @Test
    void shouldNotReportOverlapsWhenTheArchHasNoDmaAlignmentOrBounces()
    {
        debug.dmaCacheAlignment(1);
        mapChecked(0x10_0000, 32, FROM_DEVICE, 0x1_0000);
        mapChecked(0x10_0020, 32, FROM_DEVICE, 0x2_0000);
        assertThat(debug.reports()).isEmpty();

        debug.dmaCacheAlignment(DmaDebug.L1_CACHE_BYTES).bounceUnalignedKmalloc(true);
        dev.swiotlbActive(true);
        mapChecked(0x10_0030, 16, FROM_DEVICE, 0x3_0000);
        assertThat(debug.reports()).isEmpty();
        dev.swiotlbActive(false);
        mapChecked(0x10_0038, 8, FROM_DEVICE, 0x4_0000);
        only(Kind.CACHELINE_OVERLAP);
    }

    @Test
    void shouldWarnOnceWhenMoreThanSevenMappingsShareACacheline()
    {
        for (int i = 0; i < 10; i++)
        {
            debug.mapPhys(dev, 0x10_0000 + 4L * i, 4, FROM_DEVICE, 0x1_0000 + 0x2000L * i, DmaAttrs.SKIP_CPU_SYNC);
        }

        final DebugReport r = only(Kind.CACHELINE_OVERLAP_LIMIT);
        assertThat(r.message()).isEqualTo("DMA-API: exceeded 7 overlapping mappings of cacheline 0x0000000000004000");
        assertThat(debug.errorCount()).isZero();
        assertThat(log.lines()).containsExactly(r.message());
    }

    // ----------------------------------------------------------------------------------------------- release

    @Test
    void shouldReportAndDropLeakedEntriesWhenTheDeviceIsReleased()
    {
        final TestDevice other = new TestDevice("e1000e", "0000:00:19.0");
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x1000);
        debug.allocCoherent(dev, 8192, 0x20_0000, 0x8_0000);
        mapChecked(0x30_0000, 4096, FROM_DEVICE, 0x3000);
        debug.mapPhys(other, 0x40_0000, 4096, FROM_DEVICE, 0x4000, DmaAttrs.NONE);

        debug.deviceReleased(dev);

        final DebugReport r = only(Kind.LEAK_AT_RELEASE);
        // the last entry in bucket order (bucket 64) is the coherent one
        assertThat(r.message()).isEqualTo(P + "device driver has pending DMA allocations while released from " +
            "device [count=3]\nOne of leaked entries details: [device address=0x0000000000080000] " +
            "[size=8192 bytes] [mapped with DMA_BIDIRECTIONAL] [mapped as coherent]");
        assertThat(r.count()).isEqualTo(3);
        assertThat(r.toString()).contains("\nDMA-API: Mapped at:\n ");
        assertThat(debug.liveEntries(dev)).isZero();
        assertThat(debug.liveEntries(other)).isEqualTo(1);
        assertThat(debug.liveEntries()).isEqualTo(1);

        // the FROM_DEVICE line was released too: mapping it again is no overlap
        mapChecked(0x30_0000, 64, FROM_DEVICE, 0x5000);
        assertThat(debug.reports()).hasSize(1);
    }

    // -------------------------------------------------------------------------------------------- reporting

    @Test
    void shouldLogOnlyTheFirstReportButKeepAll()
    {
        debug.unmapPhys(dev, 0x1000, 4096, TO_DEVICE, DmaAttrs.NONE);
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x2000);
        debug.unmapPhys(dev, 0x2000, 4096, FROM_DEVICE, DmaAttrs.NONE);
        debug.syncSingle(dev, 0x9000, 4, TO_DEVICE, true);

        assertThat(debug.reports()).extracting(DebugReport::kind)
            .containsExactly(Kind.FREE_NOT_ALLOCATED, Kind.FREE_WRONG_DIRECTION, Kind.SYNC_NOT_ALLOCATED);
        assertThat(debug.errorCount()).isEqualTo(3);
        assertThat(log.lines()).containsExactly(debug.reports().getFirst().toString());
    }

    @Test
    void shouldLogEveryReportWithAllErrors()
    {
        debug.allErrors(true);
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x2000);
        debug.unmapPhys(dev, 0x2000, 4096, FROM_DEVICE, DmaAttrs.NONE);
        debug.unmapPhys(dev, 0x2000, 4096, FROM_DEVICE, DmaAttrs.NONE);

        final List<DebugReport> reports = debug.reports();
        assertThat(log.lines()).containsExactly(reports.get(0).toString(), reports.get(1).toString());
        assertThat(log.lines().getFirst()).startsWith(P + "device driver frees DMA memory with different direction")
            .contains("\nDMA-API: Mapped at:\n ");
    }

    @Test
    void shouldLogOnlyTheFilteredDriverButCountEveryReport()
    {
        final TestDevice other = new TestDevice("e1000e", "0000:00:19.0");
        debug.allErrors(true).driverFilter("e1000e");
        debug.unmapPhys(dev, 0x1000, 4096, TO_DEVICE, DmaAttrs.NONE);
        debug.unmapPhys(other, 0x1000, 4096, TO_DEVICE, DmaAttrs.NONE);

        assertThat(debug.errorCount()).isEqualTo(2);
        assertThat(log.lines()).containsExactly("DMA-API: e1000e 0000:00:19.0: device driver tries to free DMA " +
            "memory it has not allocated [device address=0x0000000000001000] [size=4096 bytes]");
    }

    @Test
    void shouldRenderTheKernelTextWithTheMapTimeStack()
    {
        debug.stackDepth(3);
        debug.mapPhys(dev, 0x10_0000, 4096, TO_DEVICE, 0x7000, DmaAttrs.NONE);
        debug.unmapPhys(dev, 0x7000, 4096, TO_DEVICE, DmaAttrs.NONE);

        final DebugReport r = only(Kind.MAP_ERROR_NOT_CHECKED);
        final StackTraceElement[] stack = r.mapStack();
        assertThat(stack).hasSize(3);
        assertThat(stack[0].getClassName()).isEqualTo(DmaDebugTest.class.getName());
        assertThat(stack[0].getMethodName()).isEqualTo("shouldRenderTheKernelTextWithTheMapTimeStack");
        assertThat(r.toString().split("\n")).containsExactly(r.message(), "DMA-API: Mapped at:",
            " " + stack[0], " " + stack[1], " " + stack[2]);
    }

    @Test
    void shouldClearReportsAndCountersButKeepMappings()
    {
        mapChecked(0x10_0000, 4096, TO_DEVICE, 0x2000);
        debug.unmapPhys(dev, 0x1000, 4096, TO_DEVICE, DmaAttrs.NONE);
        debug.clear();
        assertThat(debug.reports()).isEmpty();
        assertThat(debug.errorCount()).isZero();
        assertThat(debug.count(Kind.FREE_NOT_ALLOCATED)).isZero();
        assertThat(debug.liveEntries(dev)).isEqualTo(1);

        debug.unmapPhys(dev, 0x1000, 4096, TO_DEVICE, DmaAttrs.NONE);
        assertThat(log.count()).isEqualTo(2);     // the logging budget was restored
    }

    @Test
    void shouldDumpEntriesInTheKernelFormat()
    {
        mapChecked(0x12_3440, 0x100, FROM_DEVICE, 0x4_2000);
        assertThat(debug.dump()).containsExactly("nvme 0000:03:00.0 phy idx 33 P=0x0000000000123440 D=42000 " +
            "L=100 cln=0x00000000000048d1 DMA_FROM_DEVICE dma map error checked");
    }

    // ---------------------------------------------------------------------------------------- disabled / args

    @Test
    void shouldDoNothingWhenDisabled()
    {
        final DmaDebug off = new DmaDebug(mem, log, false);
        off.mapPhys(dev, 0x10_0000, 4096, TO_DEVICE, 0x1000, DmaAttrs.MMIO);
        off.unmapPhys(dev, 0x2000, 4096, FROM_DEVICE, DmaAttrs.NONE);
        off.syncSingle(dev, 0x3000, 1, FROM_DEVICE, true);
        off.deviceReleased(dev);

        assertThat(off.enabled()).isFalse();
        assertThat(off.reports()).isEmpty();
        assertThat(off.errorCount()).isZero();
        assertThat(off.liveEntries()).isZero();
        assertThat(off.liveEntries(dev)).isZero();
        assertThat(log.count()).isZero();
    }

    @Test
    void shouldRejectNullArgumentsOnly()
    {
        assertThatThrownBy(() -> debug.mapPhys(null, 0, 1, TO_DEVICE, 0, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dev");
        assertThatThrownBy(() -> debug.unmapPhys(dev, 0, 1, null, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dir");
        assertThatThrownBy(() -> debug.mapSg(dev, null, 1, 1, TO_DEVICE, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sgl");
        assertThatThrownBy(() -> new DmaDebug(null, log)).isInstanceOf(IllegalArgumentException.class);

        // nonsense counts are clamped, not thrown
        final ScatterList sgl = new ScatterList(1).set(0, 0x10_0000, 4096);
        sgl.setDma(0, 0x1000, 4096);
        debug.mapSg(dev, sgl, 5, 9, TO_DEVICE, DmaAttrs.NONE);
        debug.unmapSg(dev, sgl, -1, TO_DEVICE);
        debug.syncSg(dev, sgl, 7, TO_DEVICE, true);
        assertThat(debug.liveEntries(dev)).isEqualTo(1);
    }
}
