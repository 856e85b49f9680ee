package dev.dmasim.bench.example.nvme;

import dev.dmasim.bench.example.DeviceHardware;
import dev.dmasim.bench.example.Msi;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.mem.MemTx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.locks.LockSupport;

import static dev.dmasim.bench.example.nvme.NvmeRegisters.*;

/**
 * The hardware half of an NVMe-like controller: a register file ({@link NvmeRegisters}), one namespace of
 * {@link #BLOCKS} blocks of {@link #BLOCK_SIZE} bytes held in the controller's own memory (not host RAM), and one
 * controller thread that fetches commands from the submission queue, moves data through PRPs, and posts completions.
 * All host memory is reached through the {@link BusDevice}: SQEs, PRP lists and data with {@code dmaRead}/
 * {@code dmaWrite} (so through the IOMMU, and seen by dmasim's checks), CQEs with {@code dmaWrite}. A faulting data or
 * PRP-list DMA completes the command with {@link NvmeCompletion#SC_DATA_TRANSFER_ERROR}; the fault itself goes to the
 * IOMMU's fault ring, for the embedder.
 * <p>
 * <b>Threads.</b> CPU threads write registers (doorbells run {@link #writeRegister} on the writing thread); the
 * controller thread owns everything else. <b>Ordering.</b> Register fields are volatile: the driver's SQE writes happen
 * before its SQ tail doorbell, which the controller reads before fetching; each CQE is written before the
 * {@link Msi} that announces it is raised. CSTS.RDY is published only between commands, so RDY = 0 after CC.EN = 0
 * means no DMA is in flight.
 */
public final class NvmeController extends DeviceHardware
{
    /** Logical block size, bytes (one memory page). */
    public static final int BLOCK_SIZE = 4096;
    /** Blocks in namespace 1. */
    public static final int BLOCKS = 2048;
    /** The namespace id. */
    public static final int NSID = 1;
    /** Most blocks one command may transfer (MDTS), so a PRP list needs at most one page. */
    public static final int MAX_BLOCKS = 256;
    private static final long PAGE = 4096;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private volatile int cc;
    private volatile int csts;
    private volatile int aqa;
    private volatile long asq;
    private volatile long acq;
    private volatile int sqTail;
    private volatile int cqHead;


    // Controller-thread state.
    private final MemorySegment namespace = MemorySegment.ofArray(new byte[BLOCKS * BLOCK_SIZE]);
    private final MemorySegment sqe = MemorySegment.ofArray(new byte[NvmeCommand.SIZE]);
    private final MemorySegment cqe = MemorySegment.ofArray(new byte[NvmeCompletion.SIZE]);
    private final MemorySegment prpList = MemorySegment.ofArray(new byte[(int)PAGE]);
    private final long[] prps = new long[MAX_BLOCKS + 1];
    private boolean running;
    private boolean failed;
    private long sqBase;
    private long cqBase;
    private int sqSize;
    private int cqSize;
    private int sqHead;
    private int cqTail;
    private int phase;

    public NvmeController()
    {
        super("nvme", BAR_SIZE);
    }

    @Override
    protected long readRegister(final long offset, final int width)
    {
        return switch ((int)offset)
        {
            case (int)CAP -> MAX_QUEUE_ENTRIES - 1;
            case (int)CC -> cc;
            case (int)CSTS -> csts;
            case (int)AQA -> aqa;
            case (int)ASQ -> asq;
            case (int)ACQ -> acq;
            default -> 0;
        };
    }

    @Override
    protected void writeRegister(final long offset, final int width, final long value)
    {
        switch ((int)offset)
        {
            case (int)CC -> cc = (int)value;
            case (int)AQA -> aqa = (int)value;
            case (int)ASQ -> asq = value;
            case (int)ACQ -> acq = value;
            case (int)SQ0TDBL -> sqTail = (int)value;
            case (int)CQ0HDBL -> cqHead = (int)value;
            default ->
            {
                return;
            }
        }
        final Thread t = thread;
        if (t != null)
        {
            LockSupport.unpark(t);
        }
    }

    @Override
    public void run()
    {
        while (powered)
        {
            final boolean enable = (cc & CC_EN) != 0;
            if (failed)
            {
                if (!enable)
                {
                    failed = false; // a reset clears the fatal state
                    csts = 0;
                }
                LockSupport.parkNanos(this, 500_000L);
                continue;
            }
            if (enable != running)
            {
                if (enable)
                {
                    start();
                }
                else
                {
                    running = false;
                    csts = 0; // reset: queues forgotten, no DMA from now on
                }
                continue;
            }
            if (!running || sqHead == sqTail || (cqTail + 1) % cqSize == cqHead)
            {
                LockSupport.parkNanos(this, 500_000L);
                continue;
            }
            execute();
        }
    }

    private void start()
    {
        final int a = aqa;
        sqSize = (a & 0xfff) + 1;
        cqSize = ((a >>> 16) & 0xfff) + 1;
        sqBase = asq;
        cqBase = acq;
        sqHead = 0;
        cqTail = 0;
        phase = 1;
        sqTail = 0;
        cqHead = 0;
        running = true;
        csts = CSTS_RDY;
    }

