package dev.dmasim.sim.iommu;

import org.agrona.BufferUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.util.concurrent.atomic.LongAdder;

/**
 * The IOMMU's fault queue (SMMUv3 event queue, VT-d fault recording registers): a bounded multi-producer,
 * single-consumer ring of fixed-size fault records on Agrona's {@link ManyToOneRingBuffer} over an off-heap
 * {@link UnsafeBuffer}. Device threads {@link #record} faults; the embedder {@link #poll}s them. When the ring is full
 * a fault is dropped and counted, never waited for (hardware sets an overflow flag).
 * <p>
 * Record layout (message type {@link #MSG_TYPE_FAULT}, after Agrona's 8-byte record header), native byte order:
 * <pre>
 *   0               8               16      20      24      28      32
 *   +---------------+---------------+-------+-------+-------+-------+
 *   | bus address   | timestamp ns  |  RID  |access |reason |domain |
 *   +---------------+---------------+-------+-------+-------+-------+
 * </pre>
 * <b>Thread safety.</b> {@link #record} from any number of threads; {@link #poll} from one thread at a time (it
 * reuses one adapter); counters from anywhere.
 * <p>
 * <b>Invariants / ordering.</b> Agrona's protocol: a producer claims space by CAS on the tail, writes the negative
 * record length with release, the body, then the positive length with release; the consumer reads the length with
 * acquire, so a polled record is always complete. {@code record} allocates nothing; a full ring returns false at
 * once and increments {@link #dropped()}.
 */
public final class FaultRing
{
    /** Agrona message type id of a fault record. */
    public static final int MSG_TYPE_FAULT = 1;
    /** Bytes of a fault record body. */
    public static final int RECORD_LENGTH = 32;
    /** Default capacity in records. */
    public static final int DEFAULT_CAPACITY = 1024;

    private static final int BUS_ADDRESS_OFFSET = 0;
    private static final int TIMESTAMP_OFFSET = 8;
    private static final int REQUESTER_OFFSET = 16;
    private static final int ACCESS_OFFSET = 20;
    private static final int REASON_OFFSET = 24;
    private static final int DOMAIN_OFFSET = 28;
    /** Agrona header (8) + body, already 8-aligned. */
    private static final int SLOT_LENGTH = 8 + RECORD_LENGTH;

    private final ManyToOneRingBuffer ring;
    private final LongAdder recorded = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final Adapter adapter = new Adapter();

    /**
     * @param minRecords the ring holds at least this many records (1..16M); the byte capacity is rounded up to a
     *                   power of two.
     */
    public FaultRing(final int minRecords)
    {
        if (minRecords < 1 || minRecords > (1 << 24))
        {
            throw new IllegalArgumentException("fault ring capacity must be 1..16777216 records, got " + minRecords);
        }
        final int bytes = Math.max(1024, Integer.highestOneBit(minRecords * SLOT_LENGTH - 1) << 1);
        this.ring = new ManyToOneRingBuffer(new UnsafeBuffer(
            BufferUtil.allocateDirectAligned(bytes + RingBufferDescriptor.TRAILER_LENGTH, 64)));
    }

    /** @return records the ring can hold when empty. */
    public int capacityRecords()
    {
        return ring.capacity() / SLOT_LENGTH;
    }

    /**
     * Appends a fault record. Allocation-free, lock-free.
     *
     * @return true if recorded, false if the ring was full (the fault is counted in {@link #dropped()}).
     */
    public boolean record(
        final int requesterId, final long busAddress, final int access, final int reason, final int domainId)
    {
        final int index = ring.tryClaim(MSG_TYPE_FAULT, RECORD_LENGTH);
        if (index < 0)
        {
            dropped.increment();
            return false;
        }
        final AtomicBuffer b = ring.buffer();
        b.putLong(index + BUS_ADDRESS_OFFSET, busAddress);
        b.putLong(index + TIMESTAMP_OFFSET, System.nanoTime());
        b.putInt(index + REQUESTER_OFFSET, requesterId);
        b.putInt(index + ACCESS_OFFSET, access);
        b.putInt(index + REASON_OFFSET, reason);
        b.putInt(index + DOMAIN_OFFSET, domainId);
        ring.commit(index);
        recorded.increment();
        return true;
    }

    /**
     * Hands up to {@code limit} records, oldest first, to {@code handler} and removes them. One consumer at a time.
     *
     * @return records handed over.
     */
    public int poll(final FaultHandler handler, final int limit)
    {
        if (handler == null)
        {
            throw new IllegalArgumentException("fault handler must not be null");
        }
        adapter.handler = handler;
        try
        {
            // Agrona reads one contiguous stretch per call (up to the end of the buffer), so keep reading while
            // the consumer makes progress: a wrapped ring needs two reads, a padding record a read of its own
            int total = 0;
            while (total < limit)
            {
                final long before = ring.consumerPosition();
                total += ring.read(adapter, limit - total);
                if (ring.consumerPosition() == before)
                {
                    break;
                }
            }
            return total;
        }
        finally
        {
            adapter.handler = null;
        }
    }

    /** @return faults recorded into the ring since creation (polled or not; drops excluded). */
    public long count()
    {
        return recorded.sum();
    }

    /** @return faults dropped because the ring was full. */
    public long dropped()
    {
        return dropped.sum();
    }

    /** @return records waiting to be polled (approximate under concurrent producers). */
    public int pending()
    {
        return ring.size() / SLOT_LENGTH;
    }

    private static final class Adapter implements MessageHandler
    {
        private FaultHandler handler;

        @Override
        public void onMessage(final int msgTypeId, final MutableDirectBuffer buffer, final int index, final int length)
        {
            if (msgTypeId != MSG_TYPE_FAULT || length != RECORD_LENGTH)
            {
                return;
            }
            handler.onFault(
                buffer.getInt(index + REQUESTER_OFFSET),
                buffer.getLong(index + BUS_ADDRESS_OFFSET),
                buffer.getInt(index + ACCESS_OFFSET),
                buffer.getInt(index + REASON_OFFSET),
                buffer.getInt(index + DOMAIN_OFFSET),
                buffer.getLong(index + TIMESTAMP_OFFSET));
        }
    }
}
