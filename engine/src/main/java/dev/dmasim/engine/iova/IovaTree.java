package dev.dmasim.engine.iova;

import java.util.Arrays;

/**
 * The set of allocated IOVA ranges {@code [lo, hi]} (units: pfns, inclusive) of one {@link IovaDomain}, as an
 * AVL tree kept in one primitive array (no object per node), augmented so that the free space can be searched
 * in O(log n) whatever the fragmentation.
 *
 * <h2>Layout</h2>
 * Node {@code i} (1-based; {@link #NIL} = 0, an all-zero slot: height 0, no children, no gaps) is the stride
 * {@code [6i, 6i + 6)} of one {@code long[]}, so a node is one or two cache lines:
 * <pre>
 *   LO, HI     the range, inclusive
 *   PREV_HI    hi of the in-order predecessor, -1 for the lowest node: the node's own gap is the free run
 *              [PREV_HI + 1, LO - 1] just below it (for the lowest node, everything below it)
 *   MAX_FIT    max over the subtree's own gaps of fitKey(gap), see below
 *   MAX_GAP    max width of the subtree's own gaps
 *              (both leave out the lowest node's run: a top-down allocator keeps allocating just below the
 *              lowest range, and that run would change the augmentation of every node on the left spine;
 *              the search reaches it on the left spine, where no subtree lies inside the window)
 *   META       left child (bits 0..27), right child (bits 28..55), AVL height (bits 56..63)
 * </pre>
 * 48 bytes per node; a freed index goes on a free list threaded through the left child, so node indices are
 * stable for the lifetime of a range ({@link IovaDomain}'s cached nodes rely on that).
 *
 * <p>Each node carries the gap below it rather than its subtree's span, so a rotation never changes a node's
 * own gap and an insert or delete changes the own gap of exactly one other node (the successor), always on
 * the search path: updates walk that path upwards once and stop at the first node (at or above the
 * successor) whose height and augmentation come out unchanged. {@link #find} remembers its path, so the
 * {@link #successor} and {@link #remove} that {@link IovaDomain} does next do not descend again.
 *
 * <h2>The fit key</h2>
 * For a free run {@code [a, b]} let {@code o} be the largest order such that it contains a block of
 * {@code 2^o} pfns aligned to {@code 2^o}, and {@code u} the usable length once aligned to {@code 2^(o+1)}:
 * {@code b + 1 - alignUp(a, 2^(o+1))} (0 if negative). Then {@code fitKey = 2^(o+1) + u}, and a run holds
 * {@code s} pfns aligned to {@code 2^k} with {@code k = ceil(log2 s)} if and only if
 * {@code fitKey >= 2^k + s}: for {@code o >= k} the key is at least {@code 2^(k+1)}; for {@code o = k-1}
 * it is {@code 2^k + u}; for {@code o <= k-2} it is below {@code 2^k}. So the test is exact for every size,
 * power of two or not, and a subtree whose max key fails it is skipped in O(1). Unaligned requests use
 * {@code maxGap >= s}.
 *
 * <p>Not thread-safe: {@link IovaDomain} calls it under its tree lock.
 */
final class IovaTree
{
    static final int NIL = 0;
    private static final int STRIDE = 6;
    private static final int LO = 0;
    private static final int HI = 1;
    private static final int PREV_HI = 2;
    private static final int MAX_FIT = 3;
    private static final int MAX_GAP = 4;
    private static final int META = 5;
    static final int BYTES_PER_NODE = STRIDE * Long.BYTES;

    private static final int LINK_BITS = 28;
    private static final long LINK_MASK = (1L << LINK_BITS) - 1;
    private static final int HEIGHT_SHIFT = 56;
    private static final long HEIGHT_MASK = 0xFFL << HEIGHT_SHIFT;
    /** Most nodes a tree can hold (child links are 28 bits). */
    static final int MAX_NODES = (1 << LINK_BITS) - 1;
    /** An AVL tree of 2^28 nodes is at most 1.44 * 28 + 2 high. */
    private static final int MAX_DEPTH = 48;

    private long[] n;

    private int root = NIL;
    private int freeHead = NIL;
    private int nextUnused = 1;
    private int size;
    private long visits;

