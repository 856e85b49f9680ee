package dev.dmasim.engine;

import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.engine.debug.DebugReport.Kind;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
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
 * dma-debug through the engine on dma-direct: every check of reference §5.2 that applies without an IOMMU,
 * triggered on purpose through {@link Device} calls and asserted by kind and the kernel's message text; a clean
 * driver-style sequence that reports nothing; and after every bad call, the engine still maps, moves bytes and
 * counts swiotlb slots exactly.
 */
class DirectDebugTest
{
    static final String BDF = "0000:03:00.0";
    static final String PREFIX = "DMA-API: dmasim " + BDF + ": ";

    DmaEngine engine;
    Device dev;
    long seed;
    SplittableRandom rnd;

    @BeforeEach
    void setUp()
    {
        seed = DmaBytes.seed();
        rnd = new SplittableRandom(seed);
        engine = DmaEngine.builder().debug(true).build();
        dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
    }

    @AfterEach
    void tearDown()
    {
        engine.close();
    }

    private static String hex(final long v)
    {
        return String.format("0x%016x", v);
    }

    /** @return the one new report, and clears the list. */
    private DebugReport single()
    {
        final List<DebugReport> reports = engine.debug().reports();
        assertThat(reports).as("exactly one report").hasSize(1);
        engine.debug().clear();
        return reports.get(0);
    }

