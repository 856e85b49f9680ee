package dev.dmasim.engine.trace;

import dev.dmasim.engine.DmaDirection;

import java.util.Arrays;

/**
 * One parsed ftrace event of {@code include/trace/events/dma.h} or {@code include/trace/events/iommu.h}. Addresses
 * and sizes are bytes; a field the event does not print is -1 (addresses, sizes, counts), null or empty. Arrays
 * hold what the line printed, which may be fewer entries than the call had ({@link #truncated()}). Immutable
 * (the arrays are not copied: do not modify them).
 *
 * @param line           1-based line number in the input.
 * @param type           what the event records.
 * @param name           the event name as printed, e.g. {@code dma_map_page} for {@link Type#MAP}.
 * @param task           the task column.
 * @param pid            the pid column.
 * @param cpu            the CPU column.
 * @param timestampNanos the timestamp, nanoseconds.
 * @param device         {@code dev_name()}; null for {@code iommu:map/unmap}.
 * @param dir            the direction, null when absent or unknown (dma_alloc's is not assigned by the kernel).
 * @param attrs          {@code DMA_ATTR_*} bits (0 when printed empty), -1 when absent.
 * @param dma            {@code dma_addr} (first segment's for sg events); the IOVA for iommu events.
 * @param size           {@code size}; for {@code iommu:map/unmap} the {@code size=} field.
 * @param phys           {@code phys_addr}; {@code paddr} for {@code iommu:map}; derived from virt_addr for allocs
 *                       when it is a direct-map address.
 * @param virt           {@code virt_addr} when it printed as a number.
 * @param dmaAddrs       {@code dma_addrs} (for {@code dma_map_sg_err}: what the kernel prints under that name,
 *                       the entries' physical addresses, are in {@code physAddrs}).
 * @param sizes          {@code sizes} (DMA segment lengths).
 * @param physAddrs      {@code phys_addrs}.
 * @param nents          the call's {@code nents} (the full count when the line prints {@code nents=N/M}).
 * @param ents           the mapped segment count, -1 when not printed.
 * @param truncated      an array holds fewer entries than the call had ({@code [TRUNCATED]}, {@code N/M} with
 *                       N &lt; M, an array cut off by the end of the line, or {@code [LINE TOO BIG]}).
 * @param err            {@code err} of {@code dma_map_sg_err}, 0 otherwise.
 * @param unmappedSize   {@code unmapped_size} of {@code iommu:unmap}, -1 otherwise.
 */
public record TraceEvent(
    int line,
    Type type,
    String name,
    String task,
    int pid,
    int cpu,
    long timestampNanos,
    String device,
    DmaDirection dir,
    long attrs,
    long dma,
    long size,
    long phys,
    long virt,
    long[] dmaAddrs,
    long[] sizes,
    long[] physAddrs,
    int nents,
    int ents,
    boolean truncated,
    int err,
    long unmappedSize)
{
    /** Event kinds; {@link #names()} are the kernel event names parsed as each. */
    public enum Type
    {
        /** {@code dma_map_phys}, and the older {@code dma_map_page}, {@code dma_map_resource} (attrs gain MMIO). */
        MAP("dma_map_phys", "dma_map_page", "dma_map_resource"),
        /** {@code dma_unmap_phys}, {@code dma_unmap_page}, {@code dma_unmap_resource}. */
        UNMAP("dma_unmap_phys", "dma_unmap_page", "dma_unmap_resource"),
        MAP_SG("dma_map_sg"),
        MAP_SG_ERR("dma_map_sg_err"),
        UNMAP_SG("dma_unmap_sg"),
        SYNC_SINGLE_FOR_CPU("dma_sync_single_for_cpu"),
        SYNC_SINGLE_FOR_DEVICE("dma_sync_single_for_device"),
        SYNC_SG_FOR_CPU("dma_sync_sg_for_cpu"),
        SYNC_SG_FOR_DEVICE("dma_sync_sg_for_device"),
        ALLOC("dma_alloc"),
        FREE("dma_free"),
        ALLOC_PAGES("dma_alloc_pages"),
        FREE_PAGES("dma_free_pages"),
        ALLOC_SGT("dma_alloc_sgt"),
        ALLOC_SGT_ERR("dma_alloc_sgt_err"),
        FREE_SGT("dma_free_sgt"),
        /** {@code iommu:map}. */
        IOMMU_MAP("map"),
        /** {@code iommu:unmap}. */
        IOMMU_UNMAP("unmap"),
        /** {@code iommu:io_page_fault}. */
        IOMMU_FAULT("io_page_fault");

        private final String[] names;

        Type(final String... names)
        {
            this.names = names;
        }

        /** @return the event names this type stands for, the current kernel's first. */
        public String[] names()
        {
            return names.clone();
        }

        /** @return the type of event {@code name}, or null. */
        public static Type of(final String name)
        {
            for (final Type t : values())
            {
                for (final String n : t.names)
                {
                    if (n.equals(name))
                    {
                        return t;
                    }
                }
            }
            return null;
        }
    }

    @Override
    public String toString()
    {
        return "TraceEvent[line " + line + " " + name + " " + (device == null ? "" : device + " ") + "dir=" + dir
            + " dma=0x" + Long.toHexString(dma) + " size=" + size + " phys=0x" + Long.toHexString(phys)
            + (physAddrs == null ? "" : " phys_addrs=" + Arrays.toString(physAddrs)) + " nents=" + nents + " ents="
            + ents + (truncated ? " truncated" : "") + "]";
    }
}
