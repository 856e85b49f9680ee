package dev.dmasim.engine.debug;

import dev.dmasim.engine.DmaDirection;

import java.util.Arrays;
import java.util.Objects;

/**
 * One dma-debug finding: what the kernel prints with {@code WARN(1, "DMA-API: <driver> <device>: ...")}
 * followed by "Mapped at:" and the stack saved when the entry was mapped. Addresses and sizes are bytes;
 * fields that do not apply to a {@link Kind} are 0, -1 (counts) or null. Immutable and thread-safe.
 *
 * @param kind       which check fired.
 * @param driver     the device's driver name.
 * @param device     the device name.
 * @param dmaAddress the device address the report names (the call's, or the entry's for
 *                   {@link Kind#SYNC_OUTSIDE_RANGE} and {@link Kind#LEAK_AT_RELEASE}; the segment's DMA
 *                   address for the sg segment checks).
 * @param mapSize    the size of the entry found (0 when none was found).
 * @param size       the size the call passed (sg segment checks: the CPU length for too-long, the DMA
 *                   length for across-boundary).
 * @param mapPhys    the entry's CPU physical address (0 when none was found).
 * @param phys       the CPU physical address the call passed (0 when it passed none).
 * @param mappedAs   the entry's type, null when no entry was found.
 * @param calledAs   the type of the call (unmap, free, sync), null for map-time checks.
 * @param mappedWith the entry's direction, null when no entry was found.
 * @param calledWith the direction the call passed, null when it passed none.
 * @param mapCount   the entry's sg {@code nents} ({@code sg_call_ents}), -1 when not applicable.
 * @param count      the call's sg {@code nents}, or the leaked-entry count; -1 when not applicable.
 * @param message    the kernel's text with the {@code "DMA-API: <driver> <device>: "} prefix, no trailing
 *                   newline.
 * @param mapStack   the stack saved when the entry was mapped (innermost first), null when no entry applies.
 */
public record DebugReport(
    Kind kind,
    String driver,
    String device,
    long dmaAddress,
    long mapSize,
    long size,
    long mapPhys,
    long phys,
    MappingType mappedAs,
    MappingType calledAs,
    DmaDirection mappedWith,
    DmaDirection calledWith,
    int mapCount,
    int count,
    String message,
    StackTraceElement[] mapStack)
{
    /** Every check dma-debug makes, in the order of reference §5.2. */
    public enum Kind
    {
        /** Unmap or free of {@code DMA_MAPPING_ERROR}. */
        FREE_INVALID_ADDRESS,
        /** Unmap or free of an address with no matching entry. */
        FREE_NOT_ALLOCATED,
        /** Unmap or free with a size other than the map's. */
        FREE_WRONG_SIZE,
        /** Unmapped with another function than it was mapped with (e.g. phy vs scatter-gather). */
        FREE_WRONG_FUNCTION,
        /** Coherent/noncoherent free with another CPU address than the allocation's. */
        FREE_WRONG_CPU_ADDRESS,
        /** {@code dma_unmap_sg} with another {@code nents} than {@code dma_map_sg}. */
        FREE_SG_COUNT,
        /** Unmap or free with another direction than the map's. */
        FREE_WRONG_DIRECTION,
        /** Unmap of a {@code dma_map_phys} mapping whose address never went through {@code dma_mapping_error}. */
        MAP_ERROR_NOT_CHECKED,
        /** Sync of a range no mapping of the device contains. */
        SYNC_NOT_ALLOCATED,
        /** Sync larger than the mapping (the kernel compares sizes only, not offset+size). */
        SYNC_OUTSIDE_RANGE,
        /** Sync with another direction than a non-bidirectional mapping's. */
        SYNC_WRONG_DIRECTION,
        /** Sync for the CPU of memory the device only reads. */
        SYNC_CPU_DEVICE_READ_ONLY,
        /** Sync for the device of memory the device only writes. */
        SYNC_DEVICE_WRITE_ONLY,
        /** {@code dma_sync_sg_*} with another {@code nelems} than {@code dma_map_sg}. */
        SYNC_SG_COUNT,
        /** {@code DMA_ATTR_MMIO} ({@code dma_map_resource}) of a RAM address. */
        MMIO_RAM,
        /** An sg entry longer than {@link DebugDevice#maxSegmentSize()}. */
        SG_SEGMENT_TOO_LONG,
        /** A mapped sg segment crossing {@link DebugDevice#segmentBoundary()}. */
        SG_SEGMENT_ACROSS_BOUNDARY,
        /** A device-writable mapping whose first cacheline is the first cacheline of another active one (EEXIST). */
        CACHELINE_OVERLAP,
        /** More than 7 overlapping mappings of one cacheline ({@code WARN_ONCE}; not in the error count). */
        CACHELINE_OVERLAP_LIMIT,
        /** The device was released with mappings or allocations still recorded. */
        LEAK_AT_RELEASE,
        /**
         * dmasim's own check (dma-debug has no hooks in the 2-step API): {@code iovaFree}/{@code iovaDestroy}
         * with a linked byte count different from what the call unlinks, e.g. destroy after a failed link.
         */
        IOVA_LINK_IMBALANCE
    }

    /** Copies {@code mapStack}. */
    public DebugReport
    {
        mapStack = mapStack == null ? null : mapStack.clone();
    }

    /** @return a copy of the stack saved at map time, innermost first; null when no entry applies. */
    @Override
    public StackTraceElement[] mapStack()
    {
        return mapStack == null ? null : mapStack.clone();
    }

    @Override
    public boolean equals(final Object o)
    {
        return this == o || (o instanceof final DebugReport r && kind == r.kind && dmaAddress == r.dmaAddress &&
            mapSize == r.mapSize && size == r.size && mapPhys == r.mapPhys && phys == r.phys &&
            mapCount == r.mapCount && count == r.count && mappedAs == r.mappedAs && calledAs == r.calledAs &&
            mappedWith == r.mappedWith && calledWith == r.calledWith && Objects.equals(driver, r.driver) &&
            Objects.equals(device, r.device) && Objects.equals(message, r.message) && Arrays.equals(mapStack, r.mapStack));
    }

    @Override
    public int hashCode()
    {
        return 31 * Objects.hashCode(message) + kind.hashCode();
    }

    /**
     * @return the kernel's full text: {@link #message()}, then, when an entry is known,
     * {@code "DMA-API: Mapped at:"} and one line per saved frame, each indented by one space.
     */
    @Override
    public String toString()
    {
        if (mapStack == null)
        {
            return message;
        }
        final StringBuilder sb = new StringBuilder(message.length() + 64 * (mapStack.length + 1));
        sb.append(message).append('\n').append(DmaDebug.PREFIX).append("Mapped at:");
        for (final StackTraceElement frame : mapStack)
        {
            sb.append("\n ").append(frame);
        }
        return sb.toString();
    }
}
