package dev.dmasim.sim.mem;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PhysAddressSpaceTest
{
    private static final long K = 1024;
    private static final long M = 1024 * K;
    private static final long CHUNK = 64 * K;

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception
    {
        for (final AutoCloseable c : toClose)
        {
            c.close();
        }
    }

    private <T extends AutoCloseable> T track(final T c)
    {
        toClose.add(c);
        return c;
    }

    /** RAM [4K, 4M) "lo", RAM [4M, 8M) "hi" adjacent, hole [8M, 12M), RAM [12M, 13M) "top"; 64 KiB chunks. */
    private PhysAddressSpace threeRegions()
    {
        return track(PhysAddressSpace.builder()
            .ram(4 * K, 4 * M - 4 * K, "lo")
            .ram(4 * M, 4 * M, "hi")
            .ram(12 * M, M, "top")
            .chunkSize(CHUNK)
            .build());
    }

    private static MemorySegment random(final long seed, final long len)
    {
        final byte[] b = new byte[(int)len];
        new SplittableRandom(seed).nextBytes(b);
        return MemorySegment.ofArray(b);
    }

    private static byte[] bytes(final MemorySegment s)
    {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void shouldReadBackAcrossChunkPageAndRegionBoundaries()
    {
        final PhysAddressSpace mem = threeRegions();
        // [4M - 100K - 3, 4M + 200K + 5): crosses many pages, chunks and the lo/hi region boundary
        final long phys = 4 * M - 100 * K - 3;
        final MemorySegment src = random(1, 300 * K + 8);
        assertThat(mem.write(phys, src)).isEqualTo(MemTx.OK);
        final MemorySegment dst = MemorySegment.ofArray(new byte[(int)src.byteSize()]);
        assertThat(mem.read(phys, dst)).isEqualTo(MemTx.OK);
        assertThat(bytes(dst)).isEqualTo(bytes(src));
        // unaligned sub-range read with a destination offset
        final MemorySegment dst2 = MemorySegment.ofArray(new byte[(int)(70 * K + 10)]);
        assertThat(mem.read(phys + 17, dst2, 5, 70 * K)).isEqualTo(MemTx.OK);
        assertThat(bytes(dst2.asSlice(5, 70 * K))).isEqualTo(bytes(src.asSlice(17, 70 * K)));
        // first region's edge chunk is clipped (base 4 KiB, not chunk-aligned)
        final MemorySegment head = random(2, CHUNK + 5);
        assertThat(mem.write(4 * K, head)).isEqualTo(MemTx.OK);
        final MemorySegment back = MemorySegment.ofArray(new byte[(int)head.byteSize()]);
        assertThat(mem.read(4 * K, back)).isEqualTo(MemTx.OK);
        assertThat(bytes(back)).isEqualTo(bytes(head));
    }

    @Test
    void shouldStopAtHoleAfterTransferringBytesBeforeIt()
    {
        final PhysAddressSpace mem = threeRegions();
        final long phys = 8 * M - 1000;
        final MemorySegment src = random(3, 3000);
        assertThat(mem.write(phys, src)).isEqualTo(MemTx.DECODE_ERROR);
        final MemorySegment dst = MemorySegment.ofArray(new byte[3000]);
        assertThat(mem.read(phys, dst)).isEqualTo(MemTx.DECODE_ERROR);
        assertThat(bytes(dst.asSlice(0, 1000))).isEqualTo(bytes(src.asSlice(0, 1000)));
        assertThat(bytes(dst.asSlice(1000, 2000))).containsOnly((byte)0);
        // entirely in the hole, and starting in the hole and running into RAM
        assertThat(mem.read(9 * M, dst)).isEqualTo(MemTx.DECODE_ERROR);
        assertThat(mem.write(12 * M - 10, src)).isEqualTo(MemTx.DECODE_ERROR);
        assertThat(mem.read(12 * M, MemorySegment.ofArray(new byte[10]))).isEqualTo(MemTx.OK);
        assertThat(mem.isRam(4 * K, 8 * M - 4 * K)).isTrue();
        assertThat(mem.isRam(4 * K, 8 * M)).isFalse();
        assertThat(mem.isRam(0, 4 * K)).isFalse();
        assertThat(mem.regionAt(8 * M)).isNull();
        assertThat(mem.regionAt(8 * M - 1).name()).isEqualTo("hi");
    }

    @Test
    void shouldReadZerosFromUntouchedRamWithoutAllocating()
    {
        final PhysAddressSpace mem = threeRegions();
        final MemorySegment dst = MemorySegment.ofArray(new byte[(int)(300 * K)]).fill((byte)7);
        assertThat(mem.read(M, dst)).isEqualTo(MemTx.OK);
        assertThat(bytes(dst)).containsOnly((byte)0);
        assertThat(mem.touchedBytes()).isZero();
        assertThat(mem.fill(M, 300 * K, (byte)0)).isEqualTo(MemTx.OK);
        assertThat(mem.copy(M, 2 * M, 300 * K)).isEqualTo(MemTx.OK);
        assertThat(mem.touchedBytes()).isZero();
        // one byte touches exactly one chunk; the clipped first chunk counts its clipped size
        assertThat(mem.write(M + 5, MemorySegment.ofArray(new byte[] { 1 }))).isEqualTo(MemTx.OK);
        assertThat(mem.touchedBytes()).isEqualTo(CHUNK);
        assertThat(mem.write(4 * K, MemorySegment.ofArray(new byte[] { 1 }))).isEqualTo(MemTx.OK);
        assertThat(mem.touchedBytes()).isEqualTo(2 * CHUNK - 4 * K);
        assertThat(mem.ramBytes()).isEqualTo(9 * M - 4 * K);
    }

    @Test
    void shouldDispatchMmioWithRegionOffsets()
    {
        final RecordingMmio dev = new RecordingMmio(64 * K);
        final PhysAddressSpace mem = track(PhysAddressSpace.builder()
            .ram(0, M, "ram")
            .mmio(M, 64 * K, dev, "bar0")
            .ram(M + 64 * K, M, "ram2")
            .chunkSize(CHUNK)
            .build());
        final MemorySegment src = random(4, 64 * K + 200);
        // RAM -> MMIO -> RAM in one write
        assertThat(mem.write(M - 100, src)).isEqualTo(MemTx.OK);
        assertThat(dev.log).containsExactly("W 0 65536 @100");
        assertThat(bytes(dev.regs)).isEqualTo(bytes(src.asSlice(100, 64 * K)));
        final MemorySegment dst = MemorySegment.ofArray(new byte[(int)src.byteSize()]);
        dev.log.clear();
        assertThat(mem.read(M - 100, dst)).isEqualTo(MemTx.OK);
        assertThat(dev.log).containsExactly("R 0 65536 @100");
        assertThat(bytes(dst)).isEqualTo(bytes(src));
        dev.log.clear();
        assertThat(mem.read(M + 0x123, dst, 0, 8)).isEqualTo(MemTx.OK);
        assertThat(dev.log).containsExactly("R 291 8 @0");
        // a refusing handler's code is returned as is
        dev.refuse = true;
        assertThat(mem.read(M + 8, dst, 0, 8)).isEqualTo(MemTx.DEVICE_ERROR);
        assertThat(mem.write(M - 8, src, 0, 16)).isEqualTo(MemTx.DEVICE_ERROR);
        dev.refuse = false;
        // copy RAM -> MMIO and MMIO -> RAM and MMIO -> MMIO; fill MMIO
        mem.write(10 * K, random(9, 100));
        dev.log.clear();
        assertThat(mem.copy(10 * K, M + 16, 100)).isEqualTo(MemTx.OK);
        assertThat(dev.log).containsExactly("W 16 100 @" + 10 * K); // offset inside the RAM chunk segment
        assertThat(mem.copy(M + 16, 500 * K, 100)).isEqualTo(MemTx.OK);
        final MemorySegment a = MemorySegment.ofArray(new byte[100]);
        final MemorySegment b = MemorySegment.ofArray(new byte[100]);
        mem.read(10 * K, a);
        mem.read(500 * K, b);
        assertThat(bytes(b)).isEqualTo(bytes(a));
        assertThat(mem.copy(M + 16, M + 1000, 100)).isEqualTo(MemTx.OK);
        assertThat(bytes(dev.regs.asSlice(1000, 100))).isEqualTo(bytes(a));
        assertThat(mem.fill(M + 2000, 10, (byte)0x5a)).isEqualTo(MemTx.OK);
        assertThat(bytes(dev.regs.asSlice(2000, 10))).containsOnly((byte)0x5a);
        // 8-byte accessors and ramSlice refuse MMIO
        assertThatThrownBy(() -> mem.getLong(M + 8))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("0x100008").hasMessageContaining("MMIO").hasMessageContaining("bar0");
        assertThat(mem.ramSlice(M + 8, 8)).isNull();
        assertThat(mem.isRam(M - 8, 16)).isFalse();
        assertThat(mem.regions()).extracting(PhysicalMemory.MemRegion::name).containsExactly("ram", "bar0", "ram2");
    }

    @Test
    void shouldCopyAndFillAcrossChunksWithMemmoveSemantics()
    {
        final PhysAddressSpace mem = threeRegions();
        final SplittableRandom rnd = new SplittableRandom(42);
        final long base = 3 * M; // model covers [3M, 5M): crosses the lo/hi boundary at 4M
        final byte[] model = new byte[(int)(2 * M)];
        rnd.nextBytes(model);
        assertThat(mem.write(base, MemorySegment.ofArray(model))).isEqualTo(MemTx.OK);
        for (int i = 0; i < 60; i++)
        {
            final int len = rnd.nextInt(1, (int)(300 * K));
            final int s = rnd.nextInt(0, model.length - len);
            // half the copies overlap their source, both directions
            final int d = i % 2 == 0 ? rnd.nextInt(0, model.length - len) :
                Math.max(0, Math.min(model.length - len, s + rnd.nextInt(-len, len)));
            assertThat(mem.copy(base + s, base + d, len)).isEqualTo(MemTx.OK);
            System.arraycopy(model, s, model, d, len);
            if (i % 5 == 0)
            {
                final int f = rnd.nextInt(0, model.length - len);
                final byte v = (byte)rnd.nextInt();
                assertThat(mem.fill(base + f, len, v)).isEqualTo(MemTx.OK);
                java.util.Arrays.fill(model, f, f + len, v);
            }
        }
        final MemorySegment back = MemorySegment.ofArray(new byte[model.length]);
        assertThat(mem.read(base, back)).isEqualTo(MemTx.OK);
        assertThat(bytes(back)).isEqualTo(model);
    }

    @Test
    void shouldCopyDecodedPrefixAndReportHole()
    {
        final PhysAddressSpace mem = threeRegions();
        final MemorySegment src = random(5, 4000);
        mem.write(8 * M - 4000, src);
        // source runs into the hole after 4000 bytes
        assertThat(mem.copy(8 * M - 4000, M, 6000)).isEqualTo(MemTx.DECODE_ERROR);
        final MemorySegment dst = MemorySegment.ofArray(new byte[6000]);
        mem.read(M, dst);
        assertThat(bytes(dst.asSlice(0, 4000))).isEqualTo(bytes(src));
        assertThat(bytes(dst.asSlice(4000, 2000))).containsOnly((byte)0);
        // destination in the hole: nothing copied
        assertThat(mem.copy(M, 9 * M, 10)).isEqualTo(MemTx.DECODE_ERROR);
        assertThat(mem.fill(8 * M - 10, 20, (byte)1)).isEqualTo(MemTx.DECODE_ERROR);
        final MemorySegment tail = MemorySegment.ofArray(new byte[10]);
        mem.read(8 * M - 10, tail);
        assertThat(bytes(tail)).containsOnly((byte)1);
    }

    @Test
    void shouldDoEightByteAccessesAndCas()
    {
        final PhysAddressSpace mem = threeRegions();
        final long a = 4 * M - 8; // last word of "lo"
        assertThat(mem.getLong(a)).isZero();
        mem.putLong(a, 0x1122334455667788L);
        assertThat(mem.getLong(a)).isEqualTo(0x1122334455667788L);
        assertThat(mem.compareAndSetLong(a, 1, 2)).isFalse();
        assertThat(mem.getLong(a)).isEqualTo(0x1122334455667788L);
        assertThat(mem.compareAndSetLong(a, 0x1122334455667788L, 42)).isTrue();
        assertThat(mem.getLongAcquire(a)).isEqualTo(42);
        mem.putLongRelease(a, 43);
        assertThat(mem.getLongVolatile(a)).isEqualTo(43);
        assertThat(mem.compareAndExchangeLong(a, 43, 44)).isEqualTo(43);
        assertThat(mem.compareAndExchangeLong(a, 43, 45)).isEqualTo(44);
        // the word is the same bytes the bulk path sees (native byte order)
        final MemorySegment eight = MemorySegment.ofArray(new long[1]);
        assertThat(mem.read(a, eight)).isEqualTo(MemTx.OK);
        assertThat(eight.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(44);
        mem.write(a, MemorySegment.ofArray(new long[] { -5 }));
        assertThat(mem.getLong(a)).isEqualTo(-5);

        assertThatThrownBy(() -> mem.getLong(a + 4)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("0x3ffffc").hasMessageContaining("not 8-byte aligned");
        assertThatThrownBy(() -> mem.compareAndSetLong(a + 1, 0, 1)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("compareAndSetLong").hasMessageContaining("not 8-byte aligned");
        assertThatThrownBy(() -> mem.putLong(9 * M, 1)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("0x900000").hasMessageContaining("hole");
        assertThatThrownBy(() -> mem.putLongRelease(0, 1)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("0x0").hasMessageContaining("hole");
        assertThatThrownBy(() -> mem.getLongAcquire(-8)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("hole");
        assertThat(mem.getLong(a)).isEqualTo(-5);
    }

    @Test
    void shouldGiveZeroCopySliceInsideOneChunkOnly()
    {
        final PhysAddressSpace mem = threeRegions();
        final MemorySegment s = mem.ramSlice(M + 100, 4096);
        assertThat(s).isNotNull();
        assertThat(s.byteSize()).isEqualTo(4096);
        s.set(ValueLayout.JAVA_BYTE, 0, (byte)9);
        final MemorySegment one = MemorySegment.ofArray(new byte[1]);
        mem.read(M + 100, one);
        assertThat(one.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)9);
        assertThat(mem.ramSlice(M + CHUNK - 8, 8)).isNotNull();
        assertThat(mem.ramSlice(M + CHUNK - 8, 9)).isNull(); // crosses a chunk
        assertThat(mem.ramSlice(4 * M - 8, 16)).isNull();    // crosses lo/hi
        assertThat(mem.ramSlice(9 * M, 8)).isNull();         // hole
        assertThat(mem.ramSlice(M, 0)).isNotNull();
    }

    @Test
    void shouldRejectBadInputPreciselyWithoutChangingState()
    {
        final PhysAddressSpace mem = threeRegions();
        final MemorySegment src = random(6, 64);
        mem.write(M, src);
        final long touched = mem.touchedBytes();
        final MemorySegment big = MemorySegment.ofArray(new byte[64]);
        assertThatThrownBy(() -> mem.write(-1, big)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("write").hasMessageContaining("negative address");
        assertThatThrownBy(() -> mem.read(M, big, 0, -1)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("negative length");
        assertThatThrownBy(() -> mem.fill(Long.MAX_VALUE - 10, 20, (byte)1))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overflows")
            .hasMessageContaining("0x7ffffffffffffff5");
        assertThatThrownBy(() -> mem.copy(M, Long.MAX_VALUE, 2)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("copy dst").hasMessageContaining("overflows");
        assertThatThrownBy(() -> mem.write(2 * M, big, 10, 64)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("outside the segment of 64 bytes");
        assertThatThrownBy(() -> mem.read(M, big.asReadOnly())).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("read-only");
        assertThatThrownBy(() -> mem.write(M, null, 0, 1)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("null");
        assertThat(mem.touchedBytes()).isEqualTo(touched);
        final MemorySegment back = MemorySegment.ofArray(new byte[64]);
        mem.read(M, back);
        assertThat(bytes(back)).isEqualTo(bytes(src));
    }

    @Test
    void shouldRejectEveryAccessAfterClose()
    {
        final PhysAddressSpace mem = PhysAddressSpace.builder().ram(0, M).chunkSize(CHUNK).build();
        mem.putLong(8, 1);
        mem.close();
        mem.close(); // idempotent
        assertThat(mem.isClosed()).isTrue();
        final MemorySegment b = MemorySegment.ofArray(new byte[8]);
        final List<Runnable> ops = List.of(
            () -> mem.read(0, b), () -> mem.write(0, b), () -> mem.copy(0, 8, 8), () -> mem.fill(0, 8, (byte)0),
            () -> mem.getLong(8), () -> mem.putLong(8, 1), () -> mem.getLongAcquire(8),
            () -> mem.putLongRelease(8, 1), () -> mem.compareAndSetLong(8, 1, 2), () -> mem.ramSlice(0, 8),
            () -> mem.isRam(0, 8));
        for (final Runnable op : ops)
        {
            assertThatThrownBy(op::run).isInstanceOf(IllegalStateException.class).hasMessage("address space closed");
        }
    }

    @Test
    void shouldValidateRegionsAndChunkSize()
    {
        assertThatThrownBy(() -> PhysAddressSpace.builder().ram(0, 2 * M, "a").ram(M, M, "b").build())
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("overlap").hasMessageContaining("'a'").hasMessageContaining("'b'");
        assertThatThrownBy(() -> PhysAddressSpace.builder().ram(0, M, "r").mmio(M - 4096, 8192, new RecordingMmio(8192),
            "bar").build())
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'r'").hasMessageContaining("'bar'");
        assertThatThrownBy(() -> PhysAddressSpace.builder().ram(100, M))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4 KiB-aligned");
        assertThatThrownBy(() -> PhysAddressSpace.builder().ram(0, M + 1))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("4 KiB-aligned");
        assertThatThrownBy(() -> PhysAddressSpace.builder().ram(-4096, M))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad range");
        assertThatThrownBy(() -> PhysAddressSpace.builder().ram(0, 0))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad range");
        assertThatThrownBy(() -> PhysAddressSpace.builder().chunkSize(32 * K))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("chunkSize");
        assertThatThrownBy(() -> PhysAddressSpace.builder().chunkSize(3 * M))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("power of two");
        final PhysAddressSpace ok = track(PhysAddressSpace.builder().ram(0, M).mmio(M, 4096, new RecordingMmio(4096))
            .build());
        assertThat(ok.describe()).contains("RAM").contains("MMIO").contains("ram0").contains("mmio0");
    }

    /** The 1 TiB case: costs what is touched; surefire runs this class with -Xmx1g. */
    @Test
    void shouldKeepOneTebibyteSpaceSparse()
    {
        final long tib = 1L << 40;
        final PhysAddressSpace mem = track(PhysAddressSpace.builder().ram(0, tib).build()); // 2 MiB chunks
        final long chunk = mem.chunkSize();
        final SplittableRandom rnd = new SplittableRandom(7);
        final MemorySegment buf = Arena.ofAuto().allocate(M);
        final long[] where = new long[64];
        for (int i = 0; i < where.length; i++)
        {
            // 64 x 1 MiB = 64 MiB of data, each write inside one random 2 MiB chunk, spread over the whole TiB
            long p;
            do
            {
                p = rnd.nextLong(tib / chunk) * chunk + (rnd.nextBoolean() ? 0 : M);
            }
            while (contains(where, i, p & ~(chunk - 1)));
            where[i] = p;
            buf.fill((byte)(i + 1));
            buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, p);
            assertThat(mem.write(p, buf)).isEqualTo(MemTx.OK);
        }
        assertThat(mem.touchedBytes()).isEqualTo(64 * chunk).isLessThanOrEqualTo(200 * M);
        for (int i = 0; i < where.length; i++)
        {
            assertThat(mem.read(where[i], buf)).isEqualTo(MemTx.OK);
            assertThat(buf.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isEqualTo(where[i]);
            assertThat(buf.get(ValueLayout.JAVA_BYTE, M - 1)).isEqualTo((byte)(i + 1));
        }
        // reading 16 MiB of untouched RAM near the top allocates nothing
        final MemorySegment big = Arena.ofAuto().allocate(16 * M);
        assertThat(mem.read(tib - 16 * M - 4096, big)).isEqualTo(MemTx.OK);
        assertThat(mem.touchedBytes()).isEqualTo(64 * chunk);
        assertThat(mem.ramBytes()).isEqualTo(tib);
    }

    private static boolean contains(final long[] a, final int n, final long chunkBase)
    {
        for (int i = 0; i < n; i++)
        {
            if ((a[i] & ~(2 * M - 1)) == chunkBase)
            {
                return true;
            }
        }
        return false;
    }

    /** Two threads first-touch the same chunk at once, through the bulk and the 8-byte paths: no write is lost. */
    @Test
    void shouldLoseNoWriteOnConcurrentFirstTouch() throws Exception
    {
        final int iterations = 500;
        final PhysAddressSpace mem = track(PhysAddressSpace.builder().ram(0, iterations * CHUNK).chunkSize(CHUNK)
            .build());
        // a spinning barrier: both threads are running when an iteration starts, so their first touches collide
        final AtomicInteger arrived = new AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread[] threads = new Thread[2];
        for (int t = 0; t < threads.length; t++)
        {
            final int id = t;
            threads[t] = new Thread(() ->
            {
                final MemorySegment word = MemorySegment.ofArray(new long[1]);
                try
                {
                    for (int i = 0; i < iterations; i++)
                    {
                        arrived.incrementAndGet();
                        final long deadline = System.nanoTime() + 10_000_000_000L;
                        while (arrived.get() < 2 * (i + 1))
                        {
                            if (failure.get() != null || System.nanoTime() > deadline)
                            {
                                throw new AssertionError("other thread gone at iteration " + i);
                            }
                            Thread.yield();
                        }
                        final long base = i * CHUNK;
                        // thread 0 writes even words via write(), thread 1 odd words via putLong()
                        for (int w = id; w < 64; w += 2)
                        {
                            final long value = ((long)i << 32) | (w + 1);
                            if (id == 0)
                            {
                                word.set(ValueLayout.JAVA_LONG, 0, value);
                                mem.write(base + w * 8L, word);
                            }
                            else
                            {
                                mem.putLong(base + w * 8L, value);
                            }
                        }
                    }
                }
                catch (final Throwable e)
                {
                    failure.compareAndSet(null, e);
                }
            });
            threads[t].start();
        }
        for (final Thread t : threads)
        {
            t.join(20_000);
        }
        assertThat(failure.get()).isNull();
        for (int i = 0; i < iterations; i++)
        {
            for (int w = 0; w < 64; w++)
            {
                assertThat(mem.getLong(i * CHUNK + w * 8L)).as("iteration %d word %d", i, w)
                    .isEqualTo(((long)i << 32) | (w + 1));
            }
        }
        assertThat(mem.touchedBytes()).isEqualTo(iterations * CHUNK);
    }

    /** read/write/copy across chunks and the 8-byte accessors allocate nothing once compiled. */
    @Test
    void shouldNotAllocateOnHotPaths()
    {
        final PhysAddressSpace mem = threeRegions();
        final MemorySegment buf = MemorySegment.ofArray(new byte[(int)(3 * K)]);
        final com.sun.management.ThreadMXBean bean =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        final long tid = Thread.currentThread().threadId();
        mem.write(4 * M - 1000, buf); // allocate the chunks once
        mem.write(M + CHUNK - 1000, buf);
        long sink = 0;
        long allocated = 0;
        for (int round = 0; round < 30; round++)
        {
            final long before = bean.getThreadAllocatedBytes(tid);
            for (int i = 0; i < 20_000; i++)
            {
                sink += mem.write(4 * M - 1000, buf);          // across the lo/hi region boundary
                sink += mem.read(M + CHUNK - 1000, buf);       // across a chunk boundary
                sink += mem.read(2 * M + 5, buf);              // untouched: zeros
                sink += mem.copy(4 * M - 1000, M + CHUNK - 1000, 2000);
                mem.putLongRelease(M + 64, i);
                sink += mem.getLongAcquire(M + 64) + mem.getLong(M + 72);
                sink += mem.compareAndSetLong(M + 64, i, i + 1) ? 1 : 0;
            }
            allocated = bean.getThreadAllocatedBytes(tid) - before;
            if (allocated < 1024)
            {
                break; // compiled and allocation-free
            }
        }
        assertThat(sink).isNotZero();
        assertThat(allocated).as("bytes allocated by 20k rounds of hot-path calls").isLessThan(1024);
    }

    /** ramChunk: one object per chunk, the same bytes as the 8-byte accessors, null off RAM, clean failure after close. */
    @Test
    void ramChunkShouldAccessTheSameBytesAndFailCleanlyAfterClose()
    {
        final PhysAddressSpace mem = PhysAddressSpace.builder().chunkSize(CHUNK).ram(0, 4 * CHUNK)
            .mmio(4 * CHUNK, 4096, new RecordingMmio(4096)).ram(8 * CHUNK, CHUNK + 4096).build();
        final RamChunk c = mem.ramChunk(CHUNK + 64);
        assertThat(c).isSameAs(mem.ramChunk(2 * CHUNK - 8));
        assertThat(c.base()).isEqualTo(CHUNK);
        assertThat(c.end()).isEqualTo(2 * CHUNK);
        assertThat(c.contains(2 * CHUNK - 4096, 4096)).isTrue();
        assertThat(c.contains(2 * CHUNK - 4096, 4097)).isFalse();
        mem.putLong(CHUNK + 64, 0x1234L);
        assertThat(c.getLongAcquire(CHUNK + 64)).isEqualTo(0x1234L);
        assertThat(c.compareAndSetLong(CHUNK + 64, 0x1234L, 0x5678L)).isTrue();
        c.putLongRelease(CHUNK + 72, 9L);
        assertThat(mem.getLong(CHUNK + 64)).isEqualTo(0x5678L);
        assertThat(mem.getLong(CHUNK + 72)).isEqualTo(9L);
        assertThat(mem.ramChunk(9 * CHUNK).base()).as("clipped edge chunk").isEqualTo(9 * CHUNK);
        assertThat(mem.ramChunk(9 * CHUNK).end()).isEqualTo(9 * CHUNK + 4096);
        assertThat(mem.ramChunk(4 * CHUNK)).as("MMIO").isNull();
        assertThat(mem.ramChunk(6 * CHUNK)).as("hole").isNull();
        assertThatThrownBy(() -> c.getLongAcquire(2 * CHUNK)).isInstanceOf(IndexOutOfBoundsException.class);
        mem.close();
        assertThatThrownBy(() -> mem.ramChunk(CHUNK)).isInstanceOf(IllegalStateException.class)
            .hasMessage("address space closed");
        assertThatThrownBy(() -> c.getLongAcquire(CHUNK + 64)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> c.compareAndSetLong(CHUNK + 64, 0, 1)).isInstanceOf(IllegalStateException.class);
    }

    /** isRam (precomputed runs of adjacent RAM regions) against a page-by-page walk of regions(), random layouts. */
    @Test
    void isRamShouldAgreeWithARegionWalk()
    {
        final SplittableRandom rnd = new SplittableRandom(42);
        for (int layout = 0; layout < 60; layout++)
        {
            final PhysAddressSpace.Builder b = PhysAddressSpace.builder().chunkSize(CHUNK);
            long at = rnd.nextInt(3) * 4 * K;
            final int n = 1 + rnd.nextInt(14); // up to 14 regions: both the linear scan and the binary search
            for (int i = 0; i < n; i++)
            {
                final long size = (1 + rnd.nextInt(6)) * 4 * K;
                if (rnd.nextInt(3) == 0)
                {
                    b.mmio(at, size, new RecordingMmio(size));
                }
                else
                {
                    b.ram(at, size);
                }
                at += size + (rnd.nextBoolean() ? 0 : (1 + rnd.nextInt(3)) * 4 * K);
            }
            try (PhysAddressSpace space = b.build())
            {
                for (int q = 0; q < 400; q++)
                {
                    final long phys = rnd.nextLong(at + 8 * K);
                    final long len = rnd.nextInt(5) == 0 ? 0 : rnd.nextLong(1, 12 * 4 * K);
                    boolean expected = true;
                    for (long p = phys; p < phys + len; p++)
                    {
                        final PhysicalMemory.MemRegion r = space.regionAt(p);
                        if (r == null || r.kind() != PhysicalMemory.MemRegion.Kind.RAM)
                        {
                            expected = false;
                            break;
                        }
                        p = r.end() - 1;
                    }
                    assertThat(space.isRam(phys, len)).as("layout %d: isRam(0x%x, %d) in %s", layout, phys, len,
                        space.regions()).isEqualTo(expected);
                }
            }
        }
    }

    /** An MMIO register window backed by a byte array, logging "R|W offset len @dstOrSrcOffset". */
    static final class RecordingMmio implements MmioHandler
    {
        final MemorySegment regs;
        final List<String> log = new ArrayList<>();
        volatile boolean refuse;

        RecordingMmio(final long size)
        {
            regs = MemorySegment.ofArray(new byte[(int)size]);
        }

        @Override
        public int read(final long offset, final MemorySegment dst, final long dstOffset, final long len)
        {
            if (refuse)
            {
                return MemTx.DEVICE_ERROR;
            }
            log.add("R " + offset + " " + len + " @" + dstOffset);
            MemorySegment.copy(regs, offset, dst, dstOffset, len);
            return MemTx.OK;
        }

        @Override
        public int write(final long offset, final MemorySegment src, final long srcOffset, final long len)
        {
            if (refuse)
            {
                return MemTx.DEVICE_ERROR;
            }
            log.add("W " + offset + " " + len + " @" + srcOffset);
            MemorySegment.copy(src, srcOffset, regs, offset, len);
            return MemTx.OK;
        }
    }
}
