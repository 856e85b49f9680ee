package dev.dmasim.bench.example.nic;

import dev.dmasim.bench.example.DeviceHardware;
import dev.dmasim.bench.example.Msi;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.mem.MemTx;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32;

import static dev.dmasim.bench.example.nic.NicRegisters.*;

/**
 * The NIC's hardware half: a register file ({@link NicRegisters}) and one device thread that runs the TX and RX
 * rings. It knows the machine only through its {@link BusDevice}: descriptors and frames are read with
 * {@code dmaRead} and written with {@code dmaWrite}, so every access is translated by the IOMMU the device sits
 * behind, and observed by dmasim's checks. Transmitted frames go out on a loopback wire and come back in on the RX
 * ring, so the driver can check every byte it sent.
 * <p>
 * A DMA that faults is what a real NIC does with it: the descriptor is completed with {@code STATUS_ERR_DMA} and
 * the frame dropped; the fault itself is in the IOMMU's fault ring, where the embedder (not the device) reads it.
 * <p>
 * <b>Threads.</b> Registers are written by CPU threads (the driver's MMIO stores run {@link #writeRegister} on the
 * storing thread); everything else (the wire, the scratch buffers, head updates) belongs to the device thread.
 * <b>Ordering.</b> Register fields are volatile. The driver's descriptor writes happen before its tail doorbell (a
 * volatile store here), which the device reads before the descriptors; the device's write-backs happen before it
 * publishes the head (volatile store) and raises the {@link Msi}; the driver reads the head before the write-backs.
 * The STATUS acknowledgement is published only at the end of a loop iteration, after any DMA the iteration started.
 */
public final class NicHardware extends DeviceHardware
{
    /** Largest frame the device handles, bytes. */
    public static final int MAX_FRAME = 2048;
    /** Frames the loopback wire holds before the transmitter waits (back-pressure). */
    public static final int WIRE_CAPACITY = 64;
    private static final int BATCH = 16;

    private volatile long ctrl;
    private volatile long status;
    private volatile long txBase;
    private volatile long txLen = 1;
    private volatile long txTail;
    private volatile long txHead;
    private volatile long rxBase;
    private volatile long rxLen = 1;
    private volatile long rxTail;
    private volatile long rxHead;
    private volatile long rxBufSize;
    private volatile long rxDropped;


    // Device-thread state.
    private final ArrayDeque<byte[]> wire = new ArrayDeque<>();
    private final MemorySegment desc = MemorySegment.ofArray(new byte[NicDescriptor.SIZE]);
    private final byte[] frameBytes = new byte[MAX_FRAME];
    private final MemorySegment frame = MemorySegment.ofArray(frameBytes);
    private final CRC32 crc = new CRC32();

    public NicHardware()
    {
        super("nic", BAR_SIZE);
    }

    @Override
    protected long readRegister(final long offset, final int width)
    {
        return switch ((int)offset)
        {
            case (int)CTRL -> ctrl;
            case (int)STATUS -> status;
            case (int)TX_BASE -> txBase;
            case (int)TX_LEN -> txLen;
            case (int)TX_TAIL -> txTail;
            case (int)TX_HEAD -> txHead;
            case (int)RX_BASE -> rxBase;
            case (int)RX_LEN -> rxLen;
            case (int)RX_TAIL -> rxTail;
            case (int)RX_HEAD -> rxHead;
            case (int)RX_BUF_SIZE -> rxBufSize;
            case (int)RX_DROPPED -> rxDropped;
            default -> 0;
        };
    }

    @Override
    protected void writeRegister(final long offset, final int width, final long value)
    {
        switch ((int)offset)
        {
            case (int)CTRL -> ctrl = value & (TX_EN | RX_EN);
            case (int)TX_BASE ->
            {
                if ((status & TX_EN) == 0)
                {
                    txBase = value;
                    txHead = 0;
                    txTail = 0;
                }
            }
            case (int)TX_LEN -> txLen = Long.highestOneBit(Math.max(1, value));
            case (int)TX_TAIL -> txTail = value;
            case (int)RX_BASE ->
            {
                if ((status & RX_EN) == 0)
                {
                    rxBase = value;
                    rxHead = 0;
                    rxTail = 0;
                }
            }
            case (int)RX_LEN -> rxLen = Long.highestOneBit(Math.max(1, value));
            case (int)RX_TAIL -> rxTail = value;
            case (int)RX_BUF_SIZE -> rxBufSize = value;
            default ->
            {
                return; // read-only or unknown: ignored
            }
        }
        final Thread t = thread;
        if (t != null)
        {
            LockSupport.unpark(t); // any register write may give the device work
        }
    }

