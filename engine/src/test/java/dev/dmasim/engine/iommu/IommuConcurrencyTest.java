package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

import static dev.dmasim.engine.iommu.IommuTestSupport.PAGE;
import static dev.dmasim.engine.iommu.IommuTestSupport.cpuRead;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two threads bound to CPUs 0 and 1 map and unmap (single and sg) through a strict, a lazy and an untrusted
 * device at once, while the devices DMA through every returned address and every byte is checked. Each thread's
 * bytes carry its tag in their low two bits (zero padding carries none), so a device access after an unmap can
 * tell whose memory it reached: on the strict devices never the unmapper's; on the lazy one only through a
 * counted stale IOTLB hit. Live mappings never share an IOVA granule. Bounded by iterations, seeded.
 */
class IommuConcurrencyTest
{
    private static final long SEED = 0xC0C0_2026L;
    private static final int ITERATIONS = 1500;
    private static final int BUFFERS = 8;
    private static final int BUFFER_ORDER = 4; // 64 KiB

    private record Target(Device dev, boolean strict, ConcurrentHashMap<Long, Integer> owners)
    {
    }

    private static byte tagged(final int v, final int thread)
    {
        return (byte)((v & ~3) | (thread + 1));
    }

    private static byte[] taggedBytes(final SplittableRandom rnd, final int len, final int thread)
    {
        final byte[] b = new byte[len];
        rnd.nextBytes(b);
        for (int i = 0; i < len; i++)
        {
            b[i] = tagged(b[i], thread);
        }
        return b;
    }

    private static boolean carriesTag(final byte[] b, final int thread)
    {
        for (final byte x : b)
        {
            if ((x & 3) == thread + 1)
            {
                return true;
            }
        }
        return false;
    }

