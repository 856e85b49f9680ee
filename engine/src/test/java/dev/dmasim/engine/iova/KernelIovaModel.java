package dev.dmasim.engine.iova;

import java.util.Map;
import java.util.TreeMap;

/**
 * Test oracle: the mainline rbtree {@code iova.c} allocator transcribed literally (linear top-down walk from the
 * cached node with rb_prev, retry from the limit, max32_alloc_size, cached-node updates, reserve merging),
 * over a TreeMap. Slow (O(n) per allocation) and obviously shaped like the kernel.
 */
final class KernelIovaModel
{
    static final class Node
    {
        long lo;
        long hi;

        Node(final long lo, final long hi)
        {
            this.lo = lo;
            this.hi = hi;
        }
    }

    private final TreeMap<Long, Node> nodes = new TreeMap<>();
    private final long startPfn;
    private final long dma32BitPfn;
    private final Node anchor = new Node(IovaDomain.ANCHOR_PFN, IovaDomain.ANCHOR_PFN);
    private Node cachedNode = anchor;
    private Node cached32Node = anchor;
    private long max32AllocSize;

    KernelIovaModel(final long granule, final long startPfn)
    {
        this.startPfn = startPfn;
        this.dma32BitPfn = 1L << (32 - Long.numberOfTrailingZeros(granule));
        this.max32AllocSize = dma32BitPfn;
        nodes.put(anchor.lo, anchor);
    }

    private Node rbPrev(final Node n)
    {
        final Map.Entry<Long, Node> e = nodes.lowerEntry(n.lo);
        return e == null ? null : e.getValue();
    }

    private Node rbNext(final Node n)
    {
        final Map.Entry<Long, Node> e = nodes.higherEntry(n.lo);
        return e == null ? null : e.getValue();
    }

    /** iova_find_limit(): a node at or above the limit to restart the walk from. */
    private Node findLimit(final long limitPfn)
    {
        if (limitPfn > dma32BitPfn)
        {
            return anchor;
        }
        final Map.Entry<Long, Node> e = nodes.floorEntry(limitPfn);
        if (e != null && e.getValue().hi >= limitPfn)
        {
            return e.getValue();
        }
        return nodes.higherEntry(limitPfn).getValue();
    }

    long alloc(final long size, final long limitPfnInclusive, final boolean sizeAligned)
    {
        final long limitPfn = limitPfnInclusive + 1;
        long alignMask = -1L;
        if (sizeAligned)
        {
            alignMask <<= 64 - Long.numberOfLeadingZeros(size - 1);
        }
        long highPfn = limitPfn;
        long lowPfn = startPfn;
        if (limitPfn <= dma32BitPfn && size >= max32AllocSize)
        {
            return 0;
        }
        Node curr = limitPfn <= dma32BitPfn ? cached32Node : cachedNode;
        final long retryPfn = curr.hi;
        long newPfn;
        while (true)
        {
            do
            {
                highPfn = Math.min(highPfn, curr.lo);
                newPfn = (highPfn - size) & alignMask;
                curr = rbPrev(curr);
            }
            while (curr != null && newPfn <= curr.hi && newPfn >= lowPfn);

            if (highPfn < size || newPfn < lowPfn)
            {
                if (lowPfn == startPfn && retryPfn < limitPfn)
                {
                    highPfn = limitPfn;
                    lowPfn = retryPfn + 1;
                    curr = findLimit(limitPfn);
                    continue;
                }
                max32AllocSize = size;
                return 0;
            }
            break;
        }
        final Node n = new Node(newPfn, newPfn + size - 1);
        nodes.put(n.lo, n);
        if (n.hi < dma32BitPfn)
        {
            cached32Node = n;
        }
        else
        {
            cachedNode = n;
        }
        return newPfn;
    }

    boolean free(final long pfn)
    {
        final Map.Entry<Long, Node> e = nodes.floorEntry(pfn);
        if (e == null || e.getValue().hi < pfn || e.getValue() == anchor)
        {
            return false;
        }
        final Node free = e.getValue();
        Node cached = cached32Node;
        if (free == cached || (free.hi < dma32BitPfn && free.lo >= cached.lo))
        {
            cached32Node = rbNext(free);
        }
        if (free.lo < dma32BitPfn)
        {
            max32AllocSize = dma32BitPfn;
        }
        cached = cachedNode;
        if (free.lo >= cached.lo)
        {
            cachedNode = rbNext(free);
        }
        nodes.remove(free.lo);
        return true;
    }

    boolean reserve(final long pfnLoIn, final long pfnHi)
    {
        long pfnLo = pfnLoIn;
        boolean overlap = false;
        for (Node node = nodes.firstEntry().getValue(); node != null; node = rbNext(node))
        {
            if (pfnLo <= node.hi && pfnHi >= node.lo)
            {
                if (pfnLo < node.lo)
                {
                    nodes.remove(node.lo);
                    node.lo = pfnLo;
                    nodes.put(node.lo, node);
                }
                if (pfnHi > node.hi)
                {
                    pfnLo = node.hi + 1;
                }
                if (pfnLo >= node.lo && pfnHi <= node.hi)
                {
                    return true;
                }
                overlap = true;
            }
            else if (overlap)
            {
                break;
            }
        }
        final Node n = new Node(pfnLo, pfnHi);
        nodes.put(n.lo, n);
        return true;
    }

    /** @return some live node's pfn near {@code pfn}, or -1. */
    long nearbyLivePfn(final long pfn, final long offsetSeed)
    {
        Map.Entry<Long, Node> e = nodes.floorEntry(pfn);
        if (e == null)
        {
            e = nodes.firstEntry();
        }
        final Node n = e.getValue();
        if (n == anchor)
        {
            return -1;
        }
        return n.lo + Math.floorMod(offsetSeed, n.hi - n.lo + 1);
    }

    int size()
    {
        return nodes.size() - 1;
    }

    long max32AllocSize()
    {
        return max32AllocSize;
    }
}
