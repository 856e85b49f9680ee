package dev.dmasim.engine.check;

import dev.dmasim.engine.DmaDirection;

import java.util.Arrays;

/**
 * One finding of the {@link DmaChecks} checkers: which rule a driver (or a device model) broke, on which mapping,
 * where it was mapped and where the offending access came from. Addresses and sizes are bytes; fields that do not
 * apply are -1 or null. Immutable and thread-safe (the stack arrays are not copied: do not modify them).
 *
 * @param kind            which check fired.
 * @param device          the device name (PCI BDF).
 * @param mappedAs        "single", "sg", "coherent", "pages", "resource" (an MMIO single mapping: {@code mapResource}
 *                        or {@code DMA_ATTR_MMIO}) or "iova" (one {@code dma_iova_link} of the 2-step API).
 * @param dma             the mapping's (first) DMA address.
 * @param phys            the mapping's (first) CPU physical address, as the driver passed it.
 * @param size            the mapping's size (the sum of its CPU ranges).
 * @param direction       the mapping's direction.
 * @param address         the address the offending access used: the dirty CPU line for
 *                        {@link Kind#MISSING_SYNC_FOR_DEVICE}, the CPU physical address for the CPU-side kinds, the
 *                        bus address (IOVA) for the other device-side kinds.
 * @param length          bytes of the offending access.
 * @param message         a one-line explanation naming the missing or misplaced call.
 * @param mapStack        the stack of the map (or alloc) call, innermost first.
 * @param accessStack     the stack of the offending access (the CPU thread, or the device model's thread).
 * @param unmapStack      the stack of the unmap, for {@link Kind#USE_AFTER_UNMAP} and {@link Kind#STALE_IOTLB_ACCESS}.
 * @param nanosSinceUnmap nanoseconds from the unmap to the access, for those two kinds; -1 otherwise.
 */
public record CheckReport(
    Kind kind,
    String device,
    String mappedAs,
    long dma,
    long phys,
    long size,
    DmaDirection direction,
    long address,
    long length,
    String message,
    StackTraceElement[] mapStack,
    StackTraceElement[] accessStack,
    StackTraceElement[] unmapStack,
    long nanosSinceUnmap)
{
    /** What went wrong. */
    public enum Kind
    {
        /**
         * A non-coherent device read a TO_DEVICE/BIDIRECTIONAL mapping while a CPU cache line of it was dirty: the
         * CPU's stores were never cleaned to memory ({@code dma_sync_single_for_device} missing, or a map with
         * SKIP_CPU_SYNC); the device read stale memory.
         */
        MISSING_SYNC_FOR_DEVICE,
        /**
         * The CPU read a FROM_DEVICE/BIDIRECTIONAL mapping after the device wrote it and before
         * {@code dma_sync_single_for_cpu} or the unmap: on a non-coherent machine it may read stale cache lines.
         */
        MISSING_SYNC_FOR_CPU,
        /** The CPU wrote a mapping the device owns (after map or sync-for-device, before sync-for-cpu or unmap). */
        CPU_WRITE_WHILE_DEVICE_OWNS,
        /** The device accessed a mapping the CPU owns (after sync-for-cpu, before sync-for-device). */
        DEVICE_ACCESS_WHILE_CPU_OWNS,
        /**
         * The device accessed the bus address of a mapping after it was unmapped: silent corruption without an
         * IOMMU, a fault in strict mode, a stale-IOTLB hit or a fault in lazy mode.
         */
        USE_AFTER_UNMAP,
        /** The access after unmap succeeded through a stale IOTLB entry (the lazy-mode exposure window). */
        STALE_IOTLB_ACCESS,
        /**
         * The device accessed a 2-step link ({@code dma_iova_link}) before a {@code dma_iova_sync} covered the
         * accessed granule: the kernel requires the IOTLB sync before use (hardware that caches non-present entries,
         * or walks page tables non-coherently, may fault or miss the new entries).
         */
        MISSING_IOVA_SYNC,
        /**
         * The device wrote a TO_DEVICE mapping or read a FROM_DEVICE one (any live mapping, MMIO included): silent
         * without an IOMMU (a write corrupts the CPU's buffer or the peer's registers), a permission fault behind one.
         */
        DEVICE_ACCESS_WRONG_DIRECTION
    }

    @Override
    public boolean equals(final Object o)
    {
        return this == o;
    }

    @Override
    public int hashCode()
    {
        return System.identityHashCode(this);
    }

    @Override
    public String toString()
    {
        final StringBuilder sb = new StringBuilder(message);
        appendStack(sb, "Mapped at:", mapStack);
        appendStack(sb, "Unmapped at:", unmapStack);
        appendStack(sb, "Accessed at:", accessStack);
        return sb.toString();
    }

    private static void appendStack(final StringBuilder sb, final String title, final StackTraceElement[] stack)
    {
        if (stack != null && stack.length > 0)
        {
            sb.append('\n').append(title);
            Arrays.stream(stack).forEach(f -> sb.append("\n  ").append(f));
        }
    }
}
