package dev.dmasim.engine.debug;

/**
 * The device side of a dma-debug entry: what {@code struct device} gives {@code kernel/dma/debug.c}.
 * Entries match devices by identity ({@code ==}), as the kernel compares {@code dev} pointers.
 * Implementations must be safe to call from any thread; the values may be read at every hook.
 */
public interface DebugDevice
{
    /** @return the driver name ({@code dev_driver_string}), first word of every report. */
    String driverName();

    /** @return the device name ({@code dev_name}), e.g. {@code "0000:03:00.0"}. */
    String deviceName();

    /** @return the largest sg segment (bytes) the device supports ({@code dma_get_max_seg_size}). */
    long maxSegmentSize();

    /** @return the segment boundary mask ({@code dma_get_seg_boundary}), e.g. {@code 0xFFFF_FFFFL}. */
    long segmentBoundary();

    /**
     * @return true if swiotlb is active for the device ({@code is_swiotlb_active}); used only with
     * {@link DmaDebug#bounceUnalignedKmalloc(boolean)} to suppress the cacheline-overlap report.
     */
    default boolean swiotlbActive()
    {
        return false;
    }
}
