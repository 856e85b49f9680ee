package dev.dmasim.sim.mem;

import java.util.function.LongConsumer;

/**
 * An ordered set of non-negative {@code long} keys stored as a 64-ary bitmap trie (a sparse bitmap): every
 * node holds a 64-bit occupancy mask, and an inner node holds only its non-empty children, packed
 * (child {@code i} sits at index {@code bitCount(mask & ((1L << i) - 1))}). Leaves are just masks.
 * <pre>
 *   level h-1 (root)   mask: which 64^(h-1)-key groups are non-empty, children packed
 *   ...
 *   level 0 (leaf)     mask: bit k set  &lt;=&gt;  key (prefix * 64 + k) is in the set
 * </pre>
 * {@link #add}, {@link #remove}, {@link #contains} and {@link #first} are O(height) with height =
 * ceil(log64(max key + 1)) (5 for 2^30 keys). Memory is proportional to the number of keys (times the
 * height in the worst, fully scattered case), and dense runs cost about one bit per key, never anything
 * proportional to the key range. Not thread-safe: callers lock.
 */
final class SparseLongSet
{
    private static final int BITS = 6;
    private static final int FANOUT_MASK = 63;
    private static final int MAX_HEIGHT = 11; // 6 * 11 = 66 > 63 bits of key

    /** Root node; {@code null} while empty. Its level is {@code height - 1}. */
    private Node root;
    private int height = 1;
    private long size;
    /** Scratch path for remove (avoids allocation). */
    private final Node[] path = new Node[MAX_HEIGHT];

    /** @return the number of keys. */
    long size()
    {
        return size;
    }

    boolean isEmpty()
    {
        return size == 0;
    }

    /** @return true if {@code key} is present. */
    boolean contains(final long key)
    {
        if (key < 0 || root == null || (height < MAX_HEIGHT && (key >>> (BITS * height)) != 0))
        {
            return false;
        }
        Node n = root;
        for (int level = height - 1; level > 0; level--)
        {
            final int digit = digit(key, level);
            if ((n.mask & (1L << digit)) == 0)
            {
                return false;
            }
            n = n.children[slot(n.mask, digit)];
        }
        return (n.mask & (1L << digit(key, 0))) != 0;
    }

    /**
     * Adds {@code key}.
     *
     * @return true if it was absent.
     */
    boolean add(final long key)
    {
        if (key < 0)
        {
            throw new IllegalArgumentException("negative key " + key);
        }
        while (height < MAX_HEIGHT && (key >>> (BITS * height)) != 0)
        {
            if (root != null)
            {
                final Node up = new Node(new Node[] { root });
                up.mask = 1L;
                root = up;
            }
            height++;
        }
        if (root == null)
        {
            root = new Node(height > 1 ? new Node[0] : null);
        }
        Node n = root;
        for (int level = height - 1; level > 0; level--)
        {
            final int digit = digit(key, level);
            final int slot = slot(n.mask, digit);
            if ((n.mask & (1L << digit)) == 0)
            {
                final Node child = new Node(level > 1 ? new Node[0] : null);
                n.insertChild(slot, digit, child);
                n = child;
            }
            else
            {
                n = n.children[slot];
            }
        }
        final long bit = 1L << digit(key, 0);
        if ((n.mask & bit) != 0)
        {
            return false;
        }
        n.mask |= bit;
        size++;
        return true;
    }

    /**
     * Removes {@code key}, pruning nodes that become empty.
     *
     * @return true if it was present.
     */
    boolean remove(final long key)
    {
        if (!contains(key))
        {
            return false;
        }
        Node n = root;
        for (int level = height - 1; level > 0; level--)
        {
            path[level] = n;
            n = n.children[slot(n.mask, digit(key, level))];
        }
        n.mask &= ~(1L << digit(key, 0));
        for (int level = 1; level < height && n.mask == 0; level++)
        {
            final Node parent = path[level];
            parent.removeChild(digit(key, level));
            path[level] = null;
            n = parent;
        }
        for (int level = 1; level < height; level++)
        {
            path[level] = null;
        }
        if (root.mask == 0)
        {
            root = null;
            height = 1;
        }
        size--;
        return true;
    }

    /** @return the smallest key, or -1 when empty. */
    long first()
    {
        if (root == null)
        {
            return -1;
        }
        Node n = root;
        long key = 0;
        for (int level = height - 1; level > 0; level--)
        {
            final int digit = Long.numberOfTrailingZeros(n.mask);
            key = (key << BITS) | digit;
            n = n.children[0];
        }
        return (key << BITS) | Long.numberOfTrailingZeros(n.mask);
    }

    /** Visits keys in ascending order. */
    void forEach(final LongConsumer action)
    {
        if (root != null)
        {
            visit(root, height - 1, 0, action);
        }
    }

    private static void visit(final Node n, final int level, final long prefix, final LongConsumer a)
    {
        long m = n.mask;
        int slot = 0;
        while (m != 0)
        {
            final int digit = Long.numberOfTrailingZeros(m);
            m &= m - 1;
            final long key = (prefix << BITS) | digit;
            if (level == 0)
            {
                a.accept(key);
            }
            else
            {
                visit(n.children[slot++], level - 1, key, a);
            }
        }
    }

    private static int digit(final long key, final int level)
    {
        final int shift = BITS * level;
        return shift >= 64 ? 0 : (int)(key >>> shift) & FANOUT_MASK;
    }

    private static int slot(final long mask, final int digit)
    {
        return Long.bitCount(mask & ((1L << digit) - 1));
    }

    private static final class Node
    {
        long mask;
        /** Packed non-empty children (inner nodes), or null (leaves). */
        Node[] children;

        Node(final Node[] children)
        {
            this.children = children;
        }

        void insertChild(final int slot, final int digit, final Node child)
        {
            final Node[] c = new Node[children.length + 1];
            System.arraycopy(children, 0, c, 0, slot);
            c[slot] = child;
            System.arraycopy(children, slot, c, slot + 1, children.length - slot);
            children = c;
            mask |= 1L << digit;
        }

        void removeChild(final int digit)
        {
            final int slot = slot(mask, digit);
            final Node[] c = new Node[children.length - 1];
            System.arraycopy(children, 0, c, 0, slot);
            System.arraycopy(children, slot + 1, c, slot, c.length - slot);
            children = c;
            mask &= ~(1L << digit);
        }
    }
}
