package dev.dmasim.engine;

import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.SplittableRandom;

import static dev.dmasim.engine.DmaBytes.assertBytes;
import static dev.dmasim.engine.DmaBytes.cpuRead;
import static dev.dmasim.engine.DmaBytes.cpuWrite;
import static dev.dmasim.engine.DmaBytes.devRead;
import static dev.dmasim.engine.DmaBytes.devWrite;
import static dev.dmasim.engine.DmaBytes.highPage;
import static dev.dmasim.engine.DmaBytes.lowPage;
import static dev.dmasim.engine.DmaBytes.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Byte-exact data paths through dma-direct, with the device moving the bytes through {@code dev.bus()}: direct
 * mappings (bus address = physical address, no copies) and swiotlb bounce mappings (copies at map, sync and unmap
 * only), for every direction; the 2022 info-leak rule (a FROM_DEVICE bounce buffer starts with the original bytes);
 * {@code min_align_mask} (the NVMe corruption fix); and every reason dma-direct bounces: the DMA mask, forced
 * bouncing, the bus DMA limit and a {@code dma_range_map} offset.
 */
class DirectDataPathTest
{
    static final String BDF = "0000:03:00.0";
    static final int SIZE = 4096;

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

    @ParameterizedTest
    @EnumSource(value = DmaDirection.class, names = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" })
    void directMappingIsThePhysicalAddressAndSharesTheBytes(final DmaDirection dir)
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(64));
        final long buf = highPage(engine);
        final byte[] cpu = random(rnd, SIZE);
        cpuWrite(engine, buf, cpu);

        final long dma = dev.mapPhys(buf, SIZE, dir, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).as("seed %d", seed).isFalse();
        assertThat(dma).as("direct: bus address is the physical address").isEqualTo(buf);
        assertThat(dev.needSync(dma)).as("coherent, not bounced").isFalse();
        assertThat(engine.stats().bounces()).isZero();