    // the root-to-node path of the last find(), valid until the tree changes
    private final int[] path = new int[MAX_DEPTH];
    private int pathNode = NIL;
    private int pathLen;

    // search arguments, set by search() (single-threaded under the domain's lock)
    private long sLow;
    private long sBound;
    private long sSize;
    private long sMask;
    private long sThreshold;
    private boolean sAligned;

    IovaTree(final int initialCapacity)
    {
        n = new long[Math.max(2, initialCapacity + 1) * STRIDE];
    }

    /** Drops every node. */
    void clear()
    {
        root = NIL;
        freeHead = NIL;
        nextUnused = 1;
        size = 0;
        pathNode = NIL;
    }

    int size()
    {
        return size;
    }

    int capacity()
    {
        return n.length / STRIDE - 1;
    }

    long visits()
    {
        return visits;
    }

    long lo(final int node)
    {
        return n[node * STRIDE + LO];
    }

    long hi(final int node)
    {
        return n[node * STRIDE + HI];
    }

    int root()
    {
        return root;
    }

    private int left(final int t)
    {
        return (int)(n[t * STRIDE + META] & LINK_MASK);
    }

    private int right(final int t)
    {
        return (int)((n[t * STRIDE + META] >>> LINK_BITS) & LINK_MASK);
    }

    private int h(final int t)
    {
        return (int)(n[t * STRIDE + META] >>> HEIGHT_SHIFT);
    }

    private void setLeft(final int t, final int child)
    {
        final int m = t * STRIDE + META;
        n[m] = (n[m] & ~LINK_MASK) | child;
    }

    private void setRight(final int t, final int child)
    {
        final int m = t * STRIDE + META;
        n[m] = (n[m] & ~(LINK_MASK << LINK_BITS)) | ((long)child << LINK_BITS);
    }

    /** @return the node whose range contains {@code pfn}, or {@link #NIL}; remembers the path to it. */
    int find(final long pfn)
    {
        final long[] a = n;
        int t = root;
        int depth = 0;
        while (t != NIL)
        {
            visits++;
            final int b = t * STRIDE;
            path[depth++] = t;
            if (pfn < a[b + LO])
            {
                t = (int)(a[b + META] & LINK_MASK);
            }
            else if (pfn > a[b + HI])
            {
                t = (int)((a[b + META] >>> LINK_BITS) & LINK_MASK);
            }
            else
            {
                pathNode = t;
                pathLen = depth;
                return t;
            }
        }
        pathNode = NIL;
        return NIL;
    }

    /** @return the lowest node with {@code hi >= pfn} (ranges are disjoint, so hi is sorted too), or NIL. */
    int ceilingByHi(final long pfn)
    {
        int t = root;
        int best = NIL;
        while (t != NIL)
        {
            visits++;
            if (hi(t) >= pfn)
            {
                best = t;
                t = left(t);
            }
            else
            {
                t = right(t);
            }
        }
        return best;
    }

    /** Sets {@link #path} to the root-to-{@code node} path (node last) unless it already is. */
    private void pathTo(final int node)
    {
        if (pathNode == node)
        {
            return;
        }
        final long key = lo(node);
        int t = root;
        int depth = 0;
        while (true)
        {
            visits++;
            path[depth++] = t;
            if (t == node)
            {
                break;
            }
            t = key < lo(t) ? left(t) : right(t);
        }
        pathNode = node;
        pathLen = depth;
    }

    /** @return the in-order successor of {@code node}, or {@link #NIL}. */
    int successor(final int node)
    {
        int t = right(node);
        if (t != NIL)
        {
            int l;
            while ((l = left(t)) != NIL)
            {
                visits++;
                t = l;
            }
            return t;
        }
        pathTo(node);
        final long key = lo(node);
        for (int i = pathLen - 2; i >= 0; i--)
        {
            final int a = path[i];
            if (key < lo(a))
            {
                return a;
            }
        }
        return NIL;
    }

    /** @return the lowest node, or NIL. */
    int first()
    {
        int t = root;
        if (t == NIL)
        {
            return NIL;
        }
        int l;
        while ((l = left(t)) != NIL)
        {
            t = l;
        }
        return t;
    }

