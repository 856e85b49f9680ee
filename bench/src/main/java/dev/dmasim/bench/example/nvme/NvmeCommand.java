package dev.dmasim.bench.example.nvme;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A submission queue entry (SQE), 64 bytes, little-endian, as the NVMe specification lays out the NVM READ and WRITE
 * commands (fields the model does not use are left zero). The driver writes it into the submission queue in coherent
 * memory; the controller fetches it with {@code dmaRead}.
 * <pre>
 *   0      1      2       4        8                 24         32         40         48       52        64
 *   +------+------+-------+--------+-----------------+----------+----------+----------+--------+---------+
 *   | OPC  | FUSE | CID   | NSID   | (reserved,MPTR) | PRP1     | PRP2     | SLBA     | NLB    | (zero)  |
 *   |      | PSDT | (u16) | (u32)  |                 | (u64)    | (u64)    | CDW10-11 | CDW12  |         |
 *   +------+------+-------+--------+-----------------+----------+----------+----------+--------+---------+
 *   NLB is 0-based (0 = one block). Data pointer (PSDT = 0, PRPs), 4 KiB memory pages:
 *     PRP1  bus address of the first byte (may have an offset into its page);
 *     PRP2  unused if the transfer fits PRP1's page; the second page if it ends there; otherwise the bus address of
 *           a PRP list: 8-byte page addresses, page-aligned, whose last entry in a list page points to the next list
 *           page when more entries follow.
 * </pre>
 */
public final class NvmeCommand
{
    /** Bytes per SQE. */
    public static final int SIZE = 64;
    public static final int OPCODE_OFFSET = 0;
    public static final int CID_OFFSET = 2;
    public static final int NSID_OFFSET = 4;
    public static final int PRP1_OFFSET = 24;
    public static final int PRP2_OFFSET = 32;
    public static final int SLBA_OFFSET = 40;
    public static final int NLB_OFFSET = 48;

    /** NVM command set: WRITE. */
    public static final int OPC_WRITE = 0x01;
    /** NVM command set: READ. */
    public static final int OPC_READ = 0x02;

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NvmeCommand()
    {
    }

    /** Writes a READ or WRITE command at byte offset {@code at} of {@code s}; {@code blocks} is 1-based. */
    public static void put(final MemorySegment s, final long at, final int opcode, final int cid, final int nsid,
        final long prp1, final long prp2, final long slba, final int blocks)
    {
        s.asSlice(at, SIZE).fill((byte)0);
        s.set(ValueLayout.JAVA_BYTE, at + OPCODE_OFFSET, (byte)opcode);
        s.set(SHORT, at + CID_OFFSET, (short)cid);
        s.set(INT, at + NSID_OFFSET, nsid);
        s.set(LONG, at + PRP1_OFFSET, prp1);
        s.set(LONG, at + PRP2_OFFSET, prp2);
        s.set(LONG, at + SLBA_OFFSET, slba);
        s.set(SHORT, at + NLB_OFFSET, (short)(blocks - 1));
    }

    public static int opcode(final MemorySegment s, final long at)
    {
        return s.get(ValueLayout.JAVA_BYTE, at + OPCODE_OFFSET) & 0xff;
    }

    public static int cid(final MemorySegment s, final long at)
    {
        return s.get(SHORT, at + CID_OFFSET) & 0xffff;
    }

    public static int nsid(final MemorySegment s, final long at)
    {
        return s.get(INT, at + NSID_OFFSET);
    }

    public static long prp1(final MemorySegment s, final long at)
    {
        return s.get(LONG, at + PRP1_OFFSET);
    }

    public static long prp2(final MemorySegment s, final long at)
    {
        return s.get(LONG, at + PRP2_OFFSET);
    }

    public static long slba(final MemorySegment s, final long at)
    {
        return s.get(LONG, at + SLBA_OFFSET);
    }

    /** @return the number of blocks (NLB + 1). */
    public static int blocks(final MemorySegment s, final long at)
    {
        return (s.get(SHORT, at + NLB_OFFSET) & 0xffff) + 1;
    }
}
