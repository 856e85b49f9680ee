/**
 * Internal: the software IO TLB ({@code kernel/dma/swiotlb.c}), the bounce-buffer pool that dma-direct and
 * dma-iommu fall back to when a device cannot reach a buffer directly. Not part of the driver-facing API.
 */
package dev.dmasim.engine.swiotlb;
