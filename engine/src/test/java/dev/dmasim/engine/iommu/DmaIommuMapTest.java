package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.Errno;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.Machines;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.SgTable;
import dev.dmasim.engine.SwiotlbConfig;
import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.iommu.PteDescriptor;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysAddressSpace;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static dev.dmasim.engine.Device.DMA_MAPPING_ERROR;
import static dev.dmasim.engine.DmaDirection.BIDIRECTIONAL;
import static dev.dmasim.engine.DmaDirection.FROM_DEVICE;
import static dev.dmasim.engine.DmaDirection.TO_DEVICE;
import static dev.dmasim.engine.iommu.IommuTestSupport.PAGE;
import static dev.dmasim.engine.iommu.IommuTestSupport.TOP_32;
import static dev.dmasim.engine.iommu.IommuTestSupport.alloc;
import static dev.dmasim.engine.iommu.IommuTestSupport.cpuRead;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadOk;
import static dev.dmasim.engine.iommu.IommuTestSupport.devReadRc;
import static dev.dmasim.engine.iommu.IommuTestSupport.devWrite;
import static dev.dmasim.engine.iommu.IommuTestSupport.fill;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * dma-iommu single mappings through the public API: dispatch by IOMMU mode, the returned address, prot from the
 * direction as the device sees it, MMIO and PRIVILEGED PTE bits, the map-failure and bad-unmap paths, the
 * 32-bit-first IOVA policy, IOVA-space exhaustion and the dma-debug checks on this path.
 */
class DmaIommuMapTest
{
    private static final long SEED = 0x5EED_10AAL;
    private static final String NVME = "0000:03:00.0";

    private static long map(final Device dev, final long phys, final long size, final DmaDirection dir,
        final long attrs)
    {
        final long dma = dev.mapPhys(phys, size, dir, attrs);
        assertThat(dev.mappingError(dma)).as("map of %d bytes at 0x%x", size, phys).isFalse();
        return dma;
    }

