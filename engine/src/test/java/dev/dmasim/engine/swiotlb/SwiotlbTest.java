package dev.dmasim.engine.swiotlb;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.KernelLog;
import dev.dmasim.sim.mem.PhysAddressSpace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.dmasim.engine.DmaDirection.BIDIRECTIONAL;
import static dev.dmasim.engine.DmaDirection.FROM_DEVICE;
import static dev.dmasim.engine.DmaDirection.TO_DEVICE;
import static dev.dmasim.engine.swiotlb.Swiotlb.IO_TLB_SIZE;
import static dev.dmasim.engine.swiotlb.Swiotlb.NO_SLOT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SwiotlbTest
{
    static final String DEV = "0000:03:00.0";
    static final long POOL = 32L << 20;
    static final long BUF = 4L << 20;
    static final long SEG4G = 0xffff_ffffL;

    PhysAddressSpace ram;
    KernelLog log;

    @BeforeEach
    void setUp()
    {
        ram = PhysAddressSpace.builder().ram(0, 64L << 20).build();
        log = new KernelLog(1000);
    }

    @AfterEach
    void tearDown()
    {
        ram.close();
    }

    Swiotlb pool(final long nslabs, final int nareas)
    {
        return new Swiotlb(ram, POOL, nslabs, nareas, false, log);
    }

    byte[] randomBytes(final SplittableRandom rnd, final int len)
    {
        final byte[] b = new byte[len];
        for (int i = 0; i < len; i++)
        {
            b[i] = (byte)rnd.nextInt(256);
        }
        return b;
    }

    void put(final long phys, final byte[] bytes)
    {
        assertThat(ram.write(phys, MemorySegment.ofArray(bytes))).isZero();
    }

    byte[] get(final long phys, final int len)
    {
        final byte[] b = new byte[len];
        assertThat(ram.read(phys, MemorySegment.ofArray(b))).isZero();
        return b;
    }

    void garbage(final Swiotlb tlb)
    {
        ram.fill(tlb.start(), tlb.end() - tlb.start(), (byte)0xAA);
    }

    long map(final Swiotlb tlb, final long orig, final long size, final DmaDirection dir)
    {
        return tlb.tblMapSingle(DEV, orig, size, 0, 0, SEG4G, dir, 0, 0);
    }

    // ---------------------------------------------------------------------------------------------------
    // Copy rules
    // ---------------------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = DmaDirection.class, names = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" })
    void shouldCopyOriginalIntoBounceBufferAtMapForEveryDirection(final DmaDirection dir)
    {
        final Swiotlb tlb = pool(512, 1);
        garbage(tlb);
        final byte[] data = randomBytes(new SplittableRandom(1), 10_000);
        put(BUF + 123, data);

        final long t = map(tlb, BUF + 123, data.length, dir);

        assertThat(t).isNotEqualTo(NO_SLOT);
        assertThat(tlb.isSwiotlbBuffer(t)).isTrue();
        assertThat(get(t, data.length)).as("bounce buffer of a %s map", dir).isEqualTo(data);
        assertThat(tlb.origAddr(t)).isEqualTo(BUF + 123);
        assertThat(tlb.origAddr(t + 5000)).isEqualTo(BUF + 123 + 5000);
        assertThat(tlb.bounces()).isEqualTo(1);
        assertThat(tlb.bytesBounced()).isEqualTo(data.length);
        assertThat(tlb.usedSlots()).isEqualTo(5);
    }

    @ParameterizedTest
    @CsvSource({
        "BIDIRECTIONAL, false, true",
        "FROM_DEVICE, false, true",
        "TO_DEVICE, false, false",
        "BIDIRECTIONAL, true, false",
        "FROM_DEVICE, true, false",
        "TO_DEVICE, true, false" })
    void shouldCopyBackAtUnmapOnlyForDeviceWritesWithoutSkipCpuSync(
        final DmaDirection dir, final boolean skip, final boolean copied)
    {
        final Swiotlb tlb = pool(512, 2);
        final SplittableRandom rnd = new SplittableRandom(2);
        final byte[] orig = randomBytes(rnd, 7000);
        final byte[] device = randomBytes(rnd, 7000);
        put(BUF, orig);
        final long t = map(tlb, BUF, orig.length, dir);
        put(t, device); // what the device wrote into the bounce buffer

        tlb.tblUnmapSingle(DEV, t, orig.length, dir, skip ? DmaAttrs.SKIP_CPU_SYNC : 0);

        assertThat(get(BUF, orig.length)).isEqualTo(copied ? device : orig);
        assertThat(tlb.usedSlots()).isZero();
        assertThat(tlb.origAddr(t)).isEqualTo(-1L);
    }

    @ParameterizedTest
    @EnumSource(value = DmaDirection.class, names = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" })
    void shouldFollowSyncCopyRulesOnSubRangesThatCrossSlots(final DmaDirection dir)
    {
        final Swiotlb tlb = pool(512, 1);
        final SplittableRandom rnd = new SplittableRandom(3);
        final int len = 9000;
        final byte[] orig = randomBytes(rnd, len);
        put(BUF + 0x40, orig);
        final long t = map(tlb, BUF + 0x40, len, dir);

        // sync_for_cpu of [3000, 6000): bounce -> orig for FROM/BIDIR only.
        final byte[] device = randomBytes(rnd, len);
        put(t, device);
        tlb.syncSingleForCpu(DEV, t + 3000, 3000, dir);
        final byte[] afterCpu = get(BUF + 0x40, len);
        final byte[] expectCpu = orig.clone();
        if (dir != TO_DEVICE)
        {
            System.arraycopy(device, 3000, expectCpu, 3000, 3000);
        }
        assertThat(afterCpu).as("orig after sync_for_cpu %s", dir).isEqualTo(expectCpu);

        // sync_for_device of [1000, 5000): orig -> bounce for TO/BIDIR only.
        final byte[] cpu = randomBytes(rnd, len);
        put(BUF + 0x40, cpu);
        tlb.syncSingleForDevice(DEV, t + 1000, 4000, dir);
        final byte[] expectDev = device.clone();
        if (dir != FROM_DEVICE)
        {
            System.arraycopy(cpu, 1000, expectDev, 1000, 4000);
        }
        assertThat(get(t, len)).as("bounce after sync_for_device %s", dir).isEqualTo(expectDev);
        assertThat(tlb.overflows()).isZero();
    }

    @Test
    void shouldStartFromDeviceBounceBufferWithOriginalBytesSoPartialDeviceWritesLeakNothing()
    {
        final Swiotlb tlb = pool(512, 1);
        garbage(tlb);
        final byte[] orig = randomBytes(new SplittableRandom(4), 4096);
        put(BUF, orig);
        final long t = map(tlb, BUF, 4096, FROM_DEVICE);
        put(t + 100, new byte[] { 1, 2, 3 }); // the device writes only 3 bytes

        tlb.tblUnmapSingle(DEV, t, 4096, FROM_DEVICE, 0);

        final byte[] expected = orig.clone();
        expected[100] = 1;
        expected[101] = 2;
        expected[102] = 3;
        assertThat(get(BUF, 4096)).isEqualTo(expected);
    }

    // ---------------------------------------------------------------------------------------------------
    // Alignment
    // ---------------------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(longs = { 0x200, 0xa00, 0xfff, 0x0 })
    void shouldPreserveMinAlignMaskOffsetAsNvmeNeeds(final long offsetInPage)
    {
        final Swiotlb tlb = pool(1024, 2);
        map(tlb, BUF + 0x8000, 2048, TO_DEVICE); // move the search index off a page boundary
        final SplittableRandom rnd = new SplittableRandom(5);
        final byte[] data = randomBytes(rnd, 8192);
        final long orig = BUF + 0x3000 + offsetInPage;
        put(orig, data);

        final long t = tlb.tblMapSingle(DEV, orig, data.length, 0, 0xfff, SEG4G, BIDIRECTIONAL, 0, 0);

        assertThat(t & 0xfff).isEqualTo(offsetInPage);
        assertThat(get(t, data.length)).isEqualTo(data);
        // Streaming (no alloc alignment): the in-allocation offset is limited to the slot size; bit 11 of the
        // offset is matched by choosing an odd or even slot.
        final long expectedSlots = ((offsetInPage & 0x7ff) + data.length + IO_TLB_SIZE - 1) / IO_TLB_SIZE;
        assertThat(tlb.usedSlots()).isEqualTo(1 + expectedSlots);

        final byte[] device = randomBytes(rnd, data.length);
        put(t, device);
        tlb.tblUnmapSingle(DEV, t, data.length, BIDIRECTIONAL, 0);
        assertThat(get(orig, data.length)).isEqualTo(device);
        assertThat(tlb.usedSlots()).isEqualTo(1);
    }

    @Test
    void shouldUsePaddingSlotsWhenTheOffsetExceedsASlotUnderAllocAlignment()
    {
        final Swiotlb tlb = pool(128, 1); // one segment
        map(tlb, BUF, 100, TO_DEVICE);
        final SplittableRandom rnd = new SplittableRandom(9);
        final byte[] data = randomBytes(rnd, 5000);
        final long orig = BUF + 0x7000 + 0xa40;
        put(orig, data);

        final long t = tlb.tblMapSingle(DEV, orig, data.length, 0xfff, 0xfff, SEG4G, FROM_DEVICE, 0, 0);

        assertThat(t & 0xfff).isEqualTo(0xa40);
        assertThat(tlb.usedSlots()).as("ALIGN(0xa40 + 5000, 4096) = 8192 bytes, one padding slot").isEqualTo(1 + 4);
        assertThat(get(t, data.length)).isEqualTo(data);
        assertThat(tlb.origAddr(t + 4000)).isEqualTo(orig + 4000);
        assertThat(tlb.origAddr(t - 0xa40)).as("padding slot carries no data").isEqualTo(-1L);
        final byte[] device = randomBytes(rnd, data.length);
        put(t, device);
        tlb.syncSingleForCpu(DEV, t + 10, data.length - 10, FROM_DEVICE);
        assertThat(tlb.overflows()).isZero();
        assertThat(get(orig + 10, data.length - 10)).isEqualTo(java.util.Arrays.copyOfRange(device, 10, data.length));

        tlb.tblUnmapSingle(DEV, t, data.length, FROM_DEVICE, 0);
        assertThat(get(orig, data.length)).isEqualTo(device);
        assertThat(tlb.usedSlots()).isEqualTo(1);
        // The rest of the segment (all but slot 0) is one free run again.
        assertThat(tlb.tblMapSingle(DEV, BUF, 127 * IO_TLB_SIZE, 0, 0x7ff, SEG4G, TO_DEVICE, 0, 0))
            .isEqualTo(POOL + IO_TLB_SIZE);
    }

    @Test
    void shouldAlignToAllocAlignMaskAndPageAlignLargeStreamingMappings()
    {
        final Swiotlb tlb = pool(2048, 1);
        final long first = map(tlb, BUF, 100, TO_DEVICE); // index now at slot 1: not page-aligned
        assertThat(first).isEqualTo(POOL);

        final long page = map(tlb, BUF, 4096, TO_DEVICE);
        assertThat(page & 0xfff).as("legacy page alignment for >= PAGE_SIZE").isZero();

        final long small = map(tlb, BUF, 3000, TO_DEVICE);
        assertThat(small & 0x7ff).isZero();

        final long big = tlb.tblMapSingle(DEV, BUF + 0x123, 5000, 0xffff, 0, SEG4G, TO_DEVICE, 0, 0);
        assertThat(big & 0xffff).isZero();
        assertThat(tlb.usedSlots()).as("5000 bytes rounded up to 64 KiB").isEqualTo(1 + 2 + 2 + 32);
        assertThat(log.contains("Alloc alignment may prevent fulfilling requests with max mapping_size")).isTrue();

        tlb.tblUnmapSingle(DEV, big, 5000, TO_DEVICE, 0);
        tlb.tblUnmapSingle(DEV, small, 3000, TO_DEVICE, 0);
        tlb.tblUnmapSingle(DEV, page, 4096, TO_DEVICE, 0);
        tlb.tblUnmapSingle(DEV, first, 100, TO_DEVICE, 0);
        assertThat(tlb.usedSlots()).isZero();
    }

    @Test
    void shouldNeverCrossTheSegmentBoundary()
    {
        final long seed = 0x5e6b0da7L;
        final SplittableRandom rnd = new SplittableRandom(seed);
        final Swiotlb tlb = pool(1024, 1);
        final long boundary = 0x3fff; // 16 KiB = 8 slots
        final List<long[]> live = new ArrayList<>();
        for (int i = 0; i < 400; i++)
        {
            if (!live.isEmpty() && rnd.nextInt(3) == 0)
            {
                final long[] m = live.remove(rnd.nextInt(live.size()));
                tlb.tblUnmapSingle(DEV, m[0], m[1], TO_DEVICE, 0);
                continue;
            }
            final long size = 1 + rnd.nextInt(3 * IO_TLB_SIZE);
            final long t = tlb.tblMapSingle(DEV, BUF, size, 0, 0, boundary, TO_DEVICE, DmaAttrs.NO_WARN, 0);
            if (t != NO_SLOT)
            {
                assertThat(t / (boundary + 1)).as("seed %d: [%x, +%d) crosses 16K", seed, t, size)
                    .isEqualTo((t + size - 1) / (boundary + 1));
                live.add(new long[] { t, size });
            }
        }
        assertThat(live).as("seed %d", seed).isNotEmpty();
        // A mapping larger than the boundary can never be placed.
        assertThat(tlb.tblMapSingle(DEV, BUF, 0x4001, 0, 0, boundary, TO_DEVICE, 0, 0)).isEqualTo(NO_SLOT);
    }

    @Test
    void shouldZeroPaddingUpToGranuleForUntrustedDevices()
    {
        final Swiotlb tlb = pool(512, 1);
        garbage(tlb);
        final byte[] data = randomBytes(new SplittableRandom(6), 0x300);
        final long orig = BUF + 0x1100;
        put(orig, data);

        final long t = tlb.tblMapSingleZeroPadded(DEV, orig, data.length, 4096, 0xfff, SEG4G, TO_DEVICE, 0, 0);

        assertThat(t & 0xfff).isEqualTo(0x100);
        assertThat(get(t - 0x100, 0x100)).containsOnly(0);
        assertThat(get(t, data.length)).isEqualTo(data);
        assertThat(get(t + data.length, 4096 - 0x100 - data.length)).containsOnly(0);
        assertThat(get(t - 0x100 + 4096, 16)).as("next granule untouched").containsOnly((byte)0xAA);
        assertThat(tlb.usedSlots()).isEqualTo(2);

        tlb.tblUnmapSingle(DEV, t, data.length, TO_DEVICE, 0);
        assertThat(tlb.usedSlots()).isZero();
        assertThatThrownBy(() -> tlb.tblMapSingleZeroPadded(DEV, orig, 16, 3000, 0, SEG4G, TO_DEVICE, 0, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("granule 3000");
    }

    // ---------------------------------------------------------------------------------------------------
    // Exhaustion and limits
    // ---------------------------------------------------------------------------------------------------

    @Test
    void shouldFailWithKernelMessageWhenFullAndRecoverAfterUnmap()
    {
        final Swiotlb tlb = pool(512, 1);
        final List<Long> live = new ArrayList<>();
        long t;
        while ((t = map(tlb, BUF, 65536, TO_DEVICE)) != NO_SLOT)
        {
            live.add(t);
        }
        assertThat(live).hasSize(16);
        assertThat(tlb.usedSlots()).isEqualTo(512);
        assertThat(log.lines()).containsExactly(
            DEV + ": swiotlb buffer is full (sz: 65536 bytes), total 512 (slots), used 512 (slots)");
        assertThat(tlb.failures()).isEqualTo(1);

        assertThat(tlb.tblMapSingle(DEV, BUF, 100, 0, 0, SEG4G, TO_DEVICE, DmaAttrs.NO_WARN, 0)).isEqualTo(NO_SLOT);
        assertThat(log.count()).as("NO_WARN is silent").isEqualTo(1);
        assertThat(tlb.failures()).isEqualTo(2);

        for (final long m : live)
        {
            tlb.tblUnmapSingle(DEV, m, 65536, TO_DEVICE, 0);
        }
        assertThat(tlb.usedSlots()).isZero();
        assertThat(tlb.usedHiwater()).isEqualTo(512);
        // The free runs merged back: four whole segments of 256 KiB fit again.
        for (int i = 0; i < 4; i++)
        {
            assertThat(map(tlb, BUF, 256 << 10, TO_DEVICE)).isNotEqualTo(NO_SLOT);
        }
        assertThat(tlb.usedSlots()).isEqualTo(512);
        tlb.resetHiwater();
        assertThat(tlb.usedHiwater()).isZero();
    }

    @Test
    void shouldFailRequestsBeyond256KiBEvenWithFreeSlots()
    {
        final Swiotlb tlb = pool(1024, 1);
        assertThat(map(tlb, BUF, (256 << 10) + 1, TO_DEVICE)).isEqualTo(NO_SLOT);
        assertThat(log.lines()).containsExactly(
            DEV + ": swiotlb buffer is full (sz: 262145 bytes), total 1024 (slots), used 0 (slots)");
        assertThat(map(tlb, BUF, 512 << 10, TO_DEVICE)).isEqualTo(NO_SLOT);
        assertThat(log.lines()).last().asString().contains("sz: 524288 bytes");

        // Exactly 256 KiB fits; with an offset it no longer does.
        assertThat(map(tlb, BUF, 256 << 10, TO_DEVICE)).isNotEqualTo(NO_SLOT);
        assertThat(tlb.tblMapSingle(DEV, BUF + 0x200, 256 << 10, 0, 0xfff, SEG4G, TO_DEVICE, 0, 0))
            .isEqualTo(NO_SLOT);
        assertThat(tlb.maxMappingSize(0)).isEqualTo(256 << 10);
        assertThat(tlb.maxMappingSize(0xfff)).isEqualTo((256 << 10) - 4096);
        assertThat(tlb.maxMappingSize(0x7ff)).isEqualTo((256 << 10) - 2048);
        final long max = tlb.maxMappingSize(0xfff);
        assertThat(tlb.tblMapSingle(DEV, BUF + 0xfff, max, 0, 0xfff, SEG4G, TO_DEVICE, 0, 0)).isNotEqualTo(NO_SLOT);
    }

    @Test
    void shouldClampAndLogBounceOverflow()
    {
        final Swiotlb tlb = pool(512, 1);
        final SplittableRandom rnd = new SplittableRandom(7);
        final byte[] orig = randomBytes(rnd, 300);
        put(BUF, orig);
        final long t = map(tlb, BUF, 100, FROM_DEVICE);
        final byte[] device = randomBytes(rnd, 300);
        put(t, device);

        tlb.syncSingleForCpu(DEV, t, 200, FROM_DEVICE);

        assertThat(log.lines()).containsExactly(DEV + ": Buffer overflow detected. Allocation size: 100. Mapping size: 200.");
        final byte[] expected = orig.clone();
        System.arraycopy(device, 0, expected, 0, 100);
        assertThat(get(BUF, 300)).as("only the 100 mapped bytes are copied").isEqualTo(expected);

        tlb.tblUnmapSingle(DEV, t, 150, FROM_DEVICE, 0);
        assertThat(log.lines()).last().isEqualTo(DEV + ": Buffer overflow detected. Allocation size: 100. Mapping size: 150.");
        assertThat(tlb.overflows()).isEqualTo(2);
        assertThat(get(BUF + 100, 200)).isEqualTo(java.util.Arrays.copyOfRange(orig, 100, 300));
        assertThat(tlb.usedSlots()).isZero();
    }

    // ---------------------------------------------------------------------------------------------------
    // Areas
    // ---------------------------------------------------------------------------------------------------

    @Test
    void shouldSearchCallersAreaFirstThenTheOthers()
    {
        final Swiotlb tlb = pool(512, 4);
        assertThat(tlb.areas()).isEqualTo(4);
        assertThat(tlb.areaSlots()).isEqualTo(128);
        final long areaBytes = 128L * IO_TLB_SIZE;

        assertThat((tlb.tblMapSingle(DEV, BUF, 100, 0, 0, SEG4G, TO_DEVICE, 0, 5) - POOL) / areaBytes)
            .as("cpu 5 -> area 1").isEqualTo(1);
        for (int i = 0; i < 2; i++)
        {
            final long t = tlb.tblMapSingle(DEV, BUF, 128 << 10, 0, 0, SEG4G, TO_DEVICE, 0, 2);
            assertThat((t - POOL) / areaBytes).isEqualTo(2);
        }
        assertThat(tlb.areaUsed(2)).isEqualTo(128);
        final long spill = tlb.tblMapSingle(DEV, BUF, 100, 0, 0, SEG4G, TO_DEVICE, 0, 2);
        assertThat((spill - POOL) / areaBytes).as("area 2 full -> area 3").isEqualTo(3);

        for (int i = 0; i < 127; i++)
        {
            final long t = tlb.tblMapSingle(DEV, BUF, IO_TLB_SIZE, 0, 0, SEG4G, TO_DEVICE, 0, 3);
            assertThat((t - POOL) / areaBytes).isEqualTo(3);
        }
        assertThat(tlb.areaUsed(3)).isEqualTo(128);
        final long wrap = tlb.tblMapSingle(DEV, BUF, 100, 0, 0, SEG4G, TO_DEVICE, 0, 3);
        assertThat((wrap - POOL) / areaBytes).as("area 3 full -> wrap round to area 0").isEqualTo(0);
        assertThat(tlb.usedSlots()).isEqualTo(1 + 128 + 1 + 127 + 1);
    }

    @Test
    void shouldLimitAreasToWholeSegmentsAndRoundSlots()
    {
        assertThat(Swiotlb.limitNareas(4, 512)).isEqualTo(4);
        assertThat(Swiotlb.limitNareas(3, 512)).isEqualTo(4);
        assertThat(Swiotlb.limitNareas(8, 512)).isEqualTo(4);
        assertThat(Swiotlb.limitNareas(8, 384)).isEqualTo(1);
        assertThat(Swiotlb.limitNareas(16, 256)).isEqualTo(2);
        assertThat(Swiotlb.limitNareas(2, 32768)).isEqualTo(2);
        assertThat(Swiotlb.nslabsForBytes(Swiotlb.DEFAULT_SIZE)).isEqualTo(32768);

        final Swiotlb tlb = pool(100, 2);
        assertThat(tlb.totalSlots()).isEqualTo(128);
        assertThat(tlb.areas()).isEqualTo(1);
        assertThat(tlb.end() - tlb.start()).isEqualTo(128L * IO_TLB_SIZE);
        assertThat(tlb.forceBounce()).isFalse();
        assertThat(new Swiotlb(ram, POOL, 256, 2, true, log).forceBounce()).isTrue();
    }

    @Test
    void shouldAllocateNothingOnMapSyncAndUnmap() throws Exception
    {
        final Swiotlb tlb = pool(1024, 2);
        // Reflection: the engine module does not read java.management (tests run on the class path).
        final Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean")
            .invoke(null);
        final java.lang.reflect.Method allocatedBytes =
            Class.forName("com.sun.management.ThreadMXBean").getMethod("getThreadAllocatedBytes", long.class);
        final long tid = Thread.currentThread().threadId();
        cycle(tlb, 20_000); // warm up (JIT, first-touch of RAM chunks)
        final long before = (Long)allocatedBytes.invoke(mx, tid);
        assertThat(before).as("allocation accounting is supported").isPositive();
        cycle(tlb, 20_000);
        final long allocated = (Long)allocatedBytes.invoke(mx, tid) - before;
        assertThat(allocated).as("bytes allocated by 20000 map/sync/unmap cycles").isLessThan(4096);
        assertThat(tlb.usedSlots()).isZero();
    }

    private static void cycle(final Swiotlb tlb, final int n)
    {
        for (int i = 0; i < n; i++)
        {
            final long size = 64 + (i & 8191);
            final long t = tlb.tblMapSingle(DEV, BUF + (i & 4095), size, 0, 0xfff, SEG4G, BIDIRECTIONAL, 0, i);
            tlb.syncSingleForCpu(DEV, t, size, BIDIRECTIONAL);
            tlb.syncSingleForDevice(DEV, t, size, BIDIRECTIONAL);
            tlb.tblUnmapSingle(DEV, t, size, BIDIRECTIONAL, 0);
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Bad inputs
    // ---------------------------------------------------------------------------------------------------

    @Test
    void shouldRejectBadInputsWithoutChangingState()
    {
        final Swiotlb tlb = pool(512, 2);
        final byte[] data = randomBytes(new SplittableRandom(8), 5000);
        put(BUF, data);
        final long t = map(tlb, BUF, 5000, BIDIRECTIONAL);
        final long used = tlb.usedSlots();
        final long bounced = tlb.bytesBounced();
        final byte[] bounce = get(t, 5000);

        assertThatThrownBy(() -> map(tlb, BUF, 0, TO_DEVICE)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("swiotlb map (" + DEV + "): mappingSize 0 is not positive");
        assertThatThrownBy(() -> map(tlb, BUF, -5, TO_DEVICE)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("swiotlb map (" + DEV + "): mappingSize -5 is not positive");
        assertThatThrownBy(() -> map(tlb, -4096, 10, TO_DEVICE)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("origPhys");
        assertThatThrownBy(() -> map(tlb, BUF, 10, DmaDirection.NONE)).isInstanceOf(IllegalArgumentException.class)
            .hasMessage("swiotlb map (" + DEV + "): direction NONE is not BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE");
        assertThatThrownBy(() -> map(tlb, BUF, 10, null)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("direction null");
        assertThatThrownBy(() -> tlb.tblMapSingle(DEV, BUF, 10, 0x1000, 0, SEG4G, TO_DEVICE, 0, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("allocAlignMask 0x1000");
        assertThatThrownBy(() -> tlb.tblMapSingle(DEV, BUF, 10, 0, 0x1001, SEG4G, TO_DEVICE, 0, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("minAlignMask 0x1001");
        assertThatThrownBy(() -> tlb.tblUnmapSingle(DEV, BUF, 5000, BIDIRECTIONAL, 0))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessage("swiotlb unmap (" + DEV + "): tlbAddr 0x400000 is not in the swiotlb pool [0x2000000, 0x2100000)");
        assertThatThrownBy(() -> tlb.tblUnmapSingle(DEV, t + 2048, 100, BIDIRECTIONAL, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not the start of a live swiotlb mapping");
        assertThatThrownBy(() -> tlb.tblUnmapSingle(DEV, t, 5000, DmaDirection.NONE, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("direction NONE");
        assertThatThrownBy(() -> tlb.tblUnmapSingle(DEV, t, -1, BIDIRECTIONAL, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessage("swiotlb unmap (" + DEV + "): size -1 is negative");
        assertThatThrownBy(() -> tlb.syncSingleForCpu(DEV, t, 10, DmaDirection.NONE))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sync_for_cpu").hasMessageContaining("NONE");
        assertThatThrownBy(() -> tlb.syncSingleForDevice(DEV, t, 10, DmaDirection.NONE))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sync_for_device");
        assertThatThrownBy(() -> tlb.syncSingleForDevice(DEV, t + 64 * 1024, 10, TO_DEVICE))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not inside a live swiotlb mapping");

        assertThat(tlb.usedSlots()).isEqualTo(used);
        assertThat(tlb.bytesBounced()).isEqualTo(bounced);
        assertThat(tlb.failures()).isZero();
        assertThat(get(t, 5000)).isEqualTo(bounce);
        assertThat(get(BUF, 5000)).isEqualTo(data);

        tlb.tblUnmapSingle(DEV, t, 5000, BIDIRECTIONAL, 0);
        assertThatThrownBy(() -> tlb.tblUnmapSingle(DEV, t, 5000, BIDIRECTIONAL, 0))
            .as("double unmap").isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not the start");
        assertThat(tlb.usedSlots()).isZero();

        assertThatThrownBy(() -> new Swiotlb(ram, POOL + 100, 512, 1, false, log))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("page-aligned");
        assertThatThrownBy(() -> new Swiotlb(ram, 63L << 20, 1024, 1, false, log))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not entirely RAM");
    }
}
