package dev.dmasim.sim.cache;

import dev.dmasim.sim.bus.Access;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysAddressSpace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

class WriteBackCacheTest
{
    private static final long RAM = 4L << 20;
    private static final long HOLE = 8L << 20;

    private final PhysAddressSpace mem = PhysAddressSpace.builder().ram(0, RAM, "ram").build();
    private final WriteBackCache cache = new WriteBackCache(mem, CacheConfig.defaults());
    private final CpuView cpu = cache.cpuView();

    @AfterEach
    void close()
    {
        mem.close();
    }

    private static MemorySegment bytes(final int len, final int value)
    {
        final byte[] b = new byte[len];
        Arrays.fill(b, (byte)value);
        return MemorySegment.ofArray(b);
    }

    private static int at(final MemorySegment s, final long i)
    {
        return s.get(ValueLayout.JAVA_BYTE, i) & 0xff;
    }

    private int ram(final long phys)
    {
        final MemorySegment one = MemorySegment.ofArray(new byte[1]);
        mem.read(phys, one);
        return at(one, 0);
    }

    private int viaCpu(final long phys)
    {
        final MemorySegment one = MemorySegment.ofArray(new byte[1]);
        assertThat(cpu.read(phys, one)).isEqualTo(MemTx.OK);
        return at(one, 0);
    }

    @Test
    void cpuWriteStaysDirtyUntilCleanThenStaysCachedClean()
    {
        cpu.write(0x1000, bytes(100, 0xAA));
        assertThat(ram(0x1000)).as("RAM before clean").isZero();
        assertThat(viaCpu(0x1000)).isEqualTo(0xAA);
        assertThat(cache.firstDirtyLine(0x1000, 100)).isEqualTo(0x1000);
        assertThat(cache.firstDirtyLine(0x1010, 100)).as("the first dirty line overlapping").isEqualTo(0x1000);

        cache.clean(0x1000, 100);
        assertThat(ram(0x1000)).isEqualTo(0xAA);
        assertThat(ram(0x1000 + 99)).isEqualTo(0xAA);
        assertThat(ram(0x1000 + 100)).isZero();
        assertThat(cache.isCached(0x1000)).isTrue();
        assertThat(cache.isDirty(0x1000)).isFalse();
        assertThat(cache.firstDirtyLine(0x1000, 100)).isEqualTo(-1L);
    }

    @Test
    void cachedLineStaysStaleAfterDeviceWriteUntilInvalidated()
    {
        assertThat(viaCpu(0x2000)).isZero(); // fills the line
        mem.write(0x2000, bytes(64, 0x55)); // a non-coherent device writes RAM
        assertThat(viaCpu(0x2000)).as("stale line").isZero();
        cache.invalidate(0x2000, 64);
        assertThat(viaCpu(0x2000)).isEqualTo(0x55);
    }

    @Test
    void invalidateLosesDirtyDataAndCleanInvalidateKeepsIt()
    {
        cpu.write(0x3000, bytes(64, 0x11));
        cache.invalidate(0x3000, 1);
        assertThat(viaCpu(0x3000)).as("dc ivac drops the store").isZero();
        assertThat(cache.invalidatedDirty()).isEqualTo(1);

        cpu.write(0x3040, bytes(64, 0x22));
        cache.cleanInvalidate(0x3040, 64);
        assertThat(cache.isCached(0x3040)).isFalse();
        assertThat(ram(0x3040)).isEqualTo(0x22);
    }

    @Test
    void evictionOfDirtyLineWritesStaleBytesOverDeviceData()
    {
        final long a = 0x10_0000;
        final long setStride = (long)cache.config().sets() * WriteBackCache.LINE_SIZE;
        cpu.write(a, bytes(64, 0xC0)); // dirty, never cleaned
        mem.write(a, bytes(64, 0xDE)); // the device's newer data lands in RAM
        assertThat(ram(a)).isEqualTo(0xDE);
        for (int i = 1; i <= cache.config().ways(); i++)
        {
            viaCpu(a + i * setStride); // same set: the LRU victim is a
        }
        assertThat(cache.isCached(a)).isFalse();
        assertThat(cache.dirtyEvictions()).isEqualTo(1);
        assertThat(ram(a)).as("the write-back overwrote the device's data").isEqualTo(0xC0);
    }

