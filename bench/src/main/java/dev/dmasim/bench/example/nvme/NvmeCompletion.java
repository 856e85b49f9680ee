package dev.dmasim.bench.example.nvme;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A completion queue entry (CQE), 16 bytes, little-endian, as in the NVMe specification. The controller writes it
 * with {@code dmaWrite}; the driver reads it through the completion queue's CPU view.
 * <pre>
 *   0          4          8          10         12         14            16
 *   +----------+----------+----------+----------+----------+-------------+
 *   | DW0      | DW1      | SQHD     | SQID     | CID      | STATUS | P  |
 *   | (u32)    | (u32)    | (u16)    | (u16)    | (u16)    | 15:1   | 0  |
 *   +----------+----------+----------+----------+----------+-------------+
 *   P is the phase tag: the controller writes 1 on its first pass through the queue, 0 on the second, and so on;
 *   STATUS holds the status code (SC, bits 8:1) and type (SCT, bits 11:9; 0 = generic).
 * </pre>
 */
public final class NvmeCompletion
{
    /** Bytes per CQE. */
    public static final int SIZE = 16;
    public static final int SQHD_OFFSET = 8;
    public static final int SQID_OFFSET = 10;
    public static final int CID_OFFSET = 12;
    public static final int STATUS_OFFSET = 14;

    /** Generic status: successful completion. */
    public static final int SC_SUCCESS = 0x00;
    /** Generic status: invalid command opcode. */
    public static final int SC_INVALID_OPCODE = 0x01;
    /** Generic status: data transfer error (a DMA of the data or of a PRP list faulted). */
    public static final int SC_DATA_TRANSFER_ERROR = 0x04;
    /** Generic status: invalid namespace. */
    public static final int SC_INVALID_NAMESPACE = 0x0B;
    /** Generic status: PRP offset invalid (a PRP entry after the first is not page-aligned). */
    public static final int SC_PRP_OFFSET_INVALID = 0x13;
    /** Generic status: LBA out of range. */
    public static final int SC_LBA_OUT_OF_RANGE = 0x80;

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NvmeCompletion()
    {
    }

    /** Controller side: fills a CQE at byte offset {@code at} of {@code s}. */
    public static void put(final MemorySegment s, final long at, final int sqHead, final int cid, final int statusCode,
        final int phase)
    {
        s.asSlice(at, SIZE).fill((byte)0);
        s.set(SHORT, at + SQHD_OFFSET, (short)sqHead);
        s.set(SHORT, at + SQID_OFFSET, (short)0);
        s.set(SHORT, at + CID_OFFSET, (short)cid);
        s.set(SHORT, at + STATUS_OFFSET, (short)(statusCode << 1 | (phase & 1)));
    }

    public static int sqHead(final MemorySegment s, final long at)
    {
        return s.get(SHORT, at + SQHD_OFFSET) & 0xffff;
    }

    public static int cid(final MemorySegment s, final long at)
    {
        return s.get(SHORT, at + CID_OFFSET) & 0xffff;
    }

    /** @return the phase tag. */
    public static int phase(final MemorySegment s, final long at)
    {
        return s.get(SHORT, at + STATUS_OFFSET) & 1;
    }

    /** @return the status code and type (status field bits 15:1). */
    public static int status(final MemorySegment s, final long at)
    {
        return (s.get(SHORT, at + STATUS_OFFSET) & 0xffff) >>> 1;
    }
}