    @Test
    void shouldKeepEveryByteAndEveryLifetimeRuleUnderConcurrentMapping() throws Exception
    {
        try (DmaEngine engine = DmaEngine.builder().cpus(2).iommu(IommuMode.NONE).build())
        {
            final long freeAtStart = engine.pages().freePageCount();
            final List<Target> targets = List.of(
                new Target(engine.attach(DeviceConfig.pci("0000:03:00.0").iommu(IommuMode.STRICT)), true,
                    new ConcurrentHashMap<>()),
                new Target(engine.attach(DeviceConfig.pci("0000:04:00.0").iommu(IommuMode.LAZY)), false,
                    new ConcurrentHashMap<>()),
                new Target(engine.attach(DeviceConfig.pci("0000:05:00.0").untrusted(true).iommu(IommuMode.LAZY)), true,
                    new ConcurrentHashMap<>()));
            assertThat(targets.get(2).dev().iommuMode()).isEqualTo(IommuMode.STRICT);
            final long[][] buffers = new long[2][BUFFERS];
            for (int t = 0; t < 2; t++)
            {
                for (int b = 0; b < BUFFERS; b++)
                {
                    buffers[t][b] = IommuTestSupport.alloc(engine, BUFFER_ORDER);
                }
            }
            final CyclicBarrier start = new CyclicBarrier(2);
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final long[] staleSeen = new long[2];
            final List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 2; t++)
            {
                final int me = t;
                final Thread thread = new Thread(() ->
                {
                    try
                    {
                        engine.cpu().bind(me);
                        start.await();
                        staleSeen[me] = run(engine, targets, buffers[me], me, new SplittableRandom(SEED + me));
                    }
                    catch (final Throwable ex)
                    {
                        failure.compareAndSet(null, ex);
                    }
                }, "mapper-" + t);
                threads.add(thread);
                thread.start();
            }
            for (final Thread thread : threads)
            {
                thread.join();
            }
            if (failure.get() != null)
            {
                throw new AssertionError("seed " + Long.toHexString(SEED) + ": " + failure.get(), failure.get());
            }

            final long staleHits = engine.stats().staleHits();
            assertThat(staleHits).as("every stale read a thread saw was counted").isGreaterThanOrEqualTo(
                staleSeen[0] + staleSeen[1]);
            engine.flushQueues();
            assertThat(engine.stats().pendingFlushes()).isZero();
            for (final Target target : targets)
            {
                assertThat(target.owners()).isEmpty();
                assertThat(target.dev().iovaRangesInUse()).as("%s: every IOVA is back", target.dev()).isZero();
            }
            assertThat(engine.stats().swiotlbSlotsUsed()).isZero();
            assertThat(engine.stats().staleHits()).as("no stale hit without a read").isEqualTo(staleHits);
            assertThat(engine.stats().strictInvalidations()).isPositive();
            assertThat(engine.stats().lazyFlushes()).isPositive();
            for (final Target target : targets)
            {
                engine.detach(target.dev());
            }
            for (final long[] perThread : buffers)
            {
                for (final long b : perThread)
                {
                    engine.pages().freePages(b, BUFFER_ORDER);
                }
            }
            assertThat(engine.pages().freePageCount()).as("every page-table page freed").isEqualTo(freeAtStart);
        }
    }

    /** @return stale reads of its own data this thread saw through the lazy device. */
    private static long run(final DmaEngine engine, final List<Target> targets, final long[] buffers, final int me,
        final SplittableRandom rnd)
    {
        long stale = 0;
        final ScatterList sgl = new ScatterList(4);
        final long bufBytes = PAGE << BUFFER_ORDER;
        for (int i = 0; i < ITERATIONS; i++)
        {
            final Target target = targets.get(rnd.nextInt(targets.size()));
            final Device dev = target.dev();
            final DmaDirection dir = rnd.nextBoolean() ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE;
            final boolean sg = rnd.nextInt(3) == 0;
            final int nents = sg ? 1 + rnd.nextInt(4) : 1;
            final long[] phys = new long[nents];
            final int[] len = new int[nents];
            final int firstBuffer = rnd.nextInt(buffers.length);
            for (int e = 0; e < nents; e++)
            {
                final long off = rnd.nextBoolean() ? PAGE * rnd.nextInt(8) : rnd.nextLong(bufBytes / 2);
                len[e] = 1 + rnd.nextInt((int)Math.min(bufBytes - off, 16 * PAGE));
                phys[e] = buffers[(firstBuffer + e) % buffers.length] + off; // entries never overlap
                engine.memory().write(phys[e], java.lang.foreign.MemorySegment.ofArray(taggedBytes(rnd, len[e], me)));
            }
            final String at = "thread " + me + " iteration " + i + " " + dev.name();

            final long[] segDma;
            final long[] segLen;
            if (!sg)
            {
                final long dma = dev.mapPhys(phys[0], len[0], dir, 0);
                assertThat(dma).as(at).isNotEqualTo(Device.DMA_MAPPING_ERROR);
                segDma = new long[] { dma };
                segLen = new long[] { len[0] };
            }
            else
            {
                for (int e = 0; e < nents; e++)
                {
                    sgl.set(e, phys[e], len[e]);
                }
                final int n = dev.mapSg(sgl, nents, dir, 0);
                assertThat(n).as(at).isBetween(1, nents);
                segDma = new long[n];
                segLen = new long[n];
                for (int s = 0; s < n; s++)
                {
                    segDma[s] = sgl.dmaAddress(s);
                    segLen[s] = sgl.dmaLength(s);
                }
            }
            final List<Long> granules = new ArrayList<>();
            for (int s = 0; s < segDma.length; s++)
            {
                for (long g = segDma[s] & -PAGE; g < segDma[s] + segLen[s]; g += PAGE)
                {
                    final Integer other = target.owners().putIfAbsent(g, me);
                    assertThat(other).as("%s: IOVA 0x%x is live twice", at, g).isNull();
                    granules.add(g);
                }
            }

            if (dir == DmaDirection.TO_DEVICE)
            {
                final ByteArrayOutputStream seen = new ByteArrayOutputStream();
                final ByteArrayOutputStream expected = new ByteArrayOutputStream();
                for (int s = 0; s < segDma.length; s++)
                {
                    seen.writeBytes(IommuTestSupport.devReadOk(dev, segDma[s], (int)segLen[s]));
                }
                for (int e = 0; e < nents; e++)
                {
                    expected.writeBytes(cpuRead(engine, phys[e], len[e]));
                }
                assertThat(seen.toByteArray()).as(at).isEqualTo(expected.toByteArray());
            }
            final ByteArrayOutputStream written = new ByteArrayOutputStream();
            if (dir == DmaDirection.FROM_DEVICE)
            {
                for (int s = 0; s < segDma.length; s++)
                {
                    final byte[] data = taggedBytes(rnd, (int)segLen[s], me);
                    assertThat(IommuTestSupport.devWrite(dev, segDma[s], data)).as(at).isEqualTo(MemTx.OK);
                    written.writeBytes(data);
                }
            }

            for (final long g : granules)
            {
                target.owners().remove(g); // before the unmap: the IOVA may be handed out again inside it
            }
            final long staleBefore = engine.stats().staleHits();
            if (!sg)
            {
                dev.unmapPhys(segDma[0], len[0], dir, 0);
            }
            else
            {
                dev.unmapSg(sgl, nents, dir, 0);
            }
            if (dir == DmaDirection.FROM_DEVICE)
            {
                final ByteArrayOutputStream landed = new ByteArrayOutputStream();
                for (int e = 0; e < nents; e++)
                {
                    landed.writeBytes(cpuRead(engine, phys[e], len[e]));
                }
                assertThat(landed.toByteArray()).as("%s: device writes reach the CPU", at)
                    .isEqualTo(written.toByteArray());
            }
            final byte[] after = new byte[(int)Math.min(segLen[0], 256)];
            final int rc = dev.bus().dmaRead(segDma[0], java.lang.foreign.MemorySegment.ofArray(after));
            if (rc == MemTx.OK && carriesTag(after, me))
            {
                assertThat(target.strict()).as("%s: strict device reached unmapped memory", at).isFalse();
                assertThat(engine.stats().staleHits()).as("%s: an uncounted stale hit", at).isGreaterThan(staleBefore);
                stale++;
            }
            else
            {
                assertThat(rc).as(at).isIn(MemTx.OK, MemTx.TRANSLATION_FAULT, MemTx.PERMISSION_FAULT);
            }
        }
        return stale;
    }
}