    /** Inserts {@code [pfnLo, pfnHi]}, which must not overlap any node. @return the new node. */
    int insert(final long pfnLo, final long pfnHi)
    {
        final int nn = newNode();
        final long[] a = n;
        int t = root;
        int depth = 0;
        int pred = NIL;
        int succ = NIL;
        int succDepth = Integer.MAX_VALUE;
        while (t != NIL)
        {
            visits++;
            path[depth++] = t;
            final int b = t * STRIDE;
            if (pfnLo < a[b + LO])
            {
                succ = t;
                succDepth = depth - 1;
                t = (int)(a[b + META] & LINK_MASK);
            }
            else
            {
                pred = t;
                t = (int)((a[b + META] >>> LINK_BITS) & LINK_MASK);
            }
        }
        final int b = nn * STRIDE;
        final long prevHi = pred == NIL ? -1 : a[pred * STRIDE + HI];
        a[b + LO] = pfnLo;
        a[b + HI] = pfnHi;
        a[b + PREV_HI] = prevHi;
        a[b + MAX_FIT] = prevHi >= 0 ? fitKey(prevHi + 1, pfnLo - 1) : 0;
        a[b + MAX_GAP] = prevHi >= 0 ? pfnLo - 1 - prevHi : 0;
        a[b + META] = 1L << HEIGHT_SHIFT;
        if (succ != NIL)
        {
            a[succ * STRIDE + PREV_HI] = pfnHi;
        }
        if (depth == 0)
        {
            root = nn;
        }
        else
        {
            final int parent = path[depth - 1];
            if (pfnLo < a[parent * STRIDE + LO])
            {
                setLeft(parent, nn);
            }
            else
            {
                setRight(parent, nn);
            }
        }
        size++;
        pathNode = NIL;
        rebalanceUp(depth - 1, succDepth);
        return nn;
    }

    /** Removes {@code node}; the other nodes keep their indices. */
    void remove(final int node)
    {
        pathTo(node);
        final int dIdx = pathLen - 1;
        final long[] a = n;
        final int db = node * STRIDE;
        final long dMeta = a[db + META];
        final int l = (int)(dMeta & LINK_MASK);
        final int r = (int)((dMeta >>> LINK_BITS) & LINK_MASK);
        final long dPrevHi = a[db + PREV_HI];
        if (r == NIL)
        {
            // the successor, if any, is the nearest ancestor reached by going left
            final long key = a[db + LO];
            int sIdx = Integer.MAX_VALUE;
            for (int i = dIdx - 1; i >= 0; i--)
            {
                final int anc = path[i];
                if (key < lo(anc))
                {
                    a[anc * STRIDE + PREV_HI] = dPrevHi;
                    sIdx = i;
                    break;
                }
            }
            replaceChild(dIdx, node, l);
            release(node);
            rebalanceUp(dIdx - 1, sIdx);
            return;
        }
        // the successor s is the leftmost node of the right subtree: it takes node's place
        int depth = dIdx + 1;
        int s = r;
        int sl;
        while ((sl = left(s)) != NIL)
        {
            visits++;
            path[depth++] = s;
            s = sl;
        }
        visits++;
        if (s != r)
        {
            setLeft(path[depth - 1], right(s));
            setRight(s, r);
        }
        setLeft(s, l);
        a[s * STRIDE + PREV_HI] = dPrevHi;
        replaceChild(dIdx, node, s);
        path[dIdx] = s;
        release(node);
        rebalanceUp(s == r ? dIdx : depth - 1, dIdx);
    }

    /** Puts {@code child} where {@code old} (at {@code path[idx]}) hangs. */
    private void replaceChild(final int idx, final int old, final int child)
    {
        if (idx == 0)
        {
            root = child;
        }
        else
        {
            final int parent = path[idx - 1];
            if (left(parent) == old)
            {
                setLeft(parent, child);
            }
            else
            {
                setRight(parent, child);
            }
        }
    }

    private void release(final int node)
    {
        n[node * STRIDE + META] = freeHead;
        freeHead = node;
        size--;
        pathNode = NIL;
    }

    /** Lowers {@code node}'s lo to {@code newLo}, which must stay above its predecessor's hi. */
    void lowerLo(final int node, final long newLo)
    {
        pathTo(node);
        n[node * STRIDE + LO] = newLo;
        pathNode = NIL;
        rebalanceUp(pathLen - 1, pathLen - 1);
    }