    @Override
    public void run()
    {
        while (powered)
        {
            final long enabled = ctrl;
            boolean worked = false;
            if ((enabled & TX_EN) != 0)
            {
                for (int i = 0; i < BATCH && wire.size() < WIRE_CAPACITY && transmitOne(); i++)
                {
                    worked = true;
                }
            }
            if ((enabled & RX_EN) != 0)
            {
                for (int i = 0; i < BATCH && receiveOne(); i++)
                {
                    worked = true;
                }
            }
            else if (!wire.isEmpty())
            {
                rxDropped = rxDropped + wire.size();
                wire.clear();
            }
            status = enabled; // acknowledge: no DMA of a queue disabled in `enabled` happens after this
            if (!worked)
            {
                LockSupport.parkNanos(this, 500_000L);
            }
        }
    }

    /** @return true if a TX descriptor was processed. */
    private boolean transmitOne()
    {
        final long head = txHead;
        if (head == txTail)
        {
            return false;
        }
        final long at = txBase + (head & (txLen - 1)) * NicDescriptor.SIZE;
        if (bus.dmaRead(at, desc) != MemTx.OK)
        {
            return haltQueue(TX_EN);
        }
        final int len = NicDescriptor.length(desc, 0);
        int st = NicDescriptor.STATUS_DD;
        int sum = 0;
        if (len == 0 || len > MAX_FRAME)
        {
            st |= NicDescriptor.STATUS_ERR_LENGTH;
        }
        else if (bus.dmaRead(NicDescriptor.address(desc, 0), frame, 0, len) != MemTx.OK)
        {
            st |= NicDescriptor.STATUS_ERR_DMA;
        }
        else
        {
            crc.reset();
            crc.update(frameBytes, 0, len);
            sum = (int)crc.getValue();
            final byte[] onTheWire = new byte[len];
            System.arraycopy(frameBytes, 0, onTheWire, 0, len);
            wire.add(onTheWire);
        }
        NicDescriptor.writeBack(desc, 0, len, st, sum);
        bus.dmaWrite(at + NicDescriptor.WRITEBACK_OFFSET, desc, NicDescriptor.WRITEBACK_OFFSET,
            NicDescriptor.WRITEBACK_LENGTH);
        txHead = head + 1;
        irq.raise();
        return true;
    }

    /** @return true if a frame was delivered into an RX descriptor. */
    private boolean receiveOne()
    {
        final long head = rxHead;
        if (head == rxTail || wire.isEmpty())
        {
            return false;
        }
        final byte[] f = wire.poll();
        final long at = rxBase + (head & (rxLen - 1)) * NicDescriptor.SIZE;
        if (bus.dmaRead(at, desc) != MemTx.OK)
        {
            return haltQueue(RX_EN);
        }
        int st = NicDescriptor.STATUS_DD;
        crc.reset();
        crc.update(f, 0, f.length);
        if (f.length > rxBufSize)
        {
            st |= NicDescriptor.STATUS_ERR_LENGTH;
        }
        else if (bus.dmaWrite(NicDescriptor.address(desc, 0), MemorySegment.ofArray(f)) != MemTx.OK)
        {
            st |= NicDescriptor.STATUS_ERR_DMA;
        }
        NicDescriptor.writeBack(desc, 0, f.length, st, (int)crc.getValue());
        bus.dmaWrite(at + NicDescriptor.WRITEBACK_OFFSET, desc, NicDescriptor.WRITEBACK_OFFSET,
            NicDescriptor.WRITEBACK_LENGTH);
        rxHead = head + 1;
        irq.raise();
        return true;
    }

    /** A ring the device cannot even read: stop that queue, as a NIC stops on a descriptor fetch error. */
    private boolean haltQueue(final long queue)
    {
        ctrl = ctrl & ~queue;
        irq.raise();
        return false;
    }
}