    /** A bounced and a direct mapping still work, bytes are exact and slot counts return to their level. */
    private void assertEngineHealthy()
    {
        final long slots = engine.stats().swiotlbSlotsUsed();
        for (final long buf : new long[] { highPage(engine), lowPage(engine) })
        {
            final byte[] out = random(rnd, 3000);
            cpuWrite(engine, buf, out);
            final long dma = dev.mapPhys(buf, 3000, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            assertThat(dev.mappingError(dma)).isFalse();
            assertBytes(devRead(dev, dma, 3000), out, "healthy map, seed " + seed);
            final byte[] in = random(rnd, 3000);
            devWrite(dev, dma, in);
            dev.unmapPhys(dma, 3000, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            assertBytes(cpuRead(engine, buf, 3000), in, "healthy unmap, seed " + seed);
        }
        assertThat(engine.stats().swiotlbSlotsUsed()).as("slot level unchanged").isEqualTo(slots);
        assertThat(engine.debug().reports()).as("a correct sequence reports nothing").isEmpty();
    }

    private long mapChecked(final long phys, final long size, final DmaDirection dir)
    {
        final long dma = dev.mapPhys(phys, size, dir, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).isFalse();
        return dma;
    }

    @Test
    void cleanDriverSequenceReportsNothing()
    {
        final long high = highPage(engine);
        final long low = lowPage(engine);
        final long a = mapChecked(high, 4096, DmaDirection.FROM_DEVICE);
        final long b = mapChecked(low + 128, 512, DmaDirection.TO_DEVICE);
        dev.syncSingleForCpu(a, 4096, DmaDirection.FROM_DEVICE);
        dev.syncSingleForDevice(a + 1024, 100, DmaDirection.FROM_DEVICE);
        dev.syncSingleForDevice(b, 512, DmaDirection.TO_DEVICE);
        dev.unmapPhys(b, 512, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(a, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);

        final ScatterList sgl = new ScatterList(3).set(0, high, 2048).set(1, low, 4096).set(2, high + 2048, 100);
        assertThat(dev.mapSg(sgl, 3, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE)).isEqualTo(3);
        dev.syncSgForCpu(sgl, 3, DmaDirection.BIDIRECTIONAL);
        dev.syncSgForDevice(sgl, 3, DmaDirection.BIDIRECTIONAL);
        dev.unmapSg(sgl, 3, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);

        final DmaBuffer coherent = dev.allocCoherent(10000);
        final DmaBuffer pages = dev.allocPages(4096, DmaDirection.TO_DEVICE);
        dev.freePages(pages, DmaDirection.TO_DEVICE);
        dev.freeCoherent(coherent);

        final long bar = dev.mapResource(Machines.DEFAULT_BAR_BASE, 13, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(dev.mappingError(bar)).isFalse();
        dev.unmapResource(bar, 13, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);

        assertThat(engine.debug().reports()).isEmpty();
        assertThat(engine.debug().liveEntries(dev)).isZero();
        engine.detach(dev);
        assertThat(engine.debug().reports()).isEmpty();
        assertThat(engine.stats().debugReports()).isZero();
        assertThat(engine.log().lines()).isEmpty();
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void unmapOfAnUnknownAddressIsReportedAndChangesNothing()
    {
        final long live = mapChecked(highPage(engine), 4096, DmaDirection.TO_DEVICE);
        final long used = engine.stats().swiotlbSlotsUsed();

        final long never = lowPage(engine);
        dev.unmapPhys(never, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.FREE_NOT_ALLOCATED);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver tries to free DMA memory it has not allocated"
            + " [device address=" + hex(never) + "] [size=4096 bytes]");

        // An address inside the pool that is no live mapping's start.
        dev.unmapPhys(live + 2048, 2048, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(single().kind()).isEqualTo(Kind.FREE_NOT_ALLOCATED);
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(used);

        dev.unmapPhys(DMA_MAPPING_ERROR, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        r = single();
        assertThat(r.kind()).isEqualTo(Kind.FREE_INVALID_ADDRESS);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver tries to free an invalid DMA memory address");

        dev.unmapPhys(live, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertEngineHealthy();
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void doubleUnmapOfABouncedMappingIsReportedAndChangesNothing()
    {
        final long other = highPage(engine);
        final byte[] theirs = random(rnd, 4096);
        cpuWrite(engine, other, theirs);
        final long bystander = mapChecked(other, 4096, DmaDirection.BIDIRECTIONAL);

        final long dma = mapChecked(highPage(engine), 4096, DmaDirection.FROM_DEVICE);
        dev.unmapPhys(dma, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        final long used = engine.stats().swiotlbSlotsUsed();
        dev.unmapPhys(dma, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(single().kind()).isEqualTo(Kind.FREE_NOT_ALLOCATED);
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(used);

        assertBytes(devRead(dev, bystander, 4096), theirs, "bystander intact, seed " + seed);
        dev.unmapPhys(bystander, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        assertEngineHealthy();
    }

    @Test
    void staleUnmapAfterSlotReuseReleasesTheLiveMappingExactlyOnce()
    {
        // One area and a tiny pool: the next mapping reuses exactly the slots the first one freed.
        engine.close();
        engine = DmaEngine.builder().debug(true).cpus(1).swiotlb(SwiotlbConfig.defaults().size(256L << 10)).build();
        dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
        final long big = DmaBytes.pages(engine, 6, Zone.NORMAL);
        final long first = mapChecked(big, 128L << 10, DmaDirection.TO_DEVICE);
        final long keep = highPage(engine);
        final byte[] kept = random(rnd, 4096);
        cpuWrite(engine, keep, kept);
        final long bystander = mapChecked(keep, 4096, DmaDirection.TO_DEVICE);
        final long filler = mapChecked(big, 62 * 2048, DmaDirection.TO_DEVICE);
        assertThat(engine.stats().swiotlbSlotsUsed()).as("pool full").isEqualTo(128);
        dev.unmapPhys(first, 128L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);

        final long other = highPage(engine);
        final long victim = mapChecked(other, 4096, DmaDirection.FROM_DEVICE);
        assertThat(victim).as("same slots as the freed mapping").isEqualTo(first);
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(66);

        // To dma-debug (as to the kernel's) a stale unmap of a reused address IS an unmap of the live mapping with
        // the wrong size and direction: reported as such, and the live mapping is released, once.
        dev.unmapPhys(first, 128L << 10, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.debug().reports()).extracting(DebugReport::kind)
            .containsExactly(Kind.FREE_WRONG_SIZE, Kind.FREE_WRONG_DIRECTION);
        engine.debug().clear();
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(64);

        // The victim's own unmap now finds nothing: reported, and nothing is released twice.
        dev.unmapPhys(victim, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(single().kind()).isEqualTo(Kind.FREE_NOT_ALLOCATED);
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(64);
        assertBytes(devRead(dev, bystander, 4096), kept, "bystander intact, seed " + seed);
        dev.unmapPhys(bystander, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(filler, 62 * 2048, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        assertEngineHealthy();
    }

    @Test
    void wrongSizeFunctionAndDirectionAreReported()
    {
        final long low = lowPage(engine);
        long dma = mapChecked(low, 4096, DmaDirection.TO_DEVICE);
        dev.unmapPhys(dma, 2048, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.FREE_WRONG_SIZE);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver frees DMA memory with different size [device address="
            + hex(dma) + "] [map size=4096 bytes] [unmap size=2048 bytes]");
        assertEngineHealthy();

        dma = mapChecked(low, 4096, DmaDirection.TO_DEVICE);
        dev.unmapPhys(dma, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        r = single();
        assertThat(r.kind()).isEqualTo(Kind.FREE_WRONG_DIRECTION);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver frees DMA memory with different direction [device"
            + " address=" + hex(dma) + "] [size=4096 bytes] [mapped with DMA_TO_DEVICE] [unmapped with"
            + " DMA_FROM_DEVICE]");
        assertEngineHealthy();

        final ScatterList sgl = new ScatterList(1).set(0, low, 4096);
        assertThat(dev.mapSg(sgl, 1, DmaDirection.TO_DEVICE, DmaAttrs.NONE)).isEqualTo(1);
        dev.unmapPhys(sgl.dmaAddress(0), 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        r = single();
        assertThat(r.kind()).isEqualTo(Kind.FREE_WRONG_FUNCTION);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver frees DMA memory with wrong function [device address="
            + hex(low) + "] [size=4096 bytes] [mapped as scatter-gather] [unmapped as phy]");
        assertEngineHealthy();
    }

    @Test
    void sgCountMismatchIsReported()
    {
        final long high = highPage(engine);
        final ScatterList sgl = new ScatterList(3).set(0, high, 1024).set(1, high + 1024, 1024)
            .set(2, high + 2048, 1024);
        assertThat(dev.mapSg(sgl, 3, DmaDirection.FROM_DEVICE, DmaAttrs.NONE)).isEqualTo(3);
        dev.syncSgForCpu(sgl, 2, DmaDirection.FROM_DEVICE);
        assertThat(engine.debug().reports()).extracting(DebugReport::kind)
            .containsOnly(Kind.SYNC_SG_COUNT).isNotEmpty();
        assertThat(engine.debug().reports().get(0).message()).isEqualTo(PREFIX
            + "device driver syncs DMA sg list with different entry count [map count=3] [sync count=2]");
        engine.debug().clear();

        dev.unmapSg(sgl, 3, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(engine.debug().reports()).isEmpty();
        assertThat(dev.mapSg(sgl, 3, DmaDirection.FROM_DEVICE, DmaAttrs.NONE)).isEqualTo(3);
        dev.unmapSg(sgl, 2, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(engine.debug().reports()).extracting(DebugReport::kind).containsOnly(Kind.FREE_SG_COUNT);
        assertThat(engine.debug().reports().get(0).message()).isEqualTo(PREFIX
            + "device driver frees DMA sg list with different entry count [map count=3] [unmap count=2]");
        engine.debug().clear();
        // The driver bug leaked the third segment's slots; the rest is exact.
        assertThat(engine.stats().swiotlbSlotsUsed()).isEqualTo(1);
        assertEngineHealthy();
    }

    @Test
    void missedMappingErrorCheckIsReportedAtUnmap()
    {
        final long low = lowPage(engine);
        final long dma = dev.mapPhys(low, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        dev.unmapPhys(dma, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        final DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.MAP_ERROR_NOT_CHECKED);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver failed to check map error[device address="
            + hex(dma) + "] [size=4096 bytes] [mapped as phy]");
        assertThat(r.toString()).as("with the map-time stack").contains("Mapped at:")
            .contains(DirectDebugTest.class.getName());
        assertEngineHealthy();
    }

    @Test
    void syncChecks()
    {
        final long low = lowPage(engine);
        final long to = mapChecked(low, 4096, DmaDirection.TO_DEVICE);

        // A sync past the end of the mapping: the kernel looks the mapping up by containment, so no mapping is
        // found and it reports "not allocated"; its "outside allocated range" branch is unreachable (dead code).
        dev.syncSingleForDevice(to + 2048, 4096, DmaDirection.TO_DEVICE);
        DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.SYNC_NOT_ALLOCATED);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver tries to sync DMA memory it has not allocated"
            + " [device address=" + hex(to + 2048) + "] [size=4096 bytes]");
        assertThat(engine.debug().count(Kind.SYNC_OUTSIDE_RANGE)).isZero();

        dev.syncSingleForCpu(to, 4096, DmaDirection.FROM_DEVICE);
        assertThat(engine.debug().reports()).extracting(DebugReport::kind)
            .containsExactly(Kind.SYNC_WRONG_DIRECTION, Kind.SYNC_CPU_DEVICE_READ_ONLY);
        assertThat(engine.debug().reports().get(1).message()).isEqualTo(PREFIX + "device driver syncs device read-only"
            + " DMA memory for cpu [device address=" + hex(to) + "] [size=4096 bytes] [mapped with DMA_TO_DEVICE]"
            + " [synced with DMA_FROM_DEVICE]");
        engine.debug().clear();
        dev.unmapPhys(to, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);

        final long from = mapChecked(highPage(engine), 4096, DmaDirection.FROM_DEVICE);
        dev.syncSingleForDevice(from, 4096, DmaDirection.TO_DEVICE);
        assertThat(engine.debug().reports()).extracting(DebugReport::kind)
            .containsExactly(Kind.SYNC_WRONG_DIRECTION, Kind.SYNC_DEVICE_WRITE_ONLY);
        assertThat(engine.debug().reports().get(0).message()).isEqualTo(PREFIX + "device driver syncs DMA memory with"
            + " different direction [device address=" + hex(from) + "] [size=4096 bytes] [mapped with"
            + " DMA_FROM_DEVICE] [synced with DMA_TO_DEVICE]");
        engine.debug().clear();
        dev.unmapPhys(from, 4096, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertEngineHealthy();
    }

    @Test
    void syncOfMemoryNeverMappedIsReportedAndChangesNothing()
    {
        final long low = lowPage(engine);
        dev.syncSingleForCpu(low, 64, DmaDirection.FROM_DEVICE);
        DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.SYNC_NOT_ALLOCATED);
        assertThat(r.message()).isEqualTo(PREFIX + "device driver tries to sync DMA memory it has not allocated"
            + " [device address=" + hex(low) + "] [size=64 bytes]");

        // A pool address with no live mapping: reported, and no bounce copy happens.
        final long pool = engine.swiotlb().start() + (1L << 20);
        final long bounced = engine.stats().bytesBounced();
        dev.syncSingleForCpu(pool, 64, DmaDirection.FROM_DEVICE);
        assertThat(single().kind()).isEqualTo(Kind.SYNC_NOT_ALLOCATED);
        dev.syncSingleForDevice(pool, 64, DmaDirection.TO_DEVICE);
        assertThat(single().kind()).isEqualTo(Kind.SYNC_NOT_ALLOCATED);
        assertThat(engine.stats().bytesBounced()).isEqualTo(bounced);
        assertEngineHealthy();
    }

    @Test
    void mapResourceOfRamIsReported()
    {
        final long low = lowPage(engine);
        final long dma = dev.mapResource(low, 256, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dma).as("mapped anyway, as MMIO: no bounce").isEqualTo(low);
        final DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.MMIO_RAM);
        assertThat(r.message()).isEqualTo(PREFIX + "dma_map_resource called for RAM address " + hex(low));
        assertThat(dev.mappingError(dma)).isFalse();
        dev.unmapResource(dma, 256, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.debug().reports()).isEmpty();
        assertEngineHealthy();
    }

    @Test
    void overlappingActiveCachelinesAreReportedUnlessSkipCpuSync()
    {
        final long low = lowPage(engine);
        final long a = mapChecked(low, 32, DmaDirection.FROM_DEVICE);
        final long b = mapChecked(low + 16, 16, DmaDirection.BIDIRECTIONAL);
        assertThat(engine.debug().reports()).as("different first cachelines? no: both start in line 0").hasSize(1);
        final DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.CACHELINE_OVERLAP);
        assertThat(r.message()).isEqualTo(PREFIX + "cacheline tracking EEXIST, overlapping mappings aren't supported");

        final long c = dev.mapPhys(low + 8, 8, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        assertThat(dev.mappingError(c)).isFalse();
        assertThat(engine.debug().reports()).as("SKIP_CPU_SYNC suppresses EEXIST").isEmpty();
        final long d = mapChecked(low + 24, 8, DmaDirection.TO_DEVICE);
        assertThat(engine.debug().reports()).as("TO_DEVICE mappings are not tracked").isEmpty();

        dev.unmapPhys(d, 8, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(c, 8, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
        dev.unmapPhys(b, 16, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        dev.unmapPhys(a, 32, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        final long e = mapChecked(low, 32, DmaDirection.FROM_DEVICE);
        assertThat(engine.debug().reports()).as("all released: no overlap left").isEmpty();
        dev.unmapPhys(e, 32, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertEngineHealthy();
    }

    @Test
    void requireCoherentMappingsMayShareCachelinesLikeCpuCacheClean()
    {
        final long low = lowPage(engine);
        final long[] dma = new long[4];
        final long[] attrs = { DmaAttrs.REQUIRE_COHERENT, DmaAttrs.REQUIRE_COHERENT, DmaAttrs.CPU_CACHE_CLEAN,
            DmaAttrs.REQUIRE_COHERENT };
        for (int i = 0; i < 4; i++)
        {
            dma[i] = dev.mapPhys(low + 8L * i, 8, DmaDirection.FROM_DEVICE, attrs[i]);
            assertThat(dev.mappingError(dma[i])).isFalse();
        }
        assertThat(engine.debug().reports()).as("every mapping of the line is cache-clean").isEmpty();
        final long plain = mapChecked(low + 40, 8, DmaDirection.FROM_DEVICE);
        assertThat(single().kind()).isEqualTo(Kind.CACHELINE_OVERLAP);
        dev.unmapPhys(plain, 8, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        for (int i = 0; i < 4; i++)
        {
            dev.unmapPhys(dma[i], 8, DmaDirection.FROM_DEVICE, attrs[i]);
        }
        assertEngineHealthy();
    }

    @Test
    void leaksAreReportedAtDetach()
    {
        final long high = highPage(engine);
        final long dma = mapChecked(high, 4096, DmaDirection.FROM_DEVICE);
        final DmaBuffer coherent = dev.allocCoherent(4096);
        assertThat(coherent).isNotNull();
        final long used = engine.stats().swiotlbSlotsUsed();
        assertThat(used).isEqualTo(2);

        engine.detach(dev);
        final DebugReport r = single();
        assertThat(r.kind()).isEqualTo(Kind.LEAK_AT_RELEASE);
        assertThat(r.count()).isEqualTo(2);
        assertThat(r.message()).startsWith(PREFIX + "device driver has pending DMA allocations while released from"
            + " device [count=2]\nOne of leaked entries details: [device address=");
        assertThat(engine.stats().swiotlbSlotsUsed()).as("leaked slots stay leaked, as in the kernel").isEqualTo(used);
        assertThat(engine.stats().debugReports()).isEqualTo(0);

        // A new driver binds to the same device name: everything works, counts are exact.
        dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));
        assertEngineHealthy();
        assertThat(dma).isNotZero();
    }

    @Test
    void reportsAreCountedAndTheFirstIsLogged()
    {
        final long low = lowPage(engine);
        dev.unmapPhys(low, 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.unmapPhys(low + 64, 64, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().debugReports()).isEqualTo(2);
        assertThat(engine.log().lines()).hasSize(1);
        assertThat(engine.log().lines().get(0)).startsWith(PREFIX + "device driver tries to free DMA memory");
    }
}