    /**
     * Re-balances and re-augments {@code path[from]}, then its ancestors, stopping at the first one at or above
     * {@code path[mustReach]} whose subtree's height and augmentation are unchanged.
     */
    private void rebalanceUp(final int from, final int mustReach)
    {
        final long[] a = n;
        for (int i = from; i >= 0; i--)
        {
            final int t = path[i];
            final int b = t * STRIDE;
            final long oldFit = a[b + MAX_FIT];
            final long oldGap = a[b + MAX_GAP];
            final long oldH = a[b + META] & HEIGHT_MASK;
            final int nt = balance(t);
            final int nb = nt * STRIDE;
            if (nt != t)
            {
                replaceChild(i, t, nt);
            }
            if (i <= mustReach && a[nb + MAX_FIT] == oldFit && a[nb + MAX_GAP] == oldGap
                && (a[nb + META] & HEIGHT_MASK) == oldH)
            {
                return;
            }
        }
    }

    /**
     * Highest {@code p} with {@code p >= low}, {@code p + size <= bound}, {@code [p, p+size-1]} free and, when
     * {@code alignOrder > 0}, {@code p} a multiple of {@code 2^alignOrder}.
     *
     * @return p, or -1 if there is none.
     */
    long search(final long size, final int alignOrder, final boolean aligned, final long low, final long bound)
    {
        sLow = low;
        sBound = bound;
        sSize = size;
        sMask = -1L << alignOrder;
        sAligned = aligned;
        sThreshold = (1L << alignOrder) + size;
        if (root == NIL)
        {
            return fitRun(0, Long.MAX_VALUE - 1);
        }
        // the left spine starts below every window, so it is never "fully inside": the lowest node's run,
        // which the augmentation leaves out, is still looked at there, in order
        return search(root, Long.MIN_VALUE, Long.MAX_VALUE, false);
    }

    /**
     * @param gapsLo lowest pfn an own gap of the subtree can hold (just above its nearest left ancestor)
     * @param gapsHi highest pfn an own gap of the subtree can hold
     */
    private long search(final int t, final long gapsLo, final long gapsHi, final boolean inside)
    {
        if (t == NIL)
        {
            return -1;
        }
        visits++;
        boolean fullyInside = inside;
        if (!fullyInside)
        {
            if (gapsHi < sLow || gapsLo > sBound - sSize)
            {
                return -1;
            }
            fullyInside = gapsLo >= sLow && gapsHi < sBound;
        }
        final long[] a = n;
        final int b = t * STRIDE;
        if (fullyInside && !(sAligned ? a[b + MAX_FIT] >= sThreshold : a[b + MAX_GAP] >= sSize))
        {
            return -1;
        }
        final long meta = a[b + META];
        final int l = (int)(meta & LINK_MASK);
        final int r = (int)((meta >>> LINK_BITS) & LINK_MASK);
        final long lo = a[b + LO];
        final long prevHi = a[b + PREV_HI];
        if (r != NIL)
        {
            final long p = search(r, a[b + HI] + 1, gapsHi, fullyInside);
            if (p >= 0)
            {
                return p;
            }
        }
        final long p = fitRun(prevHi + 1, lo - 1);
        if (p >= 0)
        {
            return p;
        }
        return search(l, gapsLo, prevHi - 1, fullyInside);
    }

    /** Highest placement in the free run [a, b] clipped to the search window, or -1. */
    private long fitRun(final long a, final long b)
    {
        final long from = Math.max(a, sLow);
        final long to = Math.min(b, sBound - 1);
        final long top = to - sSize + 1;
        if (to < from || top < from)
        {
            return -1;
        }
        final long p = top & sMask;
        return p >= from ? p : -1;
    }

    static long fitKey(final long a, final long b)
    {
        final long width = b - a + 1;
        if (width <= 0)
        {
            return 0;
        }
        final int floorLog = 63 - Long.numberOfLeadingZeros(width);
        final long block = 1L << floorLog;
        final int order = alignUp(a, block) + block - 1 <= b ? floorLog : floorLog - 1;
        final long next = 1L << (order + 1);
        final long usable = b + 1 - alignUp(a, next);
        return next + Math.max(0, usable);
    }

