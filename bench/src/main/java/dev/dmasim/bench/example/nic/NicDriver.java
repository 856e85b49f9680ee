package dev.dmasim.bench.example.nic;

import dev.dmasim.bench.example.Bug;
import dev.dmasim.bench.example.DriverStats;
import dev.dmasim.bench.example.ExampleOptions;
import dev.dmasim.bench.example.Mmio;
import dev.dmasim.bench.example.Msi;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

import static dev.dmasim.bench.example.nic.NicRegisters.*;

/**
 * The NIC's driver half, written as a Linux network driver is, on the {@link Device} API only:
 * <ul>
 *   <li><b>rings</b>: TX and RX descriptor rings in coherent memory ({@code allocCoherent}), accessed through the
 *       buffer's CPU view {@code DmaBuffer.segment()} (uncached, as the kernel maps coherent memory of a
 *       non-coherent device), programmed into the device's registers by MMIO stores;</li>
 *   <li><b>transmit</b>: each frame is built in a freshly allocated page through {@code cpuMemory()} (the CPU's cached
 *       view), mapped {@code DMA_TO_DEVICE} with {@code mapPhys} (which cleans the CPU cache for a non-coherent
 *       device), queued, and the doorbell rung once per batch (as with {@code xmit_more}); the completion path unmaps
 *       and frees it;</li>
 *   <li><b>receive</b>: RX buffers are mapped {@code DMA_FROM_DEVICE} once when the interface comes up and recycled,
 *       page_pool style: {@code syncSingleForCpu} before the CPU reads a frame, {@code syncSingleForDevice} before the
 *       buffer is posted again; they are unmapped when the interface goes down;</li>
 *   <li><b>ifdown/ifup</b> halfway through the run, in the safe order: drain, disable RX and wait for the device to
 *       acknowledge, then unmap.</li>
 * </ul>
 * Every frame carries its sequence number and a CRC32 of its payload; the RX path checks both and the CRC32 the
 * device computed over the bytes it wrote, so stale or corrupt data cannot pass. The {@link Bug}s change one step
 * each (see {@link #drive}). Single-threaded: runs on one bound CPU thread.
 */
public final class NicDriver
{
    /** TX ring length, descriptors. */
    public static final int TX_RING = 64;
    /** RX ring length, descriptors. */
    public static final int RX_RING = 32;
    /** Bytes of every RX buffer (one per page). */
    public static final int RX_BUF = 2048;
    /** Frames shorter than this take the driver's small-frame path (where the {@code leak} bug lives). */
    public static final int SMALL_FRAME = 128;
    /** Frames queued without a doorbell just before the mid-run ifdown. */
    public static final int PENDING_AT_IFDOWN = 4;
    private static final long TIMEOUT_NANOS = 5_000_000_000L;
    private static final int HEADER = 12; // seq (8) + CRC32 of the payload (4)
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Device dev;
    private final PhysicalMemory cpu;
    private final PageAllocator pages;
    private final Mmio regs;
    private final Msi irq;
    private final ExampleOptions options;
    private final Bug bug;
    private final DriverStats stats = new DriverStats();
    private final SplittableRandom sizes;
    private final CRC32 crc = new CRC32();
    private final byte[] txBytes = new byte[NicHardware.MAX_FRAME];
    private final MemorySegment txFrame = MemorySegment.ofArray(txBytes);
    private final byte[] rxBytes = new byte[RX_BUF];
    private final MemorySegment rxFrame = MemorySegment.ofArray(rxBytes);

    private DmaBuffer txRing;
    private DmaBuffer rxRing;
    private final long[] txPhys = new long[TX_RING];
    private final long[] txDma = new long[TX_RING];
    private final int[] txLen = new int[TX_RING];
    private long txTail;
    private long txClean;
    private final long[] rxPhys = new long[RX_RING];
    private final long[] rxDma = new long[RX_RING];
    private long rxTail;
    private long rxClean;
    private long sent;
    private long received;
    private long nextRxSeq;
    private long reclaimedWrites;
    private long txBytesTotal;

    /** No buffer in an RX slot. */
    private static final long NO_BUFFER = -1L;