    // ------------------------------------------------------------------------------------------------ dispatch

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = { "STRICT", "LAZY" })
    void shouldHandOutIovasTopDownBelow4GiBKeepingThePageOffset(final IommuMode mode)
    {
        try (DmaEngine engine = IommuTestSupport.engine(mode))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            assertThat(dev.iommuMode()).isEqualTo(mode);
            assertThat(dev.bus().domain().type()).isEqualTo(mode == IommuMode.LAZY ? DomainType.DMA_FQ : DomainType.DMA);
            final long buf = alloc(engine, 1);
            final byte[] data = fill(engine, buf, 2 * (int)PAGE, new SplittableRandom(SEED));

            final long a = map(dev, buf, PAGE, TO_DEVICE, DmaAttrs.NONE);
            assertThat(a).isEqualTo(0xFFFF_F000L);
            final long b = map(dev, buf + 0x123, 100, TO_DEVICE, DmaAttrs.NONE);
            assertThat(b).as("granule offset kept").isEqualTo(0xFFFF_E123L);
            final long c = map(dev, buf + 0x123, PAGE, TO_DEVICE, DmaAttrs.NONE);
            assertThat(c).as("an offset 4 KiB map spans two granules, size-aligned").isEqualTo(0xFFFF_C123L);
            assertThat(devReadOk(dev, c, (int)PAGE)).isEqualTo(java.util.Arrays.copyOfRange(data, 0x123, 0x123 + 4096));
            assertThat(devReadOk(dev, b, 100)).isEqualTo(java.util.Arrays.copyOfRange(data, 0x123, 0x123 + 100));
            assertThat(dev.iovaRangesInUse()).isEqualTo(3);

            dev.unmapPhys(a, PAGE, TO_DEVICE, DmaAttrs.NONE);
            dev.unmapPhys(b, 100, TO_DEVICE, DmaAttrs.NONE);
            dev.unmapPhys(c, PAGE, TO_DEVICE, DmaAttrs.NONE);
            engine.flushQueues();
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldUseAnIdentityDomainAndDmaDirectInPassthrough()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.PASSTHROUGH))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            assertThat(dev.iommuMode()).isEqualTo(IommuMode.PASSTHROUGH);
            assertThat(dev.bus().domain().type()).isEqualTo(DomainType.IDENTITY);
            final long buf = alloc(engine, 0);
            final byte[] data = fill(engine, buf, (int)PAGE, new SplittableRandom(SEED));
            final long dma = map(dev, buf + 0x40, 200, TO_DEVICE, DmaAttrs.NONE);
            assertThat(dma).as("bus == phys").isEqualTo(buf + 0x40);
            assertThat(devReadOk(dev, dma, 200)).isEqualTo(java.util.Arrays.copyOfRange(data, 0x40, 0x40 + 200));
            assertThat(dev.iovaRangesInUse()).isZero();
            final dev.dmasim.engine.IovaState s = new dev.dmasim.engine.IovaState();
            assertThat(dev.iovaTryAlloc(s, buf, PAGE)).as("no IOVA API without translation").isFalse();
            dev.unmapPhys(dma, 200, TO_DEVICE, DmaAttrs.NONE);
            assertThat(engine.stats().strictInvalidations()).isZero();
        }
    }

    @Test
    void shouldLetTheDeviceConfigOverrideTheEngineDefault()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device pt = engine.attach(DeviceConfig.pci("0000:01:00.0").iommu(IommuMode.PASSTHROUGH));
            final Device none = engine.attach(DeviceConfig.pci("0000:02:00.0").iommu(IommuMode.NONE));
            final Device lazy = engine.attach(DeviceConfig.pci("0000:03:00.0").iommu(IommuMode.LAZY));
            final Device strict = engine.attach(DeviceConfig.pci("0000:04:00.0"));
            assertThat(pt.iommuMode()).isEqualTo(IommuMode.PASSTHROUGH);
            assertThat(none.iommuMode()).isEqualTo(IommuMode.NONE);
            assertThat(none.bus().domain()).isNull();
            assertThat(lazy.iommuMode()).isEqualTo(IommuMode.LAZY);
            assertThat(strict.iommuMode()).isEqualTo(IommuMode.STRICT);
            final long buf = alloc(engine, 0);
            assertThat(map(pt, buf, PAGE, TO_DEVICE, 0)).isEqualTo(buf);
            assertThat(map(none, buf, PAGE, TO_DEVICE, 0)).isEqualTo(buf);
            // each translated device has its own domain and allocator: both start at the top
            assertThat(map(lazy, buf, PAGE, TO_DEVICE, 0)).isEqualTo(0xFFFF_F000L);
            assertThat(map(strict, buf, PAGE, TO_DEVICE, 0)).isEqualTo(0xFFFF_F000L);
            assertThat(lazy.bus().domain()).isNotSameAs(strict.bus().domain());
        }
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.NONE))
        {
            final Device strict = engine.attach(DeviceConfig.pci(NVME).iommu(IommuMode.STRICT));
            final long buf = alloc(engine, 0);
            assertThat(map(strict, buf, PAGE, TO_DEVICE, 0)).isEqualTo(0xFFFF_F000L);
        }
    }

    // ------------------------------------------------------------------------------------------------ prot

    @Test
    void shouldDeriveTheDevicesPermissionsFromTheDirection()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            final SplittableRandom rnd = new SplittableRandom(SEED);
            final long buf = alloc(engine, 0);
            final byte[] data = fill(engine, buf, (int)PAGE, rnd);
            final byte[] incoming = new byte[512];
            rnd.nextBytes(incoming);

            final long to = map(dev, buf, PAGE, TO_DEVICE, 0);
            assertThat(devReadOk(dev, to, (int)PAGE)).isEqualTo(data);
            assertThat(devWrite(dev, to, incoming)).isEqualTo(MemTx.PERMISSION_FAULT);
            dev.unmapPhys(to, PAGE, TO_DEVICE, 0);
            assertThat(cpuRead(engine, buf, (int)PAGE)).as("a refused write changes nothing").isEqualTo(data);

            final long from = map(dev, buf, PAGE, FROM_DEVICE, 0);
            assertThat(devReadRc(dev, from, 8)).isEqualTo(MemTx.PERMISSION_FAULT);
            assertThat(devWrite(dev, from + 100, incoming)).isEqualTo(MemTx.OK);
            dev.unmapPhys(from, PAGE, FROM_DEVICE, 0);
            assertThat(java.util.Arrays.copyOfRange(cpuRead(engine, buf, (int)PAGE), 100, 612)).isEqualTo(incoming);

            final long bidir = map(dev, buf, PAGE, BIDIRECTIONAL, 0);
            assertThat(devWrite(dev, bidir, incoming)).isEqualTo(MemTx.OK);
            assertThat(devReadOk(dev, bidir, 512)).isEqualTo(incoming);
            dev.unmapPhys(bidir, PAGE, BIDIRECTIONAL, 0);
            assertThat(engine.iommu().stats().permissionFaults()).isEqualTo(2);
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldMapABarWithMmioProtAndReachTheBarMemory()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            final long bar = Machines.DEFAULT_BAR_BASE + 0x2000;
            final long dma = dev.mapResource(bar + 0x10, 256, BIDIRECTIONAL, 0);
            assertThat(dev.mappingError(dma)).isFalse();
            assertThat(dma).isEqualTo(0xFFFF_F010L);
            final long pte = dev.bus().domain().pageTable().walk(dma);
            assertThat(pte & PteDescriptor.MMIO).as("PTE %s", PteDescriptor.toString(pte)).isNotZero();
            assertThat(PteDescriptor.outputAddress(pte)).isEqualTo(bar);

            final byte[] msg = new byte[256];
            new SplittableRandom(SEED).nextBytes(msg);
            assertThat(devWrite(dev, dma, msg)).isEqualTo(MemTx.OK);
            assertThat(cpuRead(engine, bar + 0x10, 256)).as("peer-to-peer write reached the BAR").isEqualTo(msg);
            assertThat(devReadOk(dev, dma, 256)).isEqualTo(msg);

            final long ram = map(dev, alloc(engine, 0), PAGE, BIDIRECTIONAL, 0);
            assertThat(dev.bus().domain().pageTable().walk(ram) & PteDescriptor.MMIO).as("RAM is not MMIO").isZero();

            dev.unmapResource(dma, 256, BIDIRECTIONAL, 0);
            assertThat(devReadRc(dev, dma, 8)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    @Test
    void shouldSetPrivOnlyForPrivilegedMappings()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            final long buf = alloc(engine, 0);
            final long priv = map(dev, buf, PAGE, TO_DEVICE, DmaAttrs.PRIVILEGED);
            final long plain = map(dev, buf, PAGE, TO_DEVICE, 0);
            final long privPte = dev.bus().domain().pageTable().walk(priv);
            final long plainPte = dev.bus().domain().pageTable().walk(plain);
            assertThat(privPte & PteDescriptor.PRIV).isNotZero();
            assertThat(privPte & PteDescriptor.WRITE).as("TO_DEVICE stays read-only").isZero();
            assertThat(plainPte & PteDescriptor.PRIV).isZero();
            assertThat(plainPte & PteDescriptor.READ).isNotZero();
        }
    }

    // ------------------------------------------------------------------------------------------------ failures

    @Test
    void shouldFreeTheIovaWhenThePageTableCannotBeExtended()
    {
        final PhysAddressSpace mem = PhysAddressSpace.builder().chunkSize(1L << 20).ram(0, 16L << 20).build();
        try (DmaEngine engine = DmaEngine.builder().memory(mem).cpus(1).iommu(IommuMode.STRICT)
            .swiotlb(SwiotlbConfig.disabled()).debug(true).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            final long buf = alloc(engine, 0);
            final List<long[]> hoard = new ArrayList<>();
            for (int order = PageAllocator.MAX_ORDER; order >= 0; order--)
            {
                long p;
                while ((p = engine.pages().allocPages(order, Zone.NORMAL)) != PageAllocator.NO_PAGE)
                {
                    hoard.add(new long[] { p, order });
                }
            }
            assertThat(engine.pages().freePageCount()).isZero();

            final long dma = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
            assertThat(dma).as("no page for the I/O page table").isEqualTo(DMA_MAPPING_ERROR);
            assertThat(dev.mappingError(dma)).isTrue();
            assertThat(dev.iovaRangesInUse()).as("the IOVA went back").isZero();
            final SgTable sgt = new SgTable(2).set(0, buf, PAGE).set(1, buf, PAGE);
            assertThat(dev.mapSgtable(sgt, TO_DEVICE, 0)).as("iommu_map_sg failure is -ENOMEM").isEqualTo(-Errno.ENOMEM);
            assertThat(sgt.sgl().phys(1)).isEqualTo(buf);
            assertThat(sgt.sgl().length(1)).isEqualTo(PAGE);
            assertThat(dev.iovaRangesInUse()).isZero();
            assertThat(engine.stats().mapErrors()).isEqualTo(2);

            for (final long[] h : hoard)
            {
                engine.pages().freePages(h[0], (int)h[1]);
            }
            final long again = map(dev, buf, PAGE, TO_DEVICE, 0);
            assertThat(again).as("the freed IOVA is the first one handed out").isEqualTo(0xFFFF_F000L);
            assertThat(devReadRc(dev, again, 8)).isEqualTo(MemTx.OK);
            dev.unmapPhys(again, PAGE, TO_DEVICE, 0);
            final long before = engine.pages().freePageCount();
            engine.detach(dev);
            assertThat(engine.pages().freePageCount()).as("page-table pages freed at detach").isGreaterThan(before);
            engine.pages().freePages(buf, 0);
            assertThat(engine.pages().freePageCount()).isEqualTo(engine.pages().totalPageCount(Zone.DMA)
                + engine.pages().totalPageCount(Zone.DMA32) + engine.pages().totalPageCount(Zone.NORMAL));
        }
    }

    @Test
    void shouldLogAndIgnoreAnUnmapOfANeverMappedIova()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            final long buf = alloc(engine, 0);
            final byte[] data = fill(engine, buf, (int)PAGE, new SplittableRandom(SEED));
            final long live = map(dev, buf, PAGE, TO_DEVICE, 0);

            dev.unmapPhys(0x8000_0000L, PAGE, TO_DEVICE, 0);
            // dma-debug knows no such mapping: it reports it, and Device keeps the stale address away from the
            // backend (nothing to release there), so dma-iommu never sees it.
            assertThat(engine.log().contains("no translation")).as(engine.log().lines().toString()).isFalse();
            assertThat(engine.debug().count(DebugReport.Kind.FREE_NOT_ALLOCATED)).isEqualTo(1);
            assertThat(dev.iovaRangesInUse()).as("nothing freed").isEqualTo(1);
            assertThat(devReadOk(dev, live, (int)PAGE)).isEqualTo(data);

            // more than was mapped: the page is unmapped (and invalidated) but its IOVA is kept, never reused
            dev.unmapPhys(live, 2 * PAGE, TO_DEVICE, 0);
            assertThat(engine.log().contains("IOVA not freed")).as(engine.log().lines().toString()).isTrue();
            assertThat(devReadRc(dev, live, 8)).isEqualTo(MemTx.TRANSLATION_FAULT);
            final long next = map(dev, buf, PAGE, TO_DEVICE, 0);
            assertThat(next).as("the kept IOVA is not handed out again").isNotEqualTo(live);
            assertThat(devReadOk(dev, next, (int)PAGE)).isEqualTo(data);
            dev.unmapPhys(next, PAGE, TO_DEVICE, 0);
        }
    }

    // ------------------------------------------------------------------------------------------------ policy

    @Test
    void shouldPreferThe32BitSpaceUntilItIsExhaustedThenSwitchForGood()
    {
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME));
            final long size = 4L << 20;
            final long buf = alloc(engine, 10);
            final List<Long> below = new ArrayList<>();
            long dma;
            while ((dma = dev.mapPhys(buf, size, TO_DEVICE, 0)) != DMA_MAPPING_ERROR && dma < TOP_32)
            {
                assertThat(dma & (size - 1)).as("size-aligned").isZero();
                below.add(dma);
            }
            assertThat(dma).isNotEqualTo(DMA_MAPPING_ERROR);
            assertThat(below).as("every 4 MiB slot of [4 MiB, 4 GiB) first").hasSize(1023);
            assertThat(below.getFirst()).isEqualTo(TOP_32 - size);
            assertThat(below.getLast()).isEqualTo(size);
            assertThat(dma).as("then top-down below the 48-bit aperture").isEqualTo((1L << 48) - size);
            assertThat(engine.log().lines()).filteredOn(l -> l.contains("Using ")).containsExactly(NVME
                + ": Using 48-bit DMA addresses");

            dev.unmapPhys(below.removeLast(), size, TO_DEVICE, 0);
            final long small = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
            assertThat(small).as("32-bit space has room again, but the switch is for good").isGreaterThan(TOP_32);
            assertThat(engine.log().lines()).filteredOn(l -> l.contains("Using ")).hasSize(1);
            assertThat(devReadRc(dev, small, 8)).isEqualTo(MemTx.OK);

            dev.unmapPhys(small, PAGE, TO_DEVICE, 0);
            dev.unmapPhys(dma, size, TO_DEVICE, 0);
            for (final long d : below)
            {
                dev.unmapPhys(d, size, TO_DEVICE, 0);
            }
            assertThat(dev.iovaRangesInUse()).isZero();
        }
    }

    @Test
    void shouldRunOutOfIovaSpaceExactlyWhenItIsFullAndRecover()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME).dmaBits(24));
            final long buf = alloc(engine, 0);
            fill(engine, buf, (int)PAGE, new SplittableRandom(SEED));
            final int capacity = (1 << 12) - 1; // pfns 1..0xfff: IOVA 0 is never handed out
            final long[] dmas = new long[capacity];
            final Set<Long> seen = new HashSet<>();
            for (int round = 0; round < 2; round++)
            {
                for (int i = 0; i < capacity; i++)
                {
                    dmas[i] = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
                    assertThat(dev.mappingError(dmas[i])).as("round %d map %d", round, i).isFalse();
                    assertThat(dmas[i]).isBetween(PAGE, (1L << 24) - PAGE);
                    assertThat(seen.add(dmas[i])).as("IOVA 0x%x handed out twice", dmas[i]).isTrue();
                }
                assertThat(dev.mappingError(dev.mapPhys(buf, PAGE, TO_DEVICE, 0))).as("full").isTrue();
                final SgTable sgt = new SgTable(2).set(0, buf + 0x80, 100).set(1, buf, PAGE);
                assertThat(dev.mapSgtable(sgt, TO_DEVICE, 0)).isEqualTo(-Errno.ENOMEM);
                final ScatterList sgl = sgt.sgl();
                assertThat(dev.mapSg(sgl, 2, TO_DEVICE, 0)).isZero();
                assertThat(new long[] { sgl.phys(0), sgl.length(0), sgl.phys(1), sgl.length(1) })
                    .as("CPU side restored").containsExactly(buf + 0x80, 100, buf, PAGE);
                assertThat(devReadOk(dev, dmas[capacity / 2], 16)).hasSize(16);
                for (int i = 0; i < capacity; i++)
                {
                    dev.unmapPhys(dmas[i], PAGE, TO_DEVICE, 0);
                }
                assertThat(dev.iovaRangesInUse()).isZero();
                seen.clear();
            }
            assertThat(engine.log().lines()).noneMatch(l -> l.contains("Using "));
            assertThat(engine.debug().reports()).isEmpty();
        }
    }

    // ------------------------------------------------------------------------------------------------ dma-debug

    @Test
    void shouldApplyTheDmaDebugChecksOnTheIommuPath()
    {
        try (DmaEngine engine = IommuTestSupport.engine(IommuMode.STRICT))
        {
            final Device dev = engine.attach(DeviceConfig.pci(NVME).driver("nvme"));
            final long buf = alloc(engine, 1);

            final long unchecked = dev.mapPhys(buf, PAGE, TO_DEVICE, 0);
            dev.unmapPhys(unchecked, PAGE, TO_DEVICE, 0);
            assertThat(engine.debug().reports()).extracting(DebugReport::kind)
                .containsExactly(DebugReport.Kind.MAP_ERROR_NOT_CHECKED);

            final long dma = map(dev, buf, 2 * PAGE, TO_DEVICE, 0);
            dev.unmapPhys(dma, 2 * PAGE, TO_DEVICE, 0);
            dev.unmapPhys(dma, 2 * PAGE, TO_DEVICE, 0);
            assertThat(engine.debug().count(DebugReport.Kind.FREE_NOT_ALLOCATED)).as("double unmap").isEqualTo(1);

            final long sized = map(dev, buf, 2 * PAGE, TO_DEVICE, 0);
            dev.unmapPhys(sized, 2 * PAGE - 1, TO_DEVICE, 0); // same granules: the backend unmaps all of it
            assertThat(engine.debug().count(DebugReport.Kind.FREE_WRONG_SIZE)).isEqualTo(1);
            assertThat(engine.debug().reports().getLast().toString()).contains("DMA-API: nvme " + NVME);
            assertThat(devReadRc(dev, sized, 8)).isEqualTo(MemTx.TRANSLATION_FAULT);
            assertThat(dev.iovaRangesInUse()).isZero();

            final long ok = map(dev, buf, PAGE, TO_DEVICE, 0);
            assertThat(devReadRc(dev, ok, 8)).as("engine still usable").isEqualTo(MemTx.OK);
        }
    }
}
