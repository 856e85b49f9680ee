package dev.dmasim.bench.example.nic;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Layout of one NIC ring descriptor, 16 bytes, little-endian, shared by the TX and RX rings (both live in coherent
 * memory from {@code Device.allocCoherent}). The driver writes a descriptor through the ring's CPU view
 * ({@code DmaBuffer.segment()}); the device reads it with {@code BusDevice.dmaRead} and writes its status back, bytes
 * 8..15 only, with {@code dmaWrite}.
 * <pre>
 *   0                               8               10      11      12              16
 *   +-------------------------------+---------------+-------+-------+---------------+
 *   |  buffer bus address (u64)     |  length (u16) |  cmd  | status| frame CRC32   |
 *   +-------------------------------+---------------+-------+-------+---------------+
 *   TX: driver: address, length, cmd = EOP; device writes back status (DD, ERR_*) and the CRC32 it sent.
 *   RX: driver: address (the buffer holds RX_BUF_SIZE bytes), zeros; device writes back the frame length,
 *       status and the CRC32 of the frame it received.
 * </pre>
 * A descriptor is the device's from the moment the driver's tail doorbell covers it until the device's head register
 * has moved past it; the driver reads status only for descriptors below the head it read (see {@code NicRegisters}).
 */
public final class NicDescriptor
{
    /** Bytes per descriptor. */
    public static final int SIZE = 16;
    /** Offset of the buffer's bus address. */
    public static final int ADDRESS_OFFSET = 0;
    /** Offset of the length. */
    public static final int LENGTH_OFFSET = 8;
    /** Offset of the command byte. */
    public static final int CMD_OFFSET = 10;
    /** Offset of the status byte. */
    public static final int STATUS_OFFSET = 11;
    /** Offset of the CRC32. */
    public static final int CRC_OFFSET = 12;
    /** Offset and length of the part the device writes back. */
    public static final int WRITEBACK_OFFSET = 8;
    /** Bytes the device writes back. */
    public static final int WRITEBACK_LENGTH = 8;

    /** cmd: end of packet (the only fragment of a frame). */
    public static final byte CMD_EOP = 0x01;
    /** status: descriptor done. */
    public static final byte STATUS_DD = 0x01;
    /** status: a DMA of the buffer faulted (IOMMU translation or permission fault). */
    public static final byte STATUS_ERR_DMA = 0x02;
    /** status: bad length (TX) or the frame did not fit the RX buffer. */
    public static final byte STATUS_ERR_LENGTH = 0x04;

    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NicDescriptor()
    {
    }

    /** Writes a whole descriptor at byte offset {@code at} of {@code s}. */
    public static void put(final MemorySegment s, final long at, final long address, final int length, final byte cmd)
    {
        s.set(LONG, at + ADDRESS_OFFSET, address);
        s.set(SHORT, at + LENGTH_OFFSET, (short)length);
        s.set(ValueLayout.JAVA_BYTE, at + CMD_OFFSET, cmd);
        s.set(ValueLayout.JAVA_BYTE, at + STATUS_OFFSET, (byte)0);
        s.set(INT, at + CRC_OFFSET, 0);
    }

    /** @return the buffer's bus address. */
    public static long address(final MemorySegment s, final long at)
    {
        return s.get(LONG, at + ADDRESS_OFFSET);
    }

    /** @return the length, bytes. */
    public static int length(final MemorySegment s, final long at)
    {
        return s.get(SHORT, at + LENGTH_OFFSET) & 0xffff;
    }

    /** @return the status byte. */
    public static int status(final MemorySegment s, final long at)
    {
        return s.get(ValueLayout.JAVA_BYTE, at + STATUS_OFFSET) & 0xff;
    }

    /** @return the CRC32 field. */
    public static int crc(final MemorySegment s, final long at)
    {
        return s.get(INT, at + CRC_OFFSET);
    }

    /** Device side: fills the write-back part (length, status, CRC32), cmd unchanged. */
    public static void writeBack(final MemorySegment s, final long at, final int length, final int status,
        final int crc)
    {
        s.set(SHORT, at + LENGTH_OFFSET, (short)length);
        s.set(ValueLayout.JAVA_BYTE, at + STATUS_OFFSET, (byte)status);
        s.set(INT, at + CRC_OFFSET, crc);
    }
}