        if (dir.deviceReads())
        {
            assertBytes(devRead(dev, dma, SIZE), cpu, String.format("device reads what the CPU wrote, seed %d", seed));
        }
        if (dir.deviceWrites())
        {
            // A direct mapping on a coherent device is the same memory: a device write is visible to the CPU at
            // once, before any sync or unmap (this is why x86 drivers that forget syncs "work").
            final byte[] fromDev = random(rnd, SIZE);
            devWrite(dev, dma, fromDev);
            assertBytes(cpuRead(engine, buf, SIZE), fromDev, String.format("visible before unmap, seed %d", seed));
            dev.unmapPhys(dma, SIZE, dir, DmaAttrs.NONE);
            assertBytes(cpuRead(engine, buf, SIZE), fromDev, String.format("unchanged by unmap, seed %d", seed));
        }
        else
        {
            dev.unmapPhys(dma, SIZE, dir, DmaAttrs.NONE);
            assertBytes(cpuRead(engine, buf, SIZE), cpu, String.format("seed %d", seed));
        }
        assertThat(engine.stats().bytesBounced()).isZero();
    }

    @ParameterizedTest
    @EnumSource(value = DmaDirection.class, names = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" })
    void bounceMappingCopiesAtMapSyncAndUnmapOnly(final DmaDirection dir)
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32));
        final long buf = highPage(engine);
        final byte[] cpu = random(rnd, SIZE);
        cpuWrite(engine, buf, cpu);

        final long dma = dev.mapPhys(buf, SIZE, dir, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).as("seed %d", seed).isFalse();
        assertThat(dma).isNotEqualTo(buf);
        assertThat(engine.swiotlb().isSwiotlbBuffer(dma)).as("bounced into the pool").isTrue();
        assertThat(dma + SIZE - 1).as("reachable by a 32-bit device").isLessThanOrEqualTo(0xFFFF_FFFFL);
        assertThat(dev.needSync(dma)).as("bounced mappings need syncs").isTrue();

        // Map copies original -> bounce for every direction (FROM_DEVICE too: the 2022 info-leak fix).
        assertBytes(devRead(dev, dma, SIZE), cpu, String.format("bounce starts with the original bytes, seed %d", seed));

        if (dir.deviceReads())
        {
            // The CPU updates the buffer while mapped: the device sees it only after sync for device.
            final byte[] update = random(rnd, SIZE);
            cpuWrite(engine, buf, update);
            assertBytes(devRead(dev, dma, SIZE), cpu, String.format("stale before sync_for_device, seed %d", seed));
            dev.syncSingleForDevice(dma, SIZE, dir);
            assertBytes(devRead(dev, dma, SIZE), update, String.format("fresh after sync_for_device, seed %d", seed));
            System.arraycopy(update, 0, cpu, 0, SIZE);
        }
        if (dir.deviceWrites())
        {
            // The device's write lands in the bounce buffer: the CPU sees the old bytes until sync or unmap.
            final byte[] first = random(rnd, SIZE);
            devWrite(dev, dma, first);
            assertBytes(cpuRead(engine, buf, SIZE), cpu, String.format("old bytes before sync_for_cpu, seed %d", seed));
            dev.syncSingleForCpu(dma, SIZE, dir);
            assertBytes(cpuRead(engine, buf, SIZE), first, String.format("after sync_for_cpu, seed %d", seed));

            final byte[] second = random(rnd, SIZE);
            devWrite(dev, dma, second);
            assertBytes(cpuRead(engine, buf, SIZE), first, String.format("old bytes before unmap, seed %d", seed));
            dev.unmapPhys(dma, SIZE, dir, DmaAttrs.NONE);
            assertBytes(cpuRead(engine, buf, SIZE), second, String.format("after unmap, seed %d", seed));
        }
        else
        {
            // TO_DEVICE: whatever the device scribbles into the bounce buffer never reaches the original.
            devWrite(dev, dma, random(rnd, SIZE));
            dev.syncSingleForCpu(dma, SIZE, dir);
            dev.unmapPhys(dma, SIZE, dir, DmaAttrs.NONE);
            assertBytes(cpuRead(engine, buf, SIZE), cpu, String.format("TO_DEVICE never copies back, seed %d", seed));
        }
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
        assertThat(engine.stats().bounces()).isEqualTo(1);
    }

    @Test
    void fromDeviceBounceBufferStartsWithTheOriginalBytesSoAPartialWriteLeaksNothing()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        // One CPU, one area, a small pool: the second mapping reuses the slots of the first.
        engine = DmaEngine.builder().cpus(1).swiotlb(SwiotlbConfig.defaults().size(256L << 10)).build();
        final Device dev = engine.attach(DeviceConfig.pci(BDF).dmaBits(32));

        // Leave someone else's secret in every slot of the pool.
        final long other = highPage(engine);
        final byte[] secret = DmaBytes.filled(SIZE, 0x5e);
        cpuWrite(engine, other, secret);
        for (int i = 0; i < engine.swiotlb().totalSlots() * 2048 / SIZE; i++)
        {
            final long d = dev.mapPhys(other, SIZE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            assertThat(dev.mappingError(d)).isFalse();
            dev.unmapPhys(d, SIZE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        }

        final long buf = highPage(engine);
        final byte[] orig = random(rnd, SIZE);
        cpuWrite(engine, buf, orig);
        final long dma = dev.mapPhys(buf, SIZE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).isFalse();
        // The device writes only the first 100 bytes (a short receive).
        final byte[] rx = random(rnd, 100);
        devWrite(dev, dma, rx);
        dev.unmapPhys(dma, SIZE, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);

        final byte[] expected = orig.clone();
        System.arraycopy(rx, 0, expected, 0, rx.length);
        assertBytes(cpuRead(engine, buf, SIZE), expected, String.format("no stale pool bytes in the tail, seed %d", seed));
    }

    @Test
    void minAlignMaskKeepsTheOffsetWithinThePage()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device nvme = attach(SwiotlbConfig.defaults().force(true), DeviceConfig.pci(BDF).minAlignMask(0xfff));
        final Device plain = engine.attach(DeviceConfig.pci("0000:05:00.0"));
        final long page = DmaBytes.pages(engine, 1, Zone.DMA32);
        final long buf = page + 0x200;
        final int len = 6000; // crosses into the next page and spans several slots
        final byte[] data = random(rnd, len);
        cpuWrite(engine, buf, data);

        final long dma = nvme.mapPhys(buf, len, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(nvme.mappingError(dma)).isFalse();
        assertThat(engine.swiotlb().isSwiotlbBuffer(dma)).as("forced bounce").isTrue();
        assertThat(dma & 0xfff).as("offset within the 4 KiB page preserved").isEqualTo(0x200);
        assertBytes(devRead(nvme, dma, len), data, String.format("seed %d", seed));

        // Without min_align_mask the bounce is only slot-aligned: the page offset is lost (the NVMe corruption).
        final long plainDma = plain.mapPhys(buf, len, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(plain.mappingError(plainDma)).isFalse();
        assertThat(plainDma & 0x7ff).isZero();
        assertBytes(devRead(plain, plainDma, len), data, String.format("seed %d", seed));

        nvme.unmapPhys(dma, len, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        plain.unmapPhys(plainDma, len, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    enum Trigger
    {
        MASK_32_HIGH_BUFFER(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32), true, true),
        MASK_32_LOW_BUFFER(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(32), false, false),
        FORCED_LOW_BUFFER(SwiotlbConfig.defaults().force(true), DeviceConfig.pci(BDF), false, true),
        FORCED_HIGH_BUFFER(SwiotlbConfig.defaults().force(true), DeviceConfig.pci(BDF), true, true),
        BUS_LIMIT_HIGH_BUFFER(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).busDmaLimit(0xFFFF_FFFFL), true, true),
        BUS_LIMIT_LOW_BUFFER(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).busDmaLimit(0xFFFF_FFFFL), false, false),
        // The bus sees RAM 4 GiB higher: a buffer at 4.x GiB is at 8.x GiB on the bus, beyond 33 bits.
        OFFSET_HIGH_BUFFER(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(33).dmaOffset(4L << 30), true, true),
        OFFSET_LOW_BUFFER(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaBits(33).dmaOffset(4L << 30), false,
            false);

        final SwiotlbConfig swiotlb;
        final DeviceConfig config;
        final boolean highBuffer;
        final boolean bounces;

        Trigger(final SwiotlbConfig swiotlb, final DeviceConfig config, final boolean highBuffer,
            final boolean bounces)
        {
            this.swiotlb = swiotlb;
            this.config = config;
            this.highBuffer = highBuffer;
            this.bounces = bounces;
        }
    }

    @ParameterizedTest
    @EnumSource(Trigger.class)
    void bouncesExactlyWhenTheDeviceCannotReachTheBuffer(final Trigger t)
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Device dev = attach(t.swiotlb, t.config);
        final long buf = t.highBuffer ? highPage(engine) : lowPage(engine);
        final byte[] out = random(rnd, SIZE);
        cpuWrite(engine, buf, out);

        final long dma = dev.mapPhys(buf, SIZE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertThat(dev.mappingError(dma)).as("%s", t).isFalse();
        final long offset = t.config.dmaOffset();
        if (t.bounces)
        {
            assertThat(engine.swiotlb().isSwiotlbBuffer(dma - offset)).as("%s bounced", t).isTrue();
            assertThat(engine.stats().bounces()).isEqualTo(1);
        }
        else
        {
            assertThat(dma).as("%s direct: phys + dma_range_map offset", t).isEqualTo(buf + offset);
            assertThat(engine.stats().bounces()).isZero();
        }
        assertThat(Long.compareUnsigned(dma + SIZE - 1, dev.dmaMask())).as("%s within the mask", t)
            .isLessThanOrEqualTo(0);

        assertBytes(devRead(dev, dma, SIZE), out, String.format("%s device reads the CPU's bytes, seed %d", t, seed));
        final byte[] in = random(rnd, SIZE);
        devWrite(dev, dma, in);
        dev.unmapPhys(dma, SIZE, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
        assertBytes(cpuRead(engine, buf, SIZE), in, String.format("%s CPU reads the device's bytes, seed %d", t, seed));
        assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
    }

    @Test
    void dmaOffsetDeviceReachesOnlyItsOwnViewOfRam()
    {
        final long seed = DmaBytes.seed();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final long offset = 1L << 30;
        final Device dev = attach(SwiotlbConfig.defaults(), DeviceConfig.pci(BDF).dmaOffset(offset));
        final long buf = lowPage(engine);
        final byte[] data = random(rnd, SIZE);
        cpuWrite(engine, buf, data);
        final DmaBuffer coherent = dev.allocCoherent(SIZE);
        assertThat(coherent).isNotNull();
        assertThat(coherent.dma()).isEqualTo(coherent.phys() + offset);

        final long dma = dev.mapPhys(buf, SIZE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        assertThat(dma).isEqualTo(buf + offset);
        assertBytes(devRead(dev, dma, SIZE), data, String.format("seed %d", seed));
        devWrite(dev, coherent.dma(), data);
        assertBytes(cpuRead(engine, coherent.phys(), SIZE), data, String.format("seed %d", seed));
        dev.unmapPhys(dma, SIZE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        dev.freeCoherent(coherent);
    }
}
