package dev.dmasim.engine.iova;

import java.util.Arrays;

/**
 * The set of allocated IOVA ranges {@code [lo, hi]} (units: pfns, inclusive) of one {@link IovaDomain}, as an
 * AVL tree kept in primitive arrays (no object per node), augmented so that the free space can be searched in
 * O(log n) whatever the fragmentation.
 *
 * <h2>Layout</h2>
 * Node {@code i} (1-based; {@link #NIL} = 0) is the column {@code i} of:
 * <pre>
 *   lo, hi        long  the range, inclusive
 *   minLo, maxHi  long  the lowest lo and highest hi in the subtree (its span)
 *   maxFit        long  max over the subtree's internal gaps of fitKey(gap), see below
 *   maxGap        long  max width of the subtree's internal gaps
 *   left, right   int   children
 *   height        byte  AVL height
 * </pre>
 * 57 bytes per node; a freed index goes on a free list threaded through {@code left}, so node indices are
 * stable for the lifetime of a range ({@link IovaDomain}'s cached nodes rely on that).
 *
 * <h2>The fit key</h2>
 * An internal gap of a subtree is the free run strictly between two in-order neighbours of that subtree. For a
 * free run {@code [a, b]} let {@code o} be the largest order such that it contains a block of {@code 2^o}
 * pfns aligned to {@code 2^o}, and {@code u} the usable length once aligned to {@code 2^(o+1)}:
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
    static final int BYTES_PER_NODE = 6 * Long.BYTES + 2 * Integer.BYTES + 1;

    private long[] lo;
    private long[] hi;
    private long[] minLo;
    private long[] maxHi;
    private long[] maxFit;
    private long[] maxGap;
    private int[] left;
    private int[] right;
    private byte[] height;

    private int root = NIL;
    private int freeHead = NIL;
    private int nextUnused = 1;
    private int size;
    private long visits;

    // search arguments, set by search() (single-threaded under the domain's lock)
    private long sLow;
    private long sBound;
    private long sSize;
    private long sMask;
    private long sThreshold;
    private boolean sAligned;
    // scratch for removeMin
    private int detached;

    IovaTree(final int initialCapacity)
    {
        allocateArrays(Math.max(2, initialCapacity + 1));
    }

    private void allocateArrays(final int capacity)
    {
        lo = new long[capacity];
        hi = new long[capacity];
        minLo = new long[capacity];
        maxHi = new long[capacity];
        maxFit = new long[capacity];
        maxGap = new long[capacity];
        left = new int[capacity];
        right = new int[capacity];
        height = new byte[capacity];
    }

    /** Drops every node. */
    void clear()
    {
        root = NIL;
        freeHead = NIL;
        nextUnused = 1;
        size = 0;
    }

    int size()
    {
        return size;
    }

    int capacity()
    {
        return lo.length - 1;
    }

    long visits()
    {
        return visits;
    }

    long lo(final int node)
    {
        return lo[node];
    }

    long hi(final int node)
    {
        return hi[node];
    }

    int root()
    {
        return root;
    }

    /** @return the node whose range contains {@code pfn}, or {@link #NIL}. */
    int find(final long pfn)
    {
        int t = root;
        while (t != NIL)
        {
            visits++;
            if (pfn < lo[t])
            {
                t = left[t];
            }
            else if (pfn > hi[t])
            {
                t = right[t];
            }
            else
            {
                return t;
            }
        }
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
            if (hi[t] >= pfn)
            {
                best = t;
                t = left[t];
            }
            else
            {
                t = right[t];
            }
        }
        return best;
    }

    /** @return the in-order successor of {@code node}, or {@link #NIL}. */
    int successor(final int node)
    {
        int t = right[node];
        if (t != NIL)
        {
            while (left[t] != NIL)
            {
                visits++;
                t = left[t];
            }
            return t;
        }
        final long key = lo[node];
        int best = NIL;
        t = root;
        while (t != node)
        {
            visits++;
            if (key < lo[t])
            {
                best = t;
                t = left[t];
            }
            else
            {
                t = right[t];
            }
        }
        return best;
    }

    /** @return the in-order predecessor of {@code node}, or {@link #NIL}. */
    int predecessor(final int node)
    {
        int t = left[node];
        if (t != NIL)
        {
            while (right[t] != NIL)
            {
                visits++;
                t = right[t];
            }
            return t;
        }
        final long key = lo[node];
        int best = NIL;
        t = root;
        while (t != node)
        {
            visits++;
            if (key < lo[t])
            {
                t = left[t];
            }
            else
            {
                best = t;
                t = right[t];
            }
        }
        return best;
    }

    /** @return the lowest node, or NIL. */
    int first()
    {
        int t = root;
        if (t == NIL)
        {
            return NIL;
        }
        while (left[t] != NIL)
        {
            t = left[t];
        }
        return t;
    }

    /** Inserts {@code [pfnLo, pfnHi]}, which must not overlap any node. @return the new node. */
    int insert(final long pfnLo, final long pfnHi)
    {
        final int n = newNode();
        lo[n] = pfnLo;
        hi[n] = pfnHi;
        left[n] = NIL;
        right[n] = NIL;
        update(n);
        root = insert(root, n);
        size++;
        return n;
    }

    /** Removes {@code node}; the other nodes keep their indices. */
    void remove(final int node)
    {
        root = remove(root, node);
        left[node] = freeHead;
        freeHead = node;
        size--;
    }

    /** Lowers {@code node}'s lo to {@code newLo}, which must stay above its predecessor's hi. */
    void lowerLo(final int node, final long newLo)
    {
        lo[node] = newLo;
        refreshPath(root, node);
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
        final long p = search(root, false);
        if (p >= 0)
        {
            return p;
        }
        return fitRun(0, minLo[root] - 1); // the run below the lowest node
    }

    private long search(final int t, final boolean inside)
    {
        if (t == NIL)
        {
            return -1;
        }
        visits++;
        boolean fullyInside = inside;
        if (!fullyInside)
        {
            // internal gaps lie strictly between minLo and maxHi
            if (maxHi[t] - 1 < sLow || minLo[t] + sSize >= sBound)
            {
                return -1;
            }
            fullyInside = minLo[t] + 1 >= sLow && maxHi[t] <= sBound;
        }
        if (fullyInside && !fits(t))
        {
            return -1;
        }
        final int r = right[t];
        final int l = left[t];
        long p = search(r, fullyInside);
        if (p >= 0)
        {
            return p;
        }
        if (r != NIL)
        {
            p = fitRun(hi[t] + 1, minLo[r] - 1);
            if (p >= 0)
            {
                return p;
            }
        }
        if (l != NIL)
        {
            p = fitRun(maxHi[l] + 1, lo[t] - 1);
            if (p >= 0)
            {
                return p;
            }
        }
        return search(l, fullyInside);
    }

    private boolean fits(final int t)
    {
        return sAligned ? maxFit[t] >= sThreshold : maxGap[t] >= sSize;
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
            final int n = freeHead;
            freeHead = left[n];
            return n;
        }
        if (nextUnused == lo.length)
        {
            grow();
        }
        return nextUnused++;
    }

    private void grow()
    {
        final int capacity = lo.length + (lo.length >> 1) + 16;
        lo = Arrays.copyOf(lo, capacity);
        hi = Arrays.copyOf(hi, capacity);
        minLo = Arrays.copyOf(minLo, capacity);
        maxHi = Arrays.copyOf(maxHi, capacity);
        maxFit = Arrays.copyOf(maxFit, capacity);
        maxGap = Arrays.copyOf(maxGap, capacity);
        left = Arrays.copyOf(left, capacity);
        right = Arrays.copyOf(right, capacity);
        height = Arrays.copyOf(height, capacity);
    }

    private int insert(final int t, final int n)
    {
        if (t == NIL)
        {
            return n;
        }
        visits++;
        if (lo[n] < lo[t])
        {
            left[t] = insert(left[t], n);
        }
        else
        {
            right[t] = insert(right[t], n);
        }
        return balance(t);
    }

    private int remove(final int t, final int node)
    {
        visits++;
        if (t == node)
        {
            final int l = left[t];
            final int r = right[t];
            if (l == NIL)
            {
                return r;
            }
            if (r == NIL)
            {
                return l;
            }
            final int newRight = removeMin(r);
            final int m = detached;
            left[m] = l;
            right[m] = newRight;
            return balance(m);
        }
        if (lo[node] < lo[t])
        {
            left[t] = remove(left[t], node);
        }
        else
        {
            right[t] = remove(right[t], node);
        }
        return balance(t);
    }

    private int removeMin(final int t)
    {
        visits++;
        if (left[t] == NIL)
        {
            detached = t;
            return right[t];
        }
        left[t] = removeMin(left[t]);
        return balance(t);
    }

    private void refreshPath(final int t, final int node)
    {
        if (t != node)
        {
            refreshPath(lo[node] < lo[t] ? left[t] : right[t], node);
        }
        update(t);
    }

    private int h(final int t)
    {
        return t == NIL ? 0 : height[t];
    }

    private int balance(final int t)
    {
        update(t);
        final int bf = h(left[t]) - h(right[t]);
        if (bf > 1)
        {
            final int l = left[t];
            if (h(left[l]) < h(right[l]))
            {
                left[t] = rotateLeft(l);
            }
            return rotateRight(t);
        }
        if (bf < -1)
        {
            final int r = right[t];
            if (h(right[r]) < h(left[r]))
            {
                right[t] = rotateRight(r);
            }
            return rotateLeft(t);
        }
        return t;
    }

    private int rotateRight(final int t)
    {
        final int l = left[t];
        left[t] = right[l];
        right[l] = t;
        update(t);
        update(l);
        return l;
    }

    private int rotateLeft(final int t)
    {
        final int r = right[t];
        right[t] = left[r];
        left[r] = t;
        update(t);
        update(r);
        return r;
    }

    private void update(final int t)
    {
        final int l = left[t];
        final int r = right[t];
        long fit = 0;
        long gap = 0;
        if (l != NIL)
        {
            minLo[t] = minLo[l];
            fit = Math.max(maxFit[l], fitKey(maxHi[l] + 1, lo[t] - 1));
            gap = Math.max(maxGap[l], lo[t] - 1 - maxHi[l]);
        }
        else
        {
            minLo[t] = lo[t];
        }
        if (r != NIL)
        {
            maxHi[t] = maxHi[r];
            fit = Math.max(fit, Math.max(maxFit[r], fitKey(hi[t] + 1, minLo[r] - 1)));
            gap = Math.max(gap, Math.max(maxGap[r], minLo[r] - 1 - hi[t]));
        }
        else
        {
            maxHi[t] = hi[t];
        }
        maxFit[t] = fit;
        maxGap[t] = gap;
        height[t] = (byte)(1 + Math.max(h(l), h(r)));
    }

    /** Test hook: checks order, augmentation and balance of the whole tree; @return node count. */
    int verify()
    {
        return verify(root, Long.MIN_VALUE);
    }

    private int verify(final int t, final long above)
    {
        if (t == NIL)
        {
            return 0;
        }
        final int nl = verify(left[t], above);
        final long keepFit = maxFit[t];
        final long keepGap = maxGap[t];
        final long keepMin = minLo[t];
        final long keepMax = maxHi[t];
        final byte keepH = height[t];
        update(t);
        if (keepFit != maxFit[t] || keepGap != maxGap[t] || keepMin != minLo[t] || keepMax != maxHi[t] ||
            keepH != height[t] || Math.abs(h(left[t]) - h(right[t])) > 1 || lo[t] > hi[t] ||
            (left[t] != NIL && maxHi[left[t]] >= lo[t]) || (right[t] != NIL && minLo[right[t]] <= hi[t]))
        {
            throw new IllegalStateException("corrupt node " + t + " [" + lo[t] + ", " + hi[t] + "]");
        }
        return nl + 1 + verify(right[t], above);
    }
}
