package dev.dmasim.bench.example.nvme;

import dev.dmasim.bench.example.Bug;
import dev.dmasim.bench.example.DriverStats;
import dev.dmasim.bench.example.ExampleOptions;
import dev.dmasim.bench.example.Mmio;
import dev.dmasim.bench.example.Msi;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

import static dev.dmasim.bench.example.nvme.NvmeRegisters.*;

/**
 * The driver half of the NVMe example, written as nvme-pci is, on the {@link Device} API only:
 * <ul>
 *   <li><b>queues</b>: one submission and one completion queue in coherent memory ({@code allocCoherent}), accessed
 *       through {@code DmaBuffer.segment()}, given to the controller through AQA/ASQ/ACQ before CC.EN;</li>
 *   <li><b>data</b>: each command's buffer is a set of separately allocated 4 KiB pages (a bio's pages), written and
 *       checked through {@code cpuMemory()}. Even commands map them with {@code mapSg} and build the PRPs from the
 *       returned DMA segments (merged into one behind an IOMMU); odd commands map each page with {@code mapPhys}. The
 *       device is attached with {@code minAlignMask(0xfff)}, as nvme-pci's {@code dma_set_min_align_mask}, so a
 *       bounced page keeps its offset and the PRP rules still hold;</li>
 *   <li><b>PRP lists</b>: commands of more than two pages point PRP2 at a PRP list page. Each command slot owns one
 *       list page, mapped {@code DMA_TO_DEVICE} once at probe and kept mapped (as a streaming mapping is when
 *       reused), so the driver syncs it for the CPU before writing entries and for the device before the doorbell;</li>
 *   <li><b>submission</b>: up to {@link #QUEUE_DEPTH} commands on non-overlapping LBA ranges, one doorbell write;
 *       completions are reaped after the interrupt, checking the phase tag; a final pass reads back every block ever
 *       written and checks it.</li>
 * </ul>
 * Every block carries its LBA and a version; the driver knows which version each LBA must hold and checks every byte
 * of every READ. Single-threaded: runs on one bound CPU thread.
 */
public final class NvmeDriver
{
    /** Queue size, entries (both queues). */
    public static final int QUEUE_SIZE = 64;
    /** Commands in flight per doorbell (batch). */
    public static final int QUEUE_DEPTH = 32;
    /** Largest command of the workload, blocks. */
    public static final int MAX_IO_BLOCKS = 16;
    /** Every {@code CANCEL_EVERY}-th batch, the {@code use-after-unmap} bug cancels one queued READ. */
    public static final int CANCEL_EVERY = 4;
    private static final long PAGE = 4096;
    private static final int BLOCK = NvmeController.BLOCK_SIZE;
    private static final int BLOCKS = NvmeController.BLOCKS;
    private static final long TIMEOUT_NANOS = 5_000_000_000L;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Device dev;
    private final PhysicalMemory cpu;
    private final PageAllocator pages;
    private final Mmio regs;
    private final Msi irq;
    private final ExampleOptions options;
    private final Bug bug;
    private final DriverStats stats = new DriverStats();
    private final SplittableRandom rnd;

    private DmaBuffer sq;
    private DmaBuffer cq;
    private int sqTail;
    private int cqHead;
    private int phase = 1;
    private long consumed;

    private final long[] prpListPhys = new long[QUEUE_DEPTH];
    private final long[] prpListDma = new long[QUEUE_DEPTH];

    // Per command slot (CID).
    private final int[] opcode = new int[QUEUE_DEPTH];
    private final long[] slba = new long[QUEUE_DEPTH];
    private final int[] blocks = new int[QUEUE_DEPTH];
    private final int[] version = new int[QUEUE_DEPTH];
    private final boolean[] sgPath = new boolean[QUEUE_DEPTH];
    private final boolean[] inFlight = new boolean[QUEUE_DEPTH];
    private final boolean[] mapped = new boolean[QUEUE_DEPTH];
    private final boolean[] cancelled = new boolean[QUEUE_DEPTH];
    private final boolean[] counted = new boolean[QUEUE_DEPTH];
    private final long[][] dataPhys = new long[QUEUE_DEPTH][MAX_IO_BLOCKS];
    private final long[][] dataDma = new long[QUEUE_DEPTH][MAX_IO_BLOCKS];
    private final ScatterList[] sgl = new ScatterList[QUEUE_DEPTH];
    private final long[] entries = new long[MAX_IO_BLOCKS];

