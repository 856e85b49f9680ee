package dev.dmasim.engine;

import java.lang.foreign.MemorySegment;

/**
 * A coherent or non-coherent DMA allocation: its physical address {@link #phys()}, the address the device
 * uses {@link #dma()}, its size in bytes (whole pages) and a CPU view {@link #segment()} of the RAM.
 * Immutable; the memory is valid until freed with the matching {@code Device.freeCoherent}/{@code freePages}.
 */
public record DmaBuffer(long phys, long dma, long size, MemorySegment segment, boolean coherent)
{
    @Override
    public String toString()
    {
        return (coherent ? "coherent" : "noncoherent") + " DmaBuffer[phys=0x" + Long.toHexString(phys) + ", dma=0x"
            + Long.toHexString(dma) + ", size=" + size + "]";
    }
}
