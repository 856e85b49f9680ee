package dev.dmasim.bench.example.nic;

/**
 * The NIC's BAR 0: 64-bit registers, little-endian. Ring indexes are free-running 64-bit counters (slot = index mod
 * ring length, as virtio's {@code idx}), so "empty" is {@code head == tail} and "full" is
 * {@code tail - head == length}.
 * <pre>
 *   offset  name         access  meaning
 *   0x00    CTRL         RW      bit 0 TX_EN, bit 1 RX_EN: the queues the device may run
 *   0x08    STATUS       RO      the enables the device acknowledged: a cleared bit means no DMA of that queue is in
 *                                flight nor will be (wait for it after clearing an enable, and after setting one)
 *   0x10    TX_BASE      RW      bus address of the TX ring; writing it (TX disabled) resets TX_HEAD and TX_TAIL to 0
 *   0x18    TX_LEN       RW      TX ring length in descriptors, a power of two
 *   0x20    TX_TAIL      RW      doorbell: descriptors below it are ready to transmit
 *   0x28    TX_HEAD      RO      descriptors below it are done (status written back)
 *   0x30    RX_BASE      RW      bus address of the RX ring; writing it (RX disabled) resets RX_HEAD and RX_TAIL
 *   0x38    RX_LEN       RW      RX ring length in descriptors, a power of two
 *   0x40    RX_TAIL      RW      doorbell: descriptors below it hold empty buffers the device may fill
 *   0x48    RX_HEAD      RO      descriptors below it are filled (status written back)
 *   0x50    RX_BUF_SIZE  RW      bytes of every RX buffer
 *   0x58    RX_DROPPED   RO      frames dropped because RX was disabled
 * </pre>
 * Reads of TX_HEAD and RX_HEAD are acquire loads of what the device published with release after writing the
 * descriptors back: a driver may trust every descriptor below the head it read.
 */
public final class NicRegisters
{
    /** BAR 0 size, bytes. */
    public static final long BAR_SIZE = 4096;

    public static final long CTRL = 0x00;
    public static final long STATUS = 0x08;
    public static final long TX_BASE = 0x10;
    public static final long TX_LEN = 0x18;
    public static final long TX_TAIL = 0x20;
    public static final long TX_HEAD = 0x28;
    public static final long RX_BASE = 0x30;
    public static final long RX_LEN = 0x38;
    public static final long RX_TAIL = 0x40;
    public static final long RX_HEAD = 0x48;
    public static final long RX_BUF_SIZE = 0x50;
    public static final long RX_DROPPED = 0x58;

    /** CTRL/STATUS: transmit queue enabled. */
    public static final long TX_EN = 1;
    /** CTRL/STATUS: receive queue enabled. */
    public static final long RX_EN = 2;

    private NicRegisters()
    {
    }
}