    /** Fetches, executes and completes the command at the SQ head. */
    private void execute()
    {
        if (bus.dmaRead(sqBase + (long)sqHead * NvmeCommand.SIZE, sqe) != MemTx.OK)
        {
            fatal();
            return;
        }
        sqHead = (sqHead + 1) % sqSize;
        final int cid = NvmeCommand.cid(sqe, 0);
        final int opcode = NvmeCommand.opcode(sqe, 0);
        final long slba = NvmeCommand.slba(sqe, 0);
        final int blocks = NvmeCommand.blocks(sqe, 0);
        final int status;
        if (opcode != NvmeCommand.OPC_READ && opcode != NvmeCommand.OPC_WRITE)
        {
            status = NvmeCompletion.SC_INVALID_OPCODE;
        }
        else if (NvmeCommand.nsid(sqe, 0) != NSID)
        {
            status = NvmeCompletion.SC_INVALID_NAMESPACE;
        }
        else if (slba < 0 || blocks > MAX_BLOCKS || slba + blocks > BLOCKS)
        {
            status = NvmeCompletion.SC_LBA_OUT_OF_RANGE;
        }
        else
        {
            status = transfer(opcode == NvmeCommand.OPC_WRITE, slba * BLOCK_SIZE, (long)blocks * BLOCK_SIZE);
        }
        NvmeCompletion.put(cqe, 0, sqHead, cid, status, phase);
        if (bus.dmaWrite(cqBase + (long)cqTail * NvmeCompletion.SIZE, cqe) != MemTx.OK)
        {
            fatal();
            return;
        }
        cqTail++;
        if (cqTail == cqSize)
        {
            cqTail = 0;
            phase ^= 1;
        }
        irq.raise();
    }

    /** Moves {@code len} bytes between the namespace at {@code nsOffset} and host memory described by the PRPs. */
    private int transfer(final boolean write, final long nsOffset, final long len)
    {
        final int n = resolvePrps(NvmeCommand.prp1(sqe, 0), NvmeCommand.prp2(sqe, 0), len);
        if (n < 0)
        {
            return -n;
        }
        long done = 0;
        for (int i = 0; i < n; i++)
        {
            final long chunk = Math.min(len - done, PAGE - (prps[i] & (PAGE - 1)));
            final int rc = write
                ? bus.dmaRead(prps[i], namespace, nsOffset + done, chunk)     // host memory -> media
                : bus.dmaWrite(prps[i], namespace, nsOffset + done, chunk);   // media -> host memory
            if (rc != MemTx.OK)
            {
                return NvmeCompletion.SC_DATA_TRANSFER_ERROR;
            }
            done += chunk;
        }
        return NvmeCompletion.SC_SUCCESS;
    }

    /**
     * Expands PRP1/PRP2 into {@link #prps}. @return the number of entries, or minus a status code (a PRP list that
     * cannot be read, an entry after the first that is not page-aligned).
     */
    private int resolvePrps(final long prp1, final long prp2, final long len)
    {
        prps[0] = prp1;
        final long first = Math.min(len, PAGE - (prp1 & (PAGE - 1)));
        long remaining = len - first;
        if (remaining == 0)
        {
            return 1;
        }
        final int needed = (int)((remaining + PAGE - 1) / PAGE);
        if (needed == 1)
        {
            prps[1] = prp2;
            return (prp2 & (PAGE - 1)) != 0 ? -NvmeCompletion.SC_PRP_OFFSET_INVALID : 2;
        }
        long list = prp2;
        int n = 1;
        while (n <= needed)
        {
            if ((list & 7) != 0)
            {
                return -NvmeCompletion.SC_PRP_OFFSET_INVALID;
            }
            final int inPage = (int)((PAGE - (list & (PAGE - 1))) / 8);
            final int left = needed - (n - 1);
            final int take = left <= inPage ? left : inPage; // the last slot chains when more follow
            if (bus.dmaRead(list, prpList, 0, (long)take * 8) != MemTx.OK)
            {
                return -NvmeCompletion.SC_DATA_TRANSFER_ERROR;
            }
            if (left <= inPage)
            {
                for (int i = 0; i < take; i++)
                {
                    prps[n++] = prpList.get(LONG, i * 8L);
                }
                break;
            }
            for (int i = 0; i < take - 1; i++)
            {
                prps[n++] = prpList.get(LONG, i * 8L);
            }
            list = prpList.get(LONG, (take - 1) * 8L);
        }
        for (int i = 1; i < n; i++)
        {
            if ((prps[i] & (PAGE - 1)) != 0)
            {
                return -NvmeCompletion.SC_PRP_OFFSET_INVALID;
            }
        }
        return n;
    }

    /** The controller cannot reach its own queues: CSTS.CFS, stop, as real controllers do. */
    private void fatal()
    {
        running = false;
        failed = true;
        csts = CSTS_CFS;
        irq.raise();
    }
}