    public NicDriver(final Device dev, final PhysicalMemory cpu, final PageAllocator pages, final long barBase,
        final Msi irq, final ExampleOptions options)
    {
        this.dev = dev;
        this.cpu = cpu;
        this.pages = pages;
        this.regs = new Mmio(cpu, barBase);
        this.irq = irq;
        this.options = options;
        this.bug = options.bug();
        this.sizes = new SplittableRandom(options.seed());
    }

    /**
     * Runs {@code options.count()} frames through the loopback. The bugs:
     * <ul>
     *   <li>{@code missing-sync}: RX buffers are read and re-posted without {@code syncSingleForCpu}/{@code ForDevice};</li>
     *   <li>{@code use-after-unmap}: the mid-run ifdown unmaps the posted RX buffers before it has stopped the device
     *       and while frames are still queued, so the device writes them into unmapped buffers;</li>
     *   <li>{@code wrong-direction}: RX buffers are mapped {@code DMA_TO_DEVICE} (but synced and unmapped
     *       {@code DMA_FROM_DEVICE});</li>
     *   <li>{@code leak}: the TX completion of a small frame forgets the unmap.</li>
     * </ul>
     */
    public DriverStats drive()
    {
        stats.expected = options.count();
        open();
        final long start = System.nanoTime();
        try
        {
            final long frames = options.count();
            final long mid = frames / 2;
            boolean cycled = frames < 2;
            while (received < frames && stats.failures == 0)
            {
                final long limit = cycled ? frames : mid;
                boolean queued = false;
                while (sent < limit && txTail - txClean < TX_RING)
                {
                    queued |= xmit();
                }
                if (queued)
                {
                    regs.write64(TX_TAIL, txTail);
                }
                if (!cycled && received == mid && txClean == txTail)
                {
                    ifdownIfup(frames);
                    cycled = true;
                    continue;
                }
                poll();
            }
        }
        finally
        {
            stats.elapsedNanos = System.nanoTime() - start;
            stats.bytes = txBytesTotal * 2;
            close();
        }
        if (reclaimedWrites > 0)
        {
            stats.note(reclaimedWrites + " frames were written by the device into RX buffers already unmapped");
        }
        return stats;
    }

    // ------------------------------------------------------------------------------------------------ bring-up

    private void open()
    {
        txRing = dev.allocCoherent((long)TX_RING * NicDescriptor.SIZE);
        rxRing = dev.allocCoherent((long)RX_RING * NicDescriptor.SIZE);
        if (txRing == null || rxRing == null)
        {
            throw new IllegalStateException(dev.name() + ": cannot allocate the descriptor rings");
        }
        regs.write64(CTRL, 0);
        waitStatus(0);
        regs.write64(TX_BASE, txRing.dma());
        regs.write64(TX_LEN, TX_RING);
        regs.write64(RX_LEN, RX_RING);
        regs.write64(RX_BUF_SIZE, RX_BUF);
        regs.write64(CTRL, TX_EN);
        waitStatus(TX_EN);
        ifup();
    }

    /** Maps and posts a full RX ring, then enables RX. RX must be disabled (and acknowledged). */
    private void ifup()
    {
        regs.write64(RX_BASE, rxRing.dma()); // resets the device's RX_HEAD/RX_TAIL
        rxClean = 0;
        rxTail = 0;
        final DmaDirection mapDir = bug == Bug.WRONG_DIRECTION ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE;
        for (int slot = 0; slot < RX_RING; slot++)
        {
            final long page = pages.allocPages(0, Zone.NORMAL);
            if (page == PageAllocator.NO_PAGE)
            {
                throw new IllegalStateException(dev.name() + ": out of pages for RX buffers");
            }
            final long dma = dev.mapPhys(page, RX_BUF, mapDir, DmaAttrs.NONE);
            if (dev.mappingError(dma))
            {
                pages.freePages(page, 0);
                throw new IllegalStateException(dev.name() + ": RX buffer mapping failed");
            }
            rxPhys[slot] = page;
            rxDma[slot] = dma;
            NicDescriptor.put(rxRing.segment(), (long)slot * NicDescriptor.SIZE, dma, 0, (byte)0);
            rxTail++;
        }
        regs.write64(RX_TAIL, rxTail);
        regs.write64(CTRL, TX_EN | RX_EN);
        waitStatus(TX_EN | RX_EN);
    }

