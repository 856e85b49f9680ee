package dev.dmasim.engine.iova;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Replays the allocations and frees of a real Linux 6.1 strict-mode, 1-CPU NVMe/VT-d trace through IovaDomain
 * exactly as dma-iommu calls iova.c, and demands the kernel's IOVA for every allocation.
 */
class KernelTraceReplayTest
{
    private static final long GRANULE = 4096;
    private static final int SHIFT = 12;
    private static final long DMA_BIT_MASK_32_PFN = 0xFFFF_FFFFL >>> SHIFT;
    private static final long DMA_BIT_MASK_64_PFN = -1L >>> SHIFT;

    private static IommuTrace trace;
    private static IovaOps ops;

    @BeforeAll
    static void load() throws IOException, URISyntaxException
    {
        final Path path = Path.of(KernelTraceReplayTest.class
            .getResource("/traces/linux-6.1-nvme-vtd-strict-1cpu.trace").toURI());
        trace = IommuTraceParser.parse(path);
        ops = trace.toIovaOps();
    }

    /** An allocator under test: alloc returns a pfn or 0, free takes what alloc returned. */
    interface Allocator
    {
        long alloc(long pages, long limitPfn, boolean flush);

        void free(long pfn, long pages);
    }

    @Test
    void shouldParseTheWholeTrace()
    {
        assertThat(trace.maps()).isEqualTo(1480);
        assertThat(trace.unmaps()).isEqualTo(370);
        assertThat(ops.unmatchedUnmaps()).isZero();
        assertThat(ops.allocations()).isEqualTo(370 + ops.neverFreed());
        assertThat(ops.neverFreed()).isEqualTo(8); // NVMe queues, PRP pool, one never-unmapped buffer
        for (int i = 0; i < ops.count(); i++)
        {
            assertThat(ops.iova(i) & (GRANULE - 1)).as("op %d iova page-aligned (no offset)", i).isZero();
            assertThat(ops.length(i) & (GRANULE - 1)).as("op %d length page-aligned", i).isZero();
        }
    }

    @Test
    void shouldReturnTheKernelsIovaForEveryAllocation()
    {
        final IovaDomain domain = new IovaDomain(GRANULE, 1, 1);
        final int[] divergence = replay(kernelLike(domain));
        assertThat(divergence[0]).as("first diverging op (index), of %d allocations", ops.allocations()).isEqualTo(-1);
        assertThat(divergence[1]).as("allocations checked").isEqualTo(ops.allocations());
        assertThat(domain.rcacheHits()).as("the magazine served reuses").isGreaterThan(100);
        domain.putDomain();
        assertThat(domain.liveRanges()).isZero();
    }

    @Test
    void shouldDivergeWithoutTheRcache()
    {
        final IovaDomain noCache = new IovaDomain(GRANULE, 1, 1);
        final int[] treeOnly = replay(new Allocator()
        {
            public long alloc(final long pages, final long limitPfn, final boolean flush)
            {
                return noCache.allocIova(roundSmall(pages), limitPfn, true);
            }

            public void free(final long pfn, final long pages)
            {
                noCache.freeIova(pfn);
            }
        });
        assertThat(treeOnly[0]).as("a tree-only allocator diverges early").isBetween(0, 100);

        // Dropping only the pow2 rounding is NOT observable on this trace (3-page ranges stay 4-aligned and the
        // pfn left above them is never reached), so the rounding is pinned by IovaRcacheTest instead.
    }

    private static long roundSmall(final long pages)
    {
        return pages < 32 && Long.bitCount(pages) != 1 ? Long.highestOneBit(pages) << 1 : pages;
    }

    private static Allocator kernelLike(final IovaDomain domain)
    {
        return new Allocator()
        {
            public long alloc(final long pages, final long limitPfn, final boolean flush)
            {
                return domain.allocIovaFast(pages, limitPfn, flush, 0);
            }

            public void free(final long pfn, final long pages)
            {
                domain.freeIovaFast(pfn, pages, 0);
            }
        };
    }

    /**
     * iommu_dma_alloc_iova() for a 64-bit PCI device: 32-bit limit first without flushing, then (for good) the
     * full width with flushing. @return {index of the first ALLOC op whose pfn differs or -1, allocations checked}
     */
    private static int[] replay(final Allocator allocator)
    {
        boolean sac = true;
        final long[] pfnOf = new long[ops.count()];
        final java.util.TreeMap<Long, Long> live = new java.util.TreeMap<>();
        int overlapAt = -1;
        int checked = 0;
        for (int i = 0; i < ops.count(); i++)
        {
            final long pages = ops.length(i) >>> SHIFT;
            if (ops.kind(i) == IovaOps.ALLOC)
            {
                long pfn = 0;
                if (sac)
                {
                    pfn = allocator.alloc(pages, DMA_BIT_MASK_32_PFN, false);
                }
                if (pfn == 0)
                {
                    sac = false;
                    pfn = allocator.alloc(pages, DMA_BIT_MASK_64_PFN, true);
                }
                pfnOf[i] = pfn;
                final java.util.Map.Entry<Long, Long> below = live.floorEntry(pfn + pages - 1);
                if (overlapAt < 0 && below != null && below.getValue() > pfn)
                {
                    overlapAt = i;
                }
                live.put(pfn, pfn + pages);
                if (pfn != ops.iova(i) >>> SHIFT)
                {
                    return new int[] { i, checked, overlapAt };
                }
                checked++;
            }
            else
            {
                allocator.free(pfnOf[ops.partner(i)], pages);
                live.remove(pfnOf[ops.partner(i)]);
            }
        }
        return new int[] { -1, checked, overlapAt };
    }
}
