package dev.dmasim.sim.bus;

/**
 * Told about every DMA transfer a {@link BusDevice} makes ({@link BusDevice#dmaRead}/{@link BusDevice#dmaWrite}),
 * after the bytes moved: once per burst when untranslated, once per translated page piece when behind an IOMMU
 * (and once for the piece that faulted). Used by checkers (ownership, missing syncs, use after unmap, lazy-IOTLB
 * exposure). Called on the device's thread; implementations must be thread-safe and must not block for long.
 */
@FunctionalInterface
public interface DmaObserver
{
    /**
     * @param dev      the device.
     * @param busAddr  the bus address of this piece.
     * @param phys     the physical address it reached, or -1 when the piece faulted before reaching memory.
     * @param len      bytes in the piece (the remaining bytes of the burst for a fault).
     * @param access   {@link Access#READ} or {@link Access#WRITE}.
     * @param memTx    the piece's result, a {@link dev.dmasim.sim.mem.MemTx} code.
     * @param staleHit true when the translation came from an IOTLB entry whose PTE had been unmapped but not yet
     *                 invalidated (the lazy-mode exposure window).
     */
    void onDeviceAccess(BusDevice dev, long busAddr, long phys, long len, int access, int memTx, boolean staleHit);
}