    /** The mid-run link reset, with {@link #PENDING_AT_IFDOWN} frames queued but not yet doorbelled. */
    private void ifdownIfup(final long frames)
    {
        final long pending = Math.min(PENDING_AT_IFDOWN, frames - sent);
        for (long i = 0; i < pending; i++)
        {
            xmit(); // xmit_more: the doorbell is deferred
        }
        if (bug == Bug.USE_AFTER_UNMAP)
        {
            unmapPostedRx();                 // BUG: the device still owns these buffers and RX is still enabled ...
            regs.write64(TX_TAIL, txTail);   // ... and the queued frames come back on the wire into them
            drain();
            disableRx();
        }
        else
        {
            regs.write64(TX_TAIL, txTail);   // flush what is queued
            drain();                         // every frame back and completed
            disableRx();                     // the device acknowledges: no RX DMA from now on
            unmapPostedRx();                 // only now are the buffers the driver's again
        }
        ifup();
    }

    private void drain()
    {
        while ((received < sent || txClean < txTail) && stats.failures == 0)
        {
            poll();
        }
    }

    private void disableRx()
    {
        regs.write64(CTRL, TX_EN);
        waitStatus(TX_EN);
    }

    private void unmapPostedRx()
    {
        for (long i = rxClean; i < rxTail; i++)
        {
            final int slot = (int)(i & (RX_RING - 1));
            if (rxDma[slot] != NO_BUFFER)
            {
                dev.unmapPhys(rxDma[slot], RX_BUF, DmaDirection.FROM_DEVICE, DmaAttrs.NONE);
                pages.freePages(rxPhys[slot], 0);
                rxDma[slot] = NO_BUFFER;
            }
        }
    }

    /** Interface down for good: drain TX, stop both queues, unmap what is posted, free the rings. */
    private void close()
    {
        regs.write64(CTRL, 0);
        waitStatus(0);
        cleanTx(); // completions that arrived before the stop
        for (; txClean < txTail; txClean++) // never transmitted (a failed run): the device is stopped, reclaim them
        {
            final int slot = (int)(txClean & (TX_RING - 1));
            dev.unmapPhys(txDma[slot], txLen[slot], DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            pages.freePages(txPhys[slot], 0);
        }
        unmapPostedRx();
        dev.freeCoherent(txRing);
        dev.freeCoherent(rxRing);
    }

    private void waitStatus(final long expected)
    {
        final long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (regs.read64(STATUS) != expected)
        {
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException(dev.name() + ": device did not acknowledge CTRL=" + expected);
            }
            Thread.onSpinWait();
        }
    }

    // ------------------------------------------------------------------------------------------------ data path

    /** Builds, maps and queues frame number {@code sent}. @return true if queued. */
    private boolean xmit()
    {
        final long seq = sent++;
        final int len = sizes.nextInt(4) == 0 ? sizes.nextInt(64, SMALL_FRAME) : sizes.nextInt(SMALL_FRAME, 1515);
        fillFrame(seq, len);
        final long page = pages.allocPages(0, Zone.NORMAL);
        if (page == PageAllocator.NO_PAGE)
        {
            return fail("out of pages for TX frame " + seq);
        }
        cpu.write(page, txFrame, 0, len); // the CPU's stores: dirty lines in the cache model
        final long dma = dev.mapPhys(page, len, DmaDirection.TO_DEVICE, DmaAttrs.NONE); // cleans them
        if (dev.mappingError(dma))
        {
            pages.freePages(page, 0);
            return fail("TX mapping failed for frame " + seq);
        }
        final int slot = (int)(txTail & (TX_RING - 1));
        txPhys[slot] = page;
        txDma[slot] = dma;
        txLen[slot] = len;
        NicDescriptor.put(txRing.segment(), (long)slot * NicDescriptor.SIZE, dma, len, NicDescriptor.CMD_EOP);
        txTail++;
        txBytesTotal += len;
        return true;
    }

    /** Waits for the interrupt when there is nothing to clean, then cleans both rings. */
    private void poll()
    {
        final long seen = irq.count();
        if (cleanTx() + cleanRx() == 0)
        {
            if (irq.await(seen, TIMEOUT_NANOS) == seen)
            {
                fail("timeout: no completion in " + TIMEOUT_NANOS / 1_000_000 + " ms (sent " + sent + ", received "
                    + received + ")");
            }
        }
    }