    @Test
    void lruKeepsRecentlyUsedLines()
    {
        final long setStride = (long)cache.config().sets() * WriteBackCache.LINE_SIZE;
        final int ways = cache.config().ways();
        for (int i = 0; i < ways; i++)
        {
            viaCpu(i * setStride);
        }
        viaCpu(0); // line 0 becomes most recent; line 1 is now the LRU
        viaCpu(ways * setStride);
        assertThat(cache.isCached(0)).isTrue();
        assertThat(cache.isCached(setStride)).isFalse();
        assertThat(cache.evictions()).isEqualTo(1);
    }

    @Test
    void coherentViewSeesDirtyLinesAndItsWritesReachTheCpu()
    {
        final CoherentView dev = cache.coherentView();
        cpu.write(0x4000, bytes(64, 0x77));
        final MemorySegment in = bytes(64, 0);
        assertThat(dev.read(0x4000, in)).isEqualTo(MemTx.OK);
        assertThat(at(in, 63)).as("snooped dirty line").isEqualTo(0x77);

        assertThat(viaCpu(0x5000)).isZero(); // cached clean
        cpu.write(0x5008, bytes(8, 0x01)); // now dirty, partially
        assertThat(dev.write(0x5004, bytes(2, 0x99))).isEqualTo(MemTx.OK);
        assertThat(viaCpu(0x5004)).isEqualTo(0x99);
        assertThat(viaCpu(0x5008)).as("the CPU's dirty bytes survive the snoop").isEqualTo(0x01);
        assertThat(viaCpu(0x5000)).isZero();
    }

    @Test
    void coherentBusDeviceBehavesAsWithoutCache()
    {
        final BusDevice dev = new BusDevice(mem, cache.coherentView(), "0000:03:00.0", 64, true, false);
        cpu.write(0x6000, bytes(128, 0x31));
        final MemorySegment in = bytes(128, 0);
        assertThat(dev.dmaRead(0x6000, in)).isEqualTo(MemTx.OK);
        assertThat(at(in, 0)).isEqualTo(0x31);
        assertThat(at(in, 127)).isEqualTo(0x31);
        assertThat(dev.dmaWrite(0x6000, bytes(128, 0x42))).isEqualTo(MemTx.OK);
        assertThat(viaCpu(0x6000)).isEqualTo(0x42);
        assertThat(viaCpu(0x607F)).isEqualTo(0x42);
    }

    @Test
    void observerSeesEveryTransferWithPhysAndResult()
    {
        final BusDevice dev = new BusDevice(mem, "0000:03:00.0", 64, false, false);
        final List<String> seen = new ArrayList<>();
        dev.observer((d, bus, phys, len, access, rc, stale) ->
            seen.add(Access.name(access) + " " + Long.toHexString(bus) + " " + Long.toHexString(phys) + " " + len + " "
                + MemTx.name(rc) + " " + stale));
        dev.dmaWrite(0x7000, bytes(16, 1));
        dev.dmaRead(HOLE, bytes(8, 0));
        dev.observer(null);
        dev.dmaRead(0x7000, bytes(8, 0));
        assertThat(seen).containsExactly(
            "WRITE 7000 7000 16 OK false",
            "READ 800000 800000 8 " + MemTx.name(MemTx.DECODE_ERROR) + " false");
    }

    @Test
    void nonRamRangesAreUncachedAndEightByteAccessorsGoThroughTheCache()
    {
        assertThat(cpu.read(HOLE, bytes(8, 0))).isEqualTo(MemTx.DECODE_ERROR);
        assertThat(cpu.ramSlice(0, 64)).isNull();
        cpu.putLong(0x8000, 0x1122334455667788L);
        assertThat(mem.getLong(0x8000)).as("the store is dirty in the cache").isZero();
        assertThat(cpu.getLong(0x8000)).isEqualTo(0x1122334455667788L);
        assertThat(cpu.compareAndSetLong(0x8000, 1, 2)).isFalse();
        assertThat(cpu.compareAndSetLong(0x8000, 0x1122334455667788L, 7)).isTrue();
        cache.clean(0x8000, 8);
        assertThat(mem.getLong(0x8000)).isEqualTo(7);
    }