    /** Which version each LBA holds: 0 never written (zeros), -1 unknown (a failed WRITE). */
    private final int[] versions = new int[BLOCKS];
    private int nextVersion;
    private final byte[] expected = new byte[BLOCK];
    private final MemorySegment expectedSeg = MemorySegment.ofArray(expected);
    private final byte[] actual = new byte[BLOCK];
    private final MemorySegment actualSeg = MemorySegment.ofArray(actual);
    private final MemorySegment listScratch = MemorySegment.ofArray(new byte[(int)PAGE]);
    private long cancels;
    private long sgCommands;
    private long pageCommands;
    private long listCommands;
    private long readBacks;
    private long readBackCorrupt;

    public NvmeDriver(final Device dev, final PhysicalMemory cpu, final PageAllocator pages, final long barBase,
        final Msi irq, final ExampleOptions options)
    {
        this.dev = dev;
        this.cpu = cpu;
        this.pages = pages;
        this.regs = new Mmio(cpu, barBase);
        this.irq = irq;
        this.options = options;
        this.bug = options.bug();
        this.rnd = new SplittableRandom(options.seed());
        for (int i = 0; i < QUEUE_DEPTH; i++)
        {
            sgl[i] = new ScatterList(MAX_IO_BLOCKS);
        }
    }

    /**
     * Runs {@code options.count()} READ/WRITE commands, then reads back every written block. The bugs:
     * <ul>
     *   <li>{@code missing-sync}: PRP list entries are written without {@code syncSingleForCpu}/{@code ForDevice}: the
     *       controller may read stale list entries from memory while the new ones sit dirty in the CPU cache;</li>
     *   <li>{@code use-after-unmap}: every {@value #CANCEL_EVERY}th batch, one READ is cancelled (its data unmapped
     *       and freed) after its command was written to the submission queue but before the doorbell, and is left
     *       there: the controller executes it and DMAs into the unmapped buffer;</li>
     *   <li>{@code wrong-direction}: READ buffers are mapped {@code DMA_TO_DEVICE}, unmapped {@code DMA_FROM_DEVICE};</li>
     *   <li>{@code leak}: WRITE commands mapped page by page are never unmapped.</li>
     * </ul>
     */
    public DriverStats drive()
    {
        stats.expected = options.count();
        open();
        try
        {
            final long start = System.nanoTime();
            int done = 0;
            for (int batch = 0; done < options.count() && stats.failures == 0; batch++)
            {
                final int n = Math.min(QUEUE_DEPTH, options.count() - done);
                for (int cid = 0; cid < n && stats.failures == 0; cid++)
                {
                    final boolean write = rnd.nextBoolean();
                    final int len = 1 + rnd.nextInt(MAX_IO_BLOCKS);
                    submit(cid, write ? NvmeCommand.OPC_WRITE : NvmeCommand.OPC_READ, pickRange(cid, len), len,
                        (done + cid) % 2 == 0, true);
                }
                if (bug == Bug.USE_AFTER_UNMAP && batch % CANCEL_EVERY == 0)
                {
                    cancelOneRead(n);
                }
                regs.write32(SQ0TDBL, sqTail);
                reap(n);
                done += n;
            }
            stats.elapsedNanos = System.nanoTime() - start;
            if (stats.failures == 0)
            {
                readBack();
            }
        }
        finally
        {
            close();
        }
        stats.note("commands: " + sgCommands + " mapped with mapSg, " + pageCommands + " page by page with mapPhys, "
            + listCommands + " with a PRP list; read-back pass: " + readBacks + " READs, " + readBackCorrupt
            + " found corrupt blocks");
        if (cancels > 0)
        {
            stats.note(cancels + " READs were cancelled (unmapped) while queued; the controller still executed them");
        }
        return stats;
    }

    // ------------------------------------------------------------------------------------------------ probe