    private int cleanTx()
    {
        final long head = regs.read64(TX_HEAD);
        int n = 0;
        final MemorySegment ring = txRing.segment();
        while (txClean < head)
        {
            final int slot = (int)(txClean & (TX_RING - 1));
            final long at = (long)slot * NicDescriptor.SIZE;
            final int st = NicDescriptor.status(ring, at);
            if ((st & NicDescriptor.STATUS_DD) == 0)
            {
                fail("TX descriptor " + txClean + " below the head without DD");
            }
            else if (st != NicDescriptor.STATUS_DD)
            {
                stats.deviceErrors++;
            }
            if (bug == Bug.LEAK && txLen[slot] < SMALL_FRAME)
            {
                stats.leakedMappings++; // BUG: the small-frame path returns before the unmap (and keeps the page)
            }
            else
            {
                dev.unmapPhys(txDma[slot], txLen[slot], DmaDirection.TO_DEVICE, DmaAttrs.NONE);
                pages.freePages(txPhys[slot], 0);
            }
            txClean++;
            n++;
        }
        return n;
    }

    private int cleanRx()
    {
        final long head = regs.read64(RX_HEAD);
        int n = 0;
        final MemorySegment ring = rxRing.segment();
        final boolean sync = bug != Bug.MISSING_SYNC;
        while (rxClean < head)
        {
            final int slot = (int)(rxClean & (RX_RING - 1));
            final long at = (long)slot * NicDescriptor.SIZE;
            final int st = NicDescriptor.status(ring, at);
            final int len = NicDescriptor.length(ring, at);
            final long seq = nextRxSeq++;
            rxClean++;
            received++;
            n++;
            if (rxDma[slot] == NO_BUFFER)
            {
                reclaimedWrites++; // the device wrote a buffer the driver had already unmapped
                continue;
            }
            if ((st & NicDescriptor.STATUS_DD) == 0)
            {
                fail("RX descriptor " + (rxClean - 1) + " below the head without DD");
                continue;
            }
            if (st != NicDescriptor.STATUS_DD)
            {
                stats.deviceErrors++;
            }
            else
            {
                if (sync)
                {
                    dev.syncSingleForCpu(rxDma[slot], RX_BUF, DmaDirection.FROM_DEVICE);
                }
                cpu.read(rxPhys[slot], rxFrame, 0, len);
                if (verify(seq, len, NicDescriptor.crc(ring, at)))
                {
                    stats.verified++;
                }
                else
                {
                    stats.corrupt++;
                }
            }
            if (sync)
            {
                dev.syncSingleForDevice(rxDma[slot], RX_BUF, DmaDirection.FROM_DEVICE);
            }
            NicDescriptor.put(ring, at, rxDma[slot], 0, (byte)0); // re-post the same buffer
            rxTail++;
        }
        if (n > 0)
        {
            regs.write64(RX_TAIL, rxTail);
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------------ frames

    private void fillFrame(final long seq, final int len)
    {
        final SplittableRandom payload = new SplittableRandom(options.seed() ^ (seq * 0x9E37_79B9_7F4A_7C15L));
        for (int i = HEADER; i < len; i++)
        {
            txBytes[i] = (byte)payload.nextInt(256);
        }
        crc.reset();
        crc.update(txBytes, HEADER, len - HEADER);
        txFrame.set(LONG, 0, seq);
        txFrame.set(INT, 8, (int)crc.getValue());
    }

    /** @return true if the frame read by the CPU is frame {@code seq}, intact, and what the device wrote. */
    private boolean verify(final long seq, final int len, final int deviceCrc)
    {
        if (len < HEADER || len > RX_BUF || rxFrame.get(LONG, 0) != seq)
        {
            return false;
        }
        crc.reset();
        crc.update(rxBytes, HEADER, len - HEADER);
        if ((int)crc.getValue() != rxFrame.get(INT, 8))
        {
            return false;
        }
        crc.reset();
        crc.update(rxBytes, 0, len);
        return (int)crc.getValue() == deviceCrc;
    }

    private boolean fail(final String why)
    {
        if (stats.failures++ == 0)
        {
            stats.note("first failure: " + why);
        }
        return false;
    }
}