    @Test
    void copyIsAMemmoveThroughTheCache()
    {
        final byte[] src = new byte[300];
        for (int i = 0; i < src.length; i++)
        {
            src[i] = (byte)i;
        }
        cpu.write(0x9000, MemorySegment.ofArray(src));
        assertThat(cpu.copy(0x9000, 0x9010, 300)).isEqualTo(MemTx.OK); // overlapping, forward direction
        final byte[] out = new byte[300];
        cpu.read(0x9010, MemorySegment.ofArray(out));
        assertThat(out).isEqualTo(src);
        assertThat(mem.getLong(0x9100)).as("still dirty in the cache").isZero();
        cpu.copy(0x9010, 0x9000, 300); // overlapping, backward direction
        cpu.read(0x9000, MemorySegment.ofArray(out));
        assertThat(out).isEqualTo(src);
    }

    /**
     * Seeded model check over 24 lines (distinct sets, so nothing is evicted): every CPU load, device load and
     * maintenance outcome must equal a per-line reference model of cached/dirty state.
     */
    @Test
    void matchesReferenceModelUnderRandomOperations()
    {
        final long seed = 0x5EED_CAC4EL;
        final SplittableRandom rnd = new SplittableRandom(seed);
        final int lines = 24;
        final long base = 0x20_0000;
        final byte[] ramModel = new byte[lines * 64];
        final byte[] cacheModel = new byte[lines * 64];
        final boolean[] cached = new boolean[lines];
        final boolean[] dirtyModel = new boolean[lines];
        for (int step = 0; step < 20_000; step++)
        {
            final int off = rnd.nextInt(lines * 64 - 1);
            final int len = 1 + rnd.nextInt(Math.min(200, lines * 64 - off));
            final int first = off / 64;
            final int last = (off + len - 1) / 64;
            final String where = "seed " + Long.toHexString(seed) + " step " + step + " off " + off + " len " + len;
            switch (rnd.nextInt(7))
            {
                case 0 -> // CPU store
                {
                    final byte v = (byte)rnd.nextInt();
                    cpu.write(base + off, bytes(len, v));
                    for (int l = first; l <= last; l++)
                    {
                        if (!cached[l])
                        {
                            System.arraycopy(ramModel, l * 64, cacheModel, l * 64, 64);
                            cached[l] = true;
                        }
                        dirtyModel[l] = true;
                    }
                    Arrays.fill(cacheModel, off, off + len, v);
                }
                case 1 -> // CPU load
                {
                    final MemorySegment got = bytes(len, 0);
                    cpu.read(base + off, got);
                    for (int l = first; l <= last; l++)
                    {
                        if (!cached[l])
                        {
                            System.arraycopy(ramModel, l * 64, cacheModel, l * 64, 64);
                            cached[l] = true;
                        }
                    }
                    assertThat(got.toArray(ValueLayout.JAVA_BYTE)).as(where)
                        .isEqualTo(Arrays.copyOfRange(cacheModel, off, off + len));
                }
                case 2 -> // non-coherent device store
                {
                    final byte v = (byte)rnd.nextInt();
                    mem.write(base + off, bytes(len, v));
                    Arrays.fill(ramModel, off, off + len, v);
                }
                case 3 -> // non-coherent device load
                {
                    final MemorySegment got = bytes(len, 0);
                    mem.read(base + off, got);
                    assertThat(got.toArray(ValueLayout.JAVA_BYTE)).as(where)
                        .isEqualTo(Arrays.copyOfRange(ramModel, off, off + len));
                }
                case 4, 5, 6 ->
                {
                    final boolean clean = rnd.nextBoolean() || rnd.nextBoolean();
                    final boolean drop = !clean || rnd.nextBoolean();
                    if (clean && drop)
                    {
                        cache.cleanInvalidate(base + off, len);
                    }
                    else if (clean)
                    {
                        cache.clean(base + off, len);
                    }
                    else
                    {
                        cache.invalidate(base + off, len);
                    }
                    for (int l = first; l <= last; l++)
                    {
                        if (cached[l] && dirtyModel[l] && clean)
                        {
                            System.arraycopy(cacheModel, l * 64, ramModel, l * 64, 64);
                        }
                        if (clean)
                        {
                            dirtyModel[l] = false;
                        }
                        if (drop)
                        {
                            cached[l] = false;
                            dirtyModel[l] = false;
                        }
                    }
                }
                default -> throw new AssertionError();
            }
            final long dirtyLine = cache.firstDirtyLine(base + off, len);
            long expected = -1;
            for (int l = first; l <= last; l++)
            {
                if (cached[l] && dirtyModel[l])
                {
                    expected = base + l * 64L;
                    break;
                }
            }
            assertThat(dirtyLine).as(where + ": first dirty line").isEqualTo(expected);
        }
        assertThat(cache.evictions()).as("lines in distinct sets are never evicted").isZero();
    }

