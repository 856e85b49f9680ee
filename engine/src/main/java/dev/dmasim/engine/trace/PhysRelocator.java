package dev.dmasim.engine.trace;

import dev.dmasim.engine.DmaEngine;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.Zone;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Maps a trace's physical addresses onto the simulated machine, consistently, in 2 MiB blocks: a block that is
 * RAM in the simulated machine (and not the swiotlb pool) is kept; any other block is moved to a 2 MiB block of
 * RAM taken from the engine's page allocator, in the zone of the original address when possible (so a 32-bit
 * address stays below 4 GiB). Offsets within a block are preserved. Not thread-safe (one replay).
 *
 * <p>Kept blocks are not taken from the page allocator: the replay's coherent allocations and IOMMU page tables
 * may share them, which only matters if a bounce copy-back writes there (contents are not checked in a replay).
 */
final class PhysRelocator
{
    static final long BLOCK = 2L << 20;
    private static final int BLOCK_ORDER = 9;

    private final DmaEngine engine;
    private final Map<Long, Long> blocks = new HashMap<>();
    private final List<long[]> moved = new ArrayList<>();
    private int kept;
    private int crossings;

    PhysRelocator(final DmaEngine engine)
    {
        this.engine = engine;
    }

    /** @return where {@code [phys, phys+size)} of the trace lives in the simulated machine. */
    long map(final long phys, final long size)
    {
        final long b = phys & -BLOCK;
        final long nb = block(b);
        final long out = nb + (phys - b);
        final long lastBlock = (phys + Math.max(size, 1) - 1) & -BLOCK;
        for (long ob = b + BLOCK; Long.compareUnsigned(ob, lastBlock) <= 0 && ob != 0; ob += BLOCK)
        {
            if (block(ob) != nb + (ob - b))
            {
                crossings++;
                break;
            }
        }
        return out;
    }

    private long block(final long b)
    {
        final Long known = blocks.get(b);
        if (known != null)
        {
            return known;
        }
        final long target;
        if (b >= 0 && engine.memory().isRam(b, BLOCK) && !overlapsSwiotlb(b))
        {
            target = b;
            kept++;
        }
        else
        {
            final Zone zone = b >= 0 && b < (16L << 20) ? Zone.DMA : b >= 0 && b < (4L << 30) ? Zone.DMA32 : Zone.NORMAL;
            long p = engine.pages().allocPages(BLOCK_ORDER, zone);
            if (p == PageAllocator.NO_PAGE && zone != Zone.NORMAL)
            {
                p = engine.pages().allocPages(BLOCK_ORDER, Zone.NORMAL);
            }
            if (p == PageAllocator.NO_PAGE)
            {
                throw new IllegalStateException("no 2 MiB block of RAM left to relocate trace address 0x"
                    + Long.toHexString(b));
            }
            target = p;
            moved.add(new long[] { b, p });
        }
        blocks.put(b, target);
        return target;
    }

    private boolean overlapsSwiotlb(final long b)
    {
        final var s = engine.swiotlb();
        return s != null && (s.isSwiotlbBuffer(b) || s.isSwiotlbBuffer(b + BLOCK - 1));
    }

    /** @return blocks kept at their trace address. */
    int kept()
    {
        return kept;
    }

    /** @return {trace block, simulated block} pairs, in the order they were first needed. */
    List<long[]> moved()
    {
        return moved;
    }

    /** @return ranges that crossed into a block relocated elsewhere (replayed contiguously from their start). */
    int crossings()
    {
        return crossings;
    }
}