    private static long alignUp(final long value, final long pow2)
    {
        return (value + pow2 - 1) & -pow2;
    }

    // ---------------------------------------------------------------- AVL mechanics

    private int newNode()
    {
        if (freeHead != NIL)
        {
            final int t = freeHead;
            freeHead = (int)(n[t * STRIDE + META] & LINK_MASK);
            return t;
        }
        if ((long)(nextUnused + 1) * STRIDE > n.length)
        {
            grow();
        }
        return nextUnused++;
    }

    private void grow()
    {
        final int nodes = n.length / STRIDE;
        if (nodes > MAX_NODES)
        {
            throw new IllegalStateException("IOVA tree full: " + MAX_NODES + " ranges");
        }
        final int capacity = (int)Math.min((long)MAX_NODES + 1, nodes + (nodes >> 1) + 16L);
        n = Arrays.copyOf(n, capacity * STRIDE);
    }

    private int balance(final int t)
    {
        update(t);
        final int l = left(t);
        final int r = right(t);
        final int bf = h(l) - h(r);
        if (bf > 1)
        {
            if (h(left(l)) < h(right(l)))
            {
                setLeft(t, rotateLeft(l));
            }
            return rotateRight(t);
        }
        if (bf < -1)
        {
            if (h(right(r)) < h(left(r)))
            {
                setRight(t, rotateRight(r));
            }
            return rotateLeft(t);
        }
        return t;
    }

    private int rotateRight(final int t)
    {
        final int l = left(t);
        setLeft(t, right(l));
        setRight(l, t);
        update(t);
        update(l);
        return l;
    }

    private int rotateLeft(final int t)
    {
        final int r = right(t);
        setRight(t, left(r));
        setLeft(r, t);
        update(t);
        update(r);
        return r;
    }

    /** Recomputes {@code t}'s height and augmentation from its own gap and its children (NIL's are zero). */
    private void update(final int t)
    {
        final long[] a = n;
        final int b = t * STRIDE;
        final long meta = a[b + META];
        final int lb = (int)(meta & LINK_MASK) * STRIDE;
        final int rb = (int)((meta >>> LINK_BITS) & LINK_MASK) * STRIDE;
        final long lo = a[b + LO];
        final long prevHi = a[b + PREV_HI];
        long fit = Math.max(a[lb + MAX_FIT], a[rb + MAX_FIT]);
        long gap = Math.max(a[lb + MAX_GAP], a[rb + MAX_GAP]);
        if (prevHi >= 0)
        {
            fit = Math.max(fit, fitKey(prevHi + 1, lo - 1));
            gap = Math.max(gap, lo - 1 - prevHi);
        }
        a[b + MAX_FIT] = fit;
        a[b + MAX_GAP] = gap;
        final long height = 1 + Math.max(a[lb + META] >>> HEIGHT_SHIFT, a[rb + META] >>> HEIGHT_SHIFT);
        a[b + META] = (meta & ~HEIGHT_MASK) | (height << HEIGHT_SHIFT);
    }

    /** Test hook: checks order, own gaps, augmentation and balance of the whole tree; @return node count. */
    int verify()
    {
        if (n[0] != 0 || n[1] != 0 || n[2] != 0 || n[3] != 0 || n[4] != 0 || n[5] != 0)
        {
            throw new IllegalStateException("NIL slot written");
        }
        prevVerified = -1;
        return verify(root);
    }

    private long prevVerified;

    private int verify(final int t)
    {
        if (t == NIL)
        {
            return 0;
        }
        final int nl = verify(left(t));
        final int b = t * STRIDE;
        final long keepFit = n[b + MAX_FIT];
        final long keepGap = n[b + MAX_GAP];
        final long keepMeta = n[b + META];
        update(t);
        if (keepFit != n[b + MAX_FIT] || keepGap != n[b + MAX_GAP] || keepMeta != n[b + META]
            || Math.abs(h(left(t)) - h(right(t))) > 1 || lo(t) > hi(t) || n[b + PREV_HI] != prevVerified
            || lo(t) <= prevVerified)
        {
            throw new IllegalStateException("corrupt node " + t + " [" + lo(t) + ", " + hi(t) + "]");
        }
        prevVerified = hi(t);
        return nl + 1 + verify(right(t));
    }
}