    /** Threads store, clean and load their own interleaved lines (sharing every set); all bytes must survive. */
    @Test
    void concurrentCpusOnSharedSetsKeepTheirBytes() throws Exception
    {
        final int threads = 4;
        final CountDownLatch start = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final int id = t;
            final Thread th = new Thread(() ->
            {
                try
                {
                    start.await();
                    final SplittableRandom rnd = new SplittableRandom(42 + id);
                    for (int i = 0; i < 3_000; i++)
                    {
                        final long line = (rnd.nextInt(1024) * threads + id) * 64L; // 256 KiB span: evictions
                        final byte v = (byte)(i + id);
                        cpu.write(line, bytes(64, v));
                        if ((i & 1) == 0)
                        {
                            cache.clean(line, 64);
                            final MemorySegment r = bytes(64, 0);
                            mem.read(line, r);
                            if (at(r, 17) != (v & 0xff))
                            {
                                throw new AssertionError("thread " + id + " seed " + (42 + id) + " line " + line);
                            }
                        }
                        final MemorySegment r = bytes(64, 0);
                        cpu.read(line, r);
                        if (at(r, 63) != (v & 0xff))
                        {
                            throw new AssertionError("thread " + id + " seed " + (42 + id) + " line " + line);
                        }
                    }
                }
                catch (final Throwable ex)
                {
                    failure.compareAndSet(null, ex);
                }
            });
            all.add(th);
            th.start();
        }
        start.countDown();
        for (final Thread th : all)
        {
            th.join(20_000);
        }
        assertThat(failure.get()).isNull();
        assertThat(cache.evictions()).isPositive();
    }

    @Test
    void cpuViewHitsDoNotAllocate()
    {
        final com.sun.management.ThreadMXBean bean =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        final long tid = Thread.currentThread().threadId();
        final MemorySegment buf = MemorySegment.ofArray(new byte[256]);
        long sink = 0;
        long allocated = 0;
        for (int round = 0; round < 30; round++)
        {
            final long before = bean.getThreadAllocatedBytes(tid);
            for (int i = 0; i < 20_000; i++)
            {
                sink += cpu.write(0xA000 + (i & 0xFFF), buf);
                sink += cpu.read(0x40_0000 - 4096 + (i & 0x7FF), buf);
                sink += cpu.copy(0xA000, 0xC000, 200);
                cache.clean(0xA000, 256);
                cpu.putLong(0xE000, i);
                sink += cpu.getLong(0xE000);
            }
            allocated = bean.getThreadAllocatedBytes(tid) - before;
            if (allocated < 1024)
            {
                break;
            }
        }
        assertThat(sink).isNotNegative();
        assertThat(allocated).as("bytes allocated by 20k rounds of cached accesses").isLessThan(1024);
    }
}
