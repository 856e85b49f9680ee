package dev.dmasim.engine.iova;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link IovaTree} on its own: structure (order, own gaps, augmentation, balance, parent links, finger) after
 * every operation against a {@link TreeMap} of the ranges, and the locality that keeps an alloc+free pair next
 * to the cached node from descending the tree.
 */
class IovaTreeTest
{
    private static final long SPACE = 1 << 16;

    @Test
    void shouldKeepStructureAndAnswersLikeASortedMapUnderRandomOperations()
    {
        for (long seed = 1; seed <= 12; seed++)
        {
            run(seed, 4000);
        }
    }

    private static void run(final long seed, final int ops)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final IovaTree tree = new IovaTree(2);
        final TreeMap<Long, long[]> model = new TreeMap<>(); // lo -> {hi, node}, without the anchor
        // as in IovaDomain, a range above the space: the run above the highest range is the anchor's own gap
        final int anchor = tree.insert(SPACE, SPACE);
        for (int i = 0; i < ops; i++)
        {
            final int op = rnd.nextInt(100);
            if (op < 45)
            {
                // search + insertBelow, the allocation path: the answer must be the highest free fit
                final long size = 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 40);
                final boolean aligned = rnd.nextInt(4) != 0;
                final int alignOrder = aligned ? IovaDomain.orderBase2(size) : 0;
                final long low = rnd.nextLong(SPACE / 4);
                final long bound = low + 1 + rnd.nextLong(SPACE - low); // <= SPACE, the anchor's lo
                final int hint = rnd.nextBoolean() ? IovaTree.NIL : randomNode(model, rnd, anchor);
                final long expected = highestFit(model, size, alignOrder, low, hint == IovaTree.NIL ? bound
                    : Math.min(bound, tree.lo(hint)));
                final long p = tree.search(size, alignOrder, aligned, low,
                    hint == IovaTree.NIL ? bound : Math.min(bound, tree.lo(hint)), hint);
                assertThat(p).as("seed %d op %d search", seed, i).isEqualTo(expected);
                if (p >= 0)
                {
                    final int node = tree.insertBelow(tree.fitNode(), p, p + size - 1);
                    model.put(p, new long[] { p + size - 1, node });
                }
            }
            else if (op < 55)
            {
                // plain insert from the root, as reserve does
                final long lo = rnd.nextLong(SPACE - 2); // hi < SPACE: below the anchor
                final long hi = lo + rnd.nextInt(3);
                if (free(model, lo, hi))
                {
                    model.put(lo, new long[] { hi, tree.insert(lo, hi) });
                }
            }
            else if (op < 90 && !model.isEmpty())
            {
                // find + successor + remove, the free path; often the range inserted last (the finger)
                final long pfn = rnd.nextInt(3) == 0 ? rnd.nextLong(SPACE) : randomPfn(model, rnd);
                // (pfn < SPACE: never the anchor)
                final Map.Entry<Long, long[]> e = model.floorEntry(pfn);
                final int expected = e != null && pfn <= e.getValue()[0] ? (int)e.getValue()[1] : IovaTree.NIL;
                final int node = tree.find(pfn);
                assertThat(node).as("seed %d op %d find(%d)", seed, i, pfn).isEqualTo(expected);
                if (node != IovaTree.NIL)
                {
                    final Map.Entry<Long, long[]> next = model.higherEntry(e.getKey());
                    assertThat(tree.successor(node)).as("seed %d op %d successor", seed, i)
                        .isEqualTo(next == null ? anchor : (int)next.getValue()[1]);
                    tree.remove(node);
                    model.remove(e.getKey());
                }
            }
            else if (!model.isEmpty())
            {
                // lowerLo, as reserve does when it overlaps a range from below
                final Map.Entry<Long, long[]> e = model.ceilingEntry(rnd.nextLong(SPACE));
                if (e != null)
                {
                    final Map.Entry<Long, long[]> below = model.lowerEntry(e.getKey());
                    final long floor = below == null ? 0 : below.getValue()[0] + 1;
                    if (floor < e.getKey())
                    {
                        final long newLo = e.getKey() - 1 - rnd.nextLong(Math.min(5, e.getKey() - floor));
                        tree.lowerLo((int)e.getValue()[1], newLo);
                        model.remove(e.getKey());
                        model.put(newLo, e.getValue());
                    }
                }
            }
            final int nodes;
            try
            {
                nodes = tree.verify();
            }
            catch (final IllegalStateException ex)
            {
                throw new AssertionError("seed " + seed + " op " + i + " (kind " + op + "): " + ex.getMessage(), ex);
            }
            assertThat(nodes).as("seed %d op %d size", seed, i).isEqualTo(model.size() + 1);
        }
    }

    @Test
    void shouldRejectAnInsertOutsideTheGapBelowTheGivenNode()
    {
        final IovaTree tree = new IovaTree(4);
        final int a = tree.insert(100, 109);
        final int b = tree.insert(200, 209);
        assertThatThrownBy(() -> tree.insertBelow(b, 105, 110)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> tree.insertBelow(b, 150, 200)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> tree.insertBelow(a, 110, 120)).isInstanceOf(IllegalStateException.class);
        assertThat(tree.verify()).isEqualTo(2);
        tree.insertBelow(b, 150, 199);
        assertThat(tree.verify()).isEqualTo(3);
    }

    /**
     * The kernel's pattern: a 64-pfn allocation that lands right below the cached node, then its free. Root
     * descents for find, search and insert would cost at least 3 * log2(n) visits (51 at 10^5); the cached
     * node's gap, the hang-below insert and the finger keep it to a small constant at every size.
     */
    @Test
    void shouldAllocateAndFreeNextToTheCachedNodeWithoutDescending()
    {
        for (final int live : new int[] { 1_000, 100_000 })
        {
            final IovaDomain domain = fragmented(live);
            final long limit = (1L << 36) - 1;
            final long first = domain.allocIovaFast(64, limit, false, 0);
            domain.freeIovaFast(first, 64, 0);
            long max = 0;
            for (int i = 0; i < 100; i++)
            {
                final long before = domain.nodeVisits();
                final long pfn = domain.allocIovaFast(64, limit, false, 0);
                domain.freeIovaFast(pfn, 64, 0);
                assertThat(pfn).isEqualTo(first);
                max = Math.max(max, domain.nodeVisits() - before);
            }
            assertThat(max).as("visits per 64-pfn pair at %d live ranges", live).isLessThanOrEqualTo(16);
            assertThat(domain.verifyTree()).isEqualTo(live + 1);
        }
    }

    /** IovaTreeBench's layout: 2 * live size-aligned ranges of 1..32 pfns top-down, every other one freed. */
    private static IovaDomain fragmented(final int live)
    {
        final IovaDomain d = new IovaDomain(4096, 1, 2);
        final SplittableRandom rnd = new SplittableRandom(42);
        final long[] pfns = new long[2 * live];
        for (int i = 0; i < pfns.length; i++)
        {
            pfns[i] = d.allocIova(1 + rnd.nextInt(32), (1L << 36) - 1, true);
        }
        for (int i = 0; i < pfns.length; i += 2)
        {
            d.freeIova(pfns[i]);
        }
        assertThat(d.liveRanges()).isEqualTo(live);
        return d;
    }

    private static int randomNode(final TreeMap<Long, long[]> model, final SplittableRandom rnd, final int anchor)
    {
        final Map.Entry<Long, long[]> e = model.ceilingEntry(rnd.nextLong(SPACE));
        return e == null ? anchor : (int)e.getValue()[1];
    }

    private static long randomPfn(final TreeMap<Long, long[]> model, final SplittableRandom rnd)
    {
        final Map.Entry<Long, long[]> e = model.ceilingEntry(rnd.nextLong(SPACE));
        final Map.Entry<Long, long[]> r = e != null ? e : model.firstEntry();
        return r.getKey() + rnd.nextLong(r.getValue()[0] - r.getKey() + 1);
    }

    private static boolean free(final TreeMap<Long, long[]> model, final long lo, final long hi)
    {
        final Map.Entry<Long, long[]> e = model.floorEntry(hi);
        return e == null || e.getValue()[0] < lo;
    }

    /** Brute force: the highest aligned p in [low, bound - size] whose range is free, or -1. */
    private static long highestFit(
        final TreeMap<Long, long[]> model, final long size, final int alignOrder, final long low, final long bound)
    {
        final long mask = -1L << alignOrder;
        long p = (bound - size) & mask;
        while (p >= low && p >= 0)
        {
            final Map.Entry<Long, long[]> e = model.floorEntry(p + size - 1);
            if (e == null || e.getValue()[0] < p)
            {
                return p;
            }
            // jump below the blocking range
            p = (e.getKey() - size) & mask;
        }
        return -1;
    }
}
