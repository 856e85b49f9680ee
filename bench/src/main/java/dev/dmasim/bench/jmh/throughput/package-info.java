/**
 * Throughput of dmasim's paths, each with its baseline in the same run: the IOVA rcache and tree, swiotlb
 * bounce and its area locks, dma-iommu strict/lazy/sg, IOTLB-hit translation.
 */
package dev.dmasim.bench.jmh.throughput;
