package dev.dmasim.bench.example.nvme;

/**
 * The controller's BAR 0, at the offsets of the NVMe specification (little-endian). Simplified: the one queue pair
 * is configured through the admin-queue registers (AQA/ASQ/ACQ) and takes NVM I/O commands directly; there is no
 * admin command set. Doorbells are 32-bit with a stride of 4 bytes (CAP.DSTRD = 0).
 * <pre>
 *   offset  name     width  meaning
 *   0x00    CAP      64     bits 15:0 MQES (largest queue size - 1); DSTRD = 0; MPSMIN = 0 (4 KiB pages)
 *   0x14    CC       32     bit 0 EN: 1 enables the controller (after AQA/ASQ/ACQ are set), 0 resets it
 *   0x1C    CSTS     32     bit 0 RDY: follows CC.EN once the controller has (re)started or stopped; bit 1 CFS
 *   0x24    AQA      32     bits 11:0 submission queue size - 1, bits 27:16 completion queue size - 1
 *   0x28    ASQ      64     bus address of the submission queue (64-byte entries, {@link NvmeCommand})
 *   0x30    ACQ      64     bus address of the completion queue (16-byte entries, {@link NvmeCompletion})
 *   0x1000  SQ0TDBL  32     submission queue tail doorbell: entries before it (mod size) are ready
 *   0x1004  CQ0HDBL  32     completion queue head doorbell: entries before it (mod size) are consumed
 * </pre>
 * Queue indexes wrap at the queue size; a queue is full when tail + 1 == head (one slot stays empty), as in the
 * specification. CSTS.RDY = 0 after CC.EN was cleared means the controller has stopped every DMA.
 */
public final class NvmeRegisters
{
    /** BAR 0 size, bytes. */
    public static final long BAR_SIZE = 8192;

    public static final long CAP = 0x00;
    public static final long CC = 0x14;
    public static final long CSTS = 0x1C;
    public static final long AQA = 0x24;
    public static final long ASQ = 0x28;
    public static final long ACQ = 0x30;
    public static final long SQ0TDBL = 0x1000;
    public static final long CQ0HDBL = 0x1004;

    /** CC.EN. */
    public static final int CC_EN = 1;
    /** CSTS.RDY. */
    public static final int CSTS_RDY = 1;
    /** CSTS.CFS: controller fatal status (it could not read a queue). */
    public static final int CSTS_CFS = 2;
    /** Largest queue the controller supports, entries. */
    public static final int MAX_QUEUE_ENTRIES = 1024;

    private NvmeRegisters()
    {
    }
}
