package dev.dmasim.engine.core;

import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.ScatterList;

/**
 * {@code struct dma_map_ops}: one implementation per backend (dma-direct, dma-iommu). Arguments are
 * validated by {@code Device} before they get here; {@code cpu} is the caller's CPU slot. Addresses and
 * sizes are bytes. Implementations are thread-safe.
 */
public interface DmaOps
{
    /** @return the DMA address or {@code DMA_MAPPING_ERROR} (-1). */
    long mapPhys(DeviceContext d, long phys, long size, DmaDirection dir, long attrs, int cpu);

    void unmapPhys(DeviceContext d, long dma, long size, DmaDirection dir, long attrs, int cpu);

    /** @return mapped DMA segments (> 0) or a negative errno. */
    int mapSg(DeviceContext d, ScatterList sgl, int nents, DmaDirection dir, long attrs, int cpu);

    void unmapSg(DeviceContext d, ScatterList sgl, int nents, DmaDirection dir, long attrs, int cpu);

    void syncSingleForCpu(DeviceContext d, long dma, long size, DmaDirection dir);

    void syncSingleForDevice(DeviceContext d, long dma, long size, DmaDirection dir);

    void syncSgForCpu(DeviceContext d, ScatterList sgl, int nents, DmaDirection dir);

    void syncSgForDevice(DeviceContext d, ScatterList sgl, int nents, DmaDirection dir);

    /** Coherent ({@code dma_alloc_attrs}) or non-coherent ({@code dma_alloc_pages}) allocation; null on failure. */
    DmaBuffer alloc(DeviceContext d, long size, boolean coherent, DmaDirection dir, int cpu);

    void free(DeviceContext d, DmaBuffer buf, int cpu);

    /** {@code dma_supported}. */
    boolean supported(DeviceContext d, long mask);

    long requiredMask(DeviceContext d);

    long maxMappingSize(DeviceContext d);

    long optMappingSize(DeviceContext d);

    long mergeBoundary(DeviceContext d);

    /** {@code __dma_need_sync}: does a sync on this address do anything. */
    boolean needSync(DeviceContext d, long dma);

    /** 2-step API; dma-direct returns false. */
    boolean iovaTryAlloc(DeviceContext d, IovaState s, long phys, long size, int cpu);

    int iovaLink(DeviceContext d, IovaState s, long phys, long offset, long size, DmaDirection dir, long attrs, int cpu);

    int iovaSync(DeviceContext d, IovaState s, long offset, long size);

    void iovaUnlink(DeviceContext d, IovaState s, long offset, long size, DmaDirection dir, long attrs, int cpu);

    void iovaFree(DeviceContext d, IovaState s, int cpu);

    void iovaDestroy(DeviceContext d, IovaState s, long mappedLen, DmaDirection dir, long attrs, int cpu);
}