    private void open()
    {
        sq = dev.allocCoherent((long)QUEUE_SIZE * NvmeCommand.SIZE);
        cq = dev.allocCoherent((long)QUEUE_SIZE * NvmeCompletion.SIZE);
        if (sq == null || cq == null)
        {
            throw new IllegalStateException(dev.name() + ": cannot allocate the queues");
        }
        regs.write32(CC, 0);
        waitReady(false);
        regs.write32(AQA, (QUEUE_SIZE - 1) | (QUEUE_SIZE - 1) << 16);
        regs.write64(ASQ, sq.dma());
        regs.write64(ACQ, cq.dma());
        regs.write32(CC, CC_EN);
        waitReady(true);
        for (int cid = 0; cid < QUEUE_DEPTH; cid++)
        {
            final long page = pages.allocPages(0, Zone.NORMAL);
            if (page == PageAllocator.NO_PAGE)
            {
                throw new IllegalStateException(dev.name() + ": out of pages for PRP lists");
            }
            final long dma = dev.mapPhys(page, PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            if (dev.mappingError(dma))
            {
                pages.freePages(page, 0);
                throw new IllegalStateException(dev.name() + ": PRP list mapping failed");
            }
            prpListPhys[cid] = page;
            prpListDma[cid] = dma;
        }
    }

    private void close()
    {
        regs.write32(CC, 0);
        waitReady(false); // the controller has stopped: nothing it was given can be touched any more
        for (int cid = 0; cid < QUEUE_DEPTH; cid++)
        {
            if (mapped[cid])
            {
                unmapData(cid); // commands lost in a failed run
                freeData(cid);
            }
            if (prpListDma[cid] != 0)
            {
                dev.unmapPhys(prpListDma[cid], PAGE, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
                pages.freePages(prpListPhys[cid], 0);
            }
        }
        dev.freeCoherent(sq);
        dev.freeCoherent(cq);
    }

    private void waitReady(final boolean ready)
    {
        final long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (((regs.read32(CSTS) & CSTS_RDY) != 0) != ready)
        {
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException(dev.name() + ": controller did not become " + (ready ? "ready" : "idle"));
            }
            Thread.onSpinWait();
        }
    }

    // ------------------------------------------------------------------------------------------------ submission

    /** Maps the data of a command in slot {@code cid}, builds its PRPs and writes its SQE (no doorbell). */
    private void submit(final int cid, final int opc, final long lba, final int len, final boolean sg,
        final boolean count)
    {
        final boolean write = opc == NvmeCommand.OPC_WRITE;
        opcode[cid] = opc;
        slba[cid] = lba;
        blocks[cid] = len;
        sgPath[cid] = sg;
        counted[cid] = count;
        version[cid] = write ? ++nextVersion : 0;
        for (int i = 0; i < len; i++)
        {
            final long page = pages.allocPages(0, Zone.NORMAL);
            if (page == PageAllocator.NO_PAGE)
            {
                fail("out of pages");
                return;
            }
            dataPhys[cid][i] = page;
            if (write)
            {
                pattern(lba + i, version[cid]);
                cpu.write(page, expectedSeg); // dirty in the CPU cache until the map cleans it
            }
        }
        final DmaDirection dir = mapDirection(opc);
        int n = 0;
        if (sg)
        {
            sgCommands++;
            final ScatterList list = sgl[cid];
            for (int i = 0; i < len; i++)
            {
                list.set(i, dataPhys[cid][i], BLOCK);
            }
            final int ents = dev.mapSg(list, len, dir, DmaAttrs.NONE);
            if (ents == 0)
            {
                freeData(cid);
                fail("mapSg failed");
                return;
            }
            for (int s = 0; s < ents; s++)
            {
                final long addr = list.dmaAddress(s);
                final long segLen = list.dmaLength(s);
                if ((addr & (PAGE - 1)) != 0 || (segLen & (PAGE - 1)) != 0)
                {
                    fail("DMA segment [0x" + Long.toHexString(addr) + ", +" + segLen + ") cannot be described by PRPs");
                }
                for (long off = 0; off < segLen; off += PAGE)
                {
                    entries[n++] = addr + off;
                }
            }
        }
        else
        {
            pageCommands++;
            for (int i = 0; i < len; i++)
            {
                final long dma = dev.mapPhys(dataPhys[cid][i], BLOCK, dir, DmaAttrs.NONE);
                if (dev.mappingError(dma))
                {
                    for (int j = 0; j < i; j++)
                    {
                        dev.unmapPhys(dataDma[cid][j], BLOCK, dir, DmaAttrs.NONE);
                    }
                    freeData(cid);
                    fail("mapPhys failed");
                    return;
                }
                dataDma[cid][i] = dma;
                entries[n++] = dma;
            }
        }
        mapped[cid] = true;
        long prp2 = 0;
        if (n == 2)
        {
            prp2 = entries[1];
        }
        else if (n > 2)
        {
            listCommands++;
            writePrpList(cid, n);
            prp2 = prpListDma[cid];
        }
        NvmeCommand.put(sq.segment(), (long)sqTail * NvmeCommand.SIZE, opc, cid, NvmeController.NSID, entries[0], prp2,
            lba, len);
        sqTail = (sqTail + 1) % QUEUE_SIZE;
        inFlight[cid] = true;
    }

    /** Entries 1..n-1 into the slot's PRP list page: a streaming mapping the CPU writes, so sync around it. */
    private void writePrpList(final int cid, final int n)
    {
        final boolean sync = bug != Bug.MISSING_SYNC;
        final long bytes = (n - 1) * 8L;
        if (sync)
        {
            dev.syncSingleForCpu(prpListDma[cid], bytes, DmaDirection.TO_DEVICE);
        }
        for (int i = 1; i < n; i++)
        {
            listScratch.set(LONG, (i - 1) * 8L, entries[i]);
        }
        cpu.write(prpListPhys[cid], listScratch, 0, bytes);
        if (sync)
        {
            dev.syncSingleForDevice(prpListDma[cid], bytes, DmaDirection.TO_DEVICE); // cleans the CPU cache lines
        }
    }

    private DmaDirection mapDirection(final int opc)
    {
        if (opc == NvmeCommand.OPC_WRITE)
        {
            return DmaDirection.TO_DEVICE;
        }
        return bug == Bug.WRONG_DIRECTION ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE;
    }

    /** The direction the driver believes the buffer was mapped with (and so unmaps with). */
    private static DmaDirection unmapDirection(final int opc)
    {
        return opc == NvmeCommand.OPC_WRITE ? DmaDirection.TO_DEVICE : DmaDirection.FROM_DEVICE;
    }

    /** BUG (use-after-unmap): completes a queued READ early, without removing its command from the queue. */
    private void cancelOneRead(final int n)
    {
        for (int cid = 0; cid < n; cid++)
        {
            if (opcode[cid] == NvmeCommand.OPC_READ && inFlight[cid])
            {
                unmapData(cid);
                freeData(cid);
                cancelled[cid] = true;
                cancels++;
                return;
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ completion

    /** Consumes {@code n} completions: one per interrupt, phase tag checked. */
    private void reap(final int n)
    {
        int got = 0;
        final MemorySegment ring = cq.segment();
        while (got < n && stats.failures == 0)
        {
            final long posted = irq.count();
            while (consumed < posted && got < n)
            {
                final long at = (long)cqHead * NvmeCompletion.SIZE;
                if (NvmeCompletion.phase(ring, at) != phase)
                {
                    fail("completion " + consumed + " announced but its phase tag is stale (controller fatal?)");
                    return;
                }
                complete(NvmeCompletion.cid(ring, at), NvmeCompletion.status(ring, at));
                if (++cqHead == QUEUE_SIZE)
                {
                    cqHead = 0;
                    phase ^= 1;
                }
                consumed++;
                got++;
            }
            if (got < n && irq.await(posted, TIMEOUT_NANOS) == posted)
            {
                fail("timeout: " + (n - got) + " commands did not complete in " + TIMEOUT_NANOS / 1_000_000 + " ms");
            }
        }
        regs.write32(CQ0HDBL, cqHead);
    }

    private void complete(final int cid, final int status)
    {
        if (cid >= QUEUE_DEPTH || !inFlight[cid])
        {
            fail("completion for CID " + cid + " that is not in flight");
            return;
        }
        inFlight[cid] = false;
        if (cancelled[cid])
        {
            cancelled[cid] = false; // its buffer is long gone; a real driver would not even know the CID any more
            return;
        }
        final boolean write = opcode[cid] == NvmeCommand.OPC_WRITE;
        if (bug == Bug.LEAK && write && !sgPath[cid])
        {
            stats.leakedMappings += blocks[cid]; // BUG: the page-by-page WRITE path forgets its unmaps (and pages)
            mapped[cid] = false;
        }
        else
        {
            unmapData(cid); // for a READ on a non-coherent device: invalidates the CPU's stale lines
        }
        if (status != NvmeCompletion.SC_SUCCESS)
        {
            stats.deviceErrors++;
            if (write)
            {
                Arrays.fill(versions, (int)slba[cid], (int)slba[cid] + blocks[cid], -1);
            }
        }
        else if (write)
        {
            Arrays.fill(versions, (int)slba[cid], (int)slba[cid] + blocks[cid], version[cid]);
            if (counted[cid])
            {
                stats.verified++; // its bytes are checked by the read-back pass
            }
        }
        else
        {
            final boolean ok = verifyRead(cid);
            if (counted[cid])
            {
                if (ok)
                {
                    stats.verified++;
                }
                else
                {
                    stats.corrupt++;
                }
            }
            else if (!ok)
            {
                stats.corrupt++;
                readBackCorrupt++;
            }
        }
        if (counted[cid])
        {
            stats.bytes += (long)blocks[cid] * BLOCK;
        }
        if (mapped[cid] || !(bug == Bug.LEAK && write && !sgPath[cid]))
        {
            freeData(cid);
        }
    }

    private boolean verifyRead(final int cid)
    {
        boolean ok = true;
        for (int i = 0; i < blocks[cid]; i++)
        {
            final long lba = slba[cid] + i;
            if (versions[(int)lba] < 0)
            {
                continue; // after a failed WRITE nobody knows
            }
            cpu.read(dataPhys[cid][i], actualSeg);
            pattern(lba, versions[(int)lba]);
            ok &= Arrays.equals(expected, actual);
        }
        return ok;
    }

    private void unmapData(final int cid)
    {
        final DmaDirection dir = unmapDirection(opcode[cid]);
        if (sgPath[cid])
        {
            dev.unmapSg(sgl[cid], blocks[cid], dir, DmaAttrs.NONE);
        }
        else
        {
            for (int i = 0; i < blocks[cid]; i++)
            {
                dev.unmapPhys(dataDma[cid][i], BLOCK, dir, DmaAttrs.NONE);
            }
        }
        mapped[cid] = false;
    }

    private void freeData(final int cid)
    {
        for (int i = 0; i < blocks[cid]; i++)
        {
            if (dataPhys[cid][i] != 0)
            {
                pages.freePages(dataPhys[cid][i], 0);
                dataPhys[cid][i] = 0;
            }
        }
    }

    /** Reads back every block ever written, {@value #MAX_IO_BLOCKS} at a time, and checks it. */
    private void readBack()
    {
        int lba = 0;
        while (lba < BLOCKS && stats.failures == 0)
        {
            int n = 0;
            for (; n < QUEUE_DEPTH && lba < BLOCKS; lba += MAX_IO_BLOCKS)
            {
                boolean written = false;
                for (int i = lba; i < lba + MAX_IO_BLOCKS; i++)
                {
                    written |= versions[i] != 0;
                }
                if (written)
                {
                    submit(n, NvmeCommand.OPC_READ, lba, MAX_IO_BLOCKS, n % 2 == 0, false);
                    readBacks++;
                    n++;
                }
            }
            if (n > 0)
            {
                regs.write32(SQ0TDBL, sqTail);
                reap(n);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ workload

    /** @return a start LBA for {@code len} blocks not overlapping the commands in slots below {@code cid}. */
    private long pickRange(final int cid, final int len)
    {
        for (int tries = 0; ; tries++)
        {
            final long lba = rnd.nextInt(BLOCKS - len + 1);
            boolean overlaps = false;
            for (int c = 0; c < cid && !overlaps; c++)
            {
                overlaps = lba < slba[c] + blocks[c] && slba[c] < lba + len;
            }
            if (!overlaps || tries > 1000)
            {
                return lba;
            }
        }
    }

    /** Fills {@link #expected} with block {@code lba}'s contents at {@code ver} (version 0: never written, zeros). */
    private void pattern(final long lba, final int ver)
    {
        if (ver == 0)
        {
            Arrays.fill(expected, (byte)0);
            return;
        }
        final SplittableRandom r = new SplittableRandom(options.seed() ^ lba * 0x9E37_79B9_7F4A_7C15L ^ (long)ver << 32);
        expectedSeg.set(LONG, 0, lba);
        expectedSeg.set(LONG, 8, ver);
        for (long off = 16; off < BLOCK; off += 8)
        {
            expectedSeg.set(LONG, off, r.nextLong());
        }
    }

    private void fail(final String why)
    {
        if (stats.failures++ == 0)
        {
            stats.note("first failure: " + why);
        }
    }
}
