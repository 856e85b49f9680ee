package dev.dmasim.engine.iova;

import java.util.Arrays;

/**
 * The set of allocated IOVA ranges {@code [lo, hi]} (units: pfns, inclusive) of one {@link IovaDomain}, as an
 * AVL tree with parent links kept in one primitive array (no object per node), augmented so that the free
 * space can be searched in O(log n) whatever the fragmentation.
 *
 * <h2>Layout</h2>
 * Node {@code i} (1-based; {@link #NIL} = 0, an all-zero slot that is never written: height 0, no children,
 * no gaps) is the stride {@code [6 + 8i, 14 + 8i)} of one {@code long[]}, 64 bytes (see {@link #PAD}):
 * <pre>
 *   LO, HI     the range, inclusive
 *   PREV_HI    hi of the in-order predecessor, -1 for the lowest node: the node's own gap is the free run
 *              [PREV_HI + 1, LO - 1] just below it (for the lowest node, everything below it)
 *   OWN_FIT    fitKey(own gap), 0 for the lowest node; kept with PREV_HI so re-augmenting never recomputes it
 *   MAX_FIT    max over the subtree's own gaps of fitKey(gap), see below
 *   MAX_GAP    max width of the subtree's own gaps
 *              (all three leave out the lowest node's run: a top-down allocator keeps allocating just below the
 *              lowest range, and that run would change the augmentation of every node on the left spine;
 *              the search reaches it on the left spine, where no subtree lies inside the window)
 *   META       left child (bits 0..27), right child (bits 28..55), AVL height (bits 56..63)
 *   PARENT     parent node, NIL for the root
 * </pre>
 * A freed index goes on a free list threaded through the left child, so node indices are stable for the
 * lifetime of a range ({@link IovaDomain}'s cached nodes rely on that).
 *
 * <p>Each node carries the gap below it rather than its subtree's span, so a rotation never changes a node's
 * own gap and an insert or delete changes the own gap of exactly one other node (the successor), which is an
 * ancestor of the place where the tree changes. Updates walk the parent links upwards from that place and stop
 * after the first node at or above the successor whose height comes out unchanged and whose maxima leave its
 * parent's as they are (unchanged, or neither the parent's maximum before nor above it after).
 *
 * <h2>Locality, as the kernel's cached node gives it</h2>
 * The parent links make every update start where the tree changes instead of at the root:
 * <ul>
 * <li>{@link #search} with a hint node (the domain's cached node) first tries the hint's own gap, which is the
 * highest free run below it: when the answer lies there (the kernel's allocation that fits right below its
 * cached node), the search is O(1);</li>
 * <li>{@link #insertBelow} links the new range as the in-order predecessor of the node whose own gap the last
 * search answered from ({@link #fitNode()}): no descent from the root;</li>
 * <li>{@link #find} first tries the last inserted node (a finger), so freeing the range allocated last does not
 * descend; {@link #successor} and {@link #remove} follow links, O(1) amortized.</li>
 * </ul>
 * Every operation stays O(log n) in the worst case.
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
 * <p>Not thread-safe: {@link IovaDomain} calls it under its tree lock (single writer, no reader outside it).
 */
final class IovaTree
{
    static final int NIL = 0;
    private static final int STRIDE = 8;
    /**
     * Longs before node 0, so that with a 16-byte array header node {@code i} starts at byte {@code 64 (i + 1)}
     * of the array: one cache line per node when the array starts on a line (G1 puts humongous arrays, those of
     * large trees, at a region start); otherwise a node spans two lines, which costs time, not correctness.
     */
    private static final int PAD = 6;
    private static final int LO = PAD;
    private static final int HI = PAD + 1;
    private static final int PREV_HI = PAD + 2;
    private static final int OWN_FIT = PAD + 3;
    private static final int MAX_FIT = PAD + 4;
    private static final int MAX_GAP = PAD + 5;
    private static final int META = PAD + 6;
    private static final int PARENT = PAD + 7;
    static final int BYTES_PER_NODE = STRIDE * Long.BYTES;

    private static final int LINK_BITS = 28;
    private static final long LINK_MASK = (1L << LINK_BITS) - 1;
    private static final int HEIGHT_SHIFT = 56;
    private static final long HEIGHT_MASK = 0xFFL << HEIGHT_SHIFT;
    /** Most nodes a tree can hold (child links are 28 bits). */
    static final int MAX_NODES = (1 << LINK_BITS) - 1;

    private long[] n;

    private int root = NIL;
    private int freeHead = NIL;
    private int nextUnused = 1;
    private int size;
    private long visits;

    /** The last inserted node while it lives, else NIL: {@link #find} tries it first. */
    private int finger = NIL;
    /** The node whose own gap held the last successful {@link #search}'s answer, NIL for an empty tree. */
    private int fitNode = NIL;

    // search arguments, set by search() (single-threaded under the domain's lock)
    private long sLow;
    private long sBound;
    private long sSize;
    private long sMask;
    private long sThreshold;
    private boolean sAligned;

    IovaTree(final int initialCapacity)
    {
        n = new long[PAD + Math.max(2, initialCapacity + 1) * STRIDE];
    }

    /** Drops every node. */
    void clear()
    {
        root = NIL;
        freeHead = NIL;
        nextUnused = 1;
        size = 0;
        finger = NIL;
        fitNode = NIL;
    }

    int size()
    {
        return size;
    }

    int capacity()
    {
        return (n.length - PAD) / STRIDE - 1;
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

    /** @return the node whose own gap held the last successful {@link #search}'s answer; see {@link #insertBelow}. */
    int fitNode()
    {
        return fitNode;
    }

    private int left(final int t)
    {
        return (int)(n[t * STRIDE + META] & LINK_MASK);
    }

    private int right(final int t)
    {
        return (int)((n[t * STRIDE + META] >>> LINK_BITS) & LINK_MASK);
    }

    private int parent(final int t)
    {
        return (int)n[t * STRIDE + PARENT];
    }

    private int h(final int t)
    {
        return (int)(n[t * STRIDE + META] >>> HEIGHT_SHIFT);
    }

    /** Sets {@code t}'s left child and, unless it is NIL, the child's parent. */
    private void linkLeft(final int t, final int child)
    {
        final int m = t * STRIDE + META;
        n[m] = (n[m] & ~LINK_MASK) | child;
        if (child != NIL)
        {
            n[child * STRIDE + PARENT] = t;
        }
    }

    /** Sets {@code t}'s right child and, unless it is NIL, the child's parent. */
    private void linkRight(final int t, final int child)
    {
        final int m = t * STRIDE + META;
        n[m] = (n[m] & ~(LINK_MASK << LINK_BITS)) | ((long)child << LINK_BITS);
        if (child != NIL)
        {
            n[child * STRIDE + PARENT] = t;
        }
    }

    /** Puts {@code child} where {@code old}, a child of {@code parent} (NIL: the root), hangs. */
    private void replaceChild(final int parent, final int old, final int child)
    {
        if (parent == NIL)
        {
            root = child;
            if (child != NIL)
            {
                n[child * STRIDE + PARENT] = NIL;
            }
        }
        else if (left(parent) == old)
        {
            linkLeft(parent, child);
        }
        else
        {
            linkRight(parent, child);
        }
    }

    /** @return the node whose range contains {@code pfn}, or {@link #NIL}. */
    int find(final long pfn)
    {
        final long[] a = n;
        final int f = finger;
        if (f != NIL && pfn >= a[f * STRIDE + LO] && pfn <= a[f * STRIDE + HI])
        {
            visits++;
            return f;
        }
        int t = root;
        while (t != NIL)
        {
            visits++;
            final int b = t * STRIDE;
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
        return leftAncestor(node);
    }

    /** @return the nearest ancestor of {@code node} that holds it in its left subtree, or NIL. */
    private int leftAncestor(final int node)
    {
        int c = node;
        int p = parent(c);
        while (p != NIL && right(p) == c)
        {
            visits++;
            c = p;
            p = parent(p);
        }
        return p;
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

    /** Inserts {@code [pfnLo, pfnHi]}, which must not overlap any node, descending from the root. @return the new node. */
    int insert(final long pfnLo, final long pfnHi)
    {
        final long[] a = n;
        int t = root;
        int parent = NIL;
        int pred = NIL;
        int succ = NIL;
        boolean asLeft = false;
        while (t != NIL)
        {
            visits++;
            parent = t;
            final int b = t * STRIDE;
            if (pfnLo < a[b + LO])
            {
                succ = t;
                asLeft = true;
                t = (int)(a[b + META] & LINK_MASK);
            }
            else
            {
                pred = t;
                asLeft = false;
                t = (int)((a[b + META] >>> LINK_BITS) & LINK_MASK);
            }
        }
        final long prevHi = pred == NIL ? -1 : a[pred * STRIDE + HI];
        return link(parent, asLeft, succ, prevHi, pfnLo, pfnHi);
    }

    /**
     * Inserts {@code [pfnLo, pfnHi]} as the in-order predecessor of {@code succ}: the range must lie in
     * {@code succ}'s own gap (as a {@link #search} answer found in {@link #fitNode()}'s gap does). No descent
     * from the root: the new node hangs at the bottom of {@code succ}'s left subtree.
     *
     * @param succ the node just above the new range, or NIL to insert from the root.
     * @return the new node.
     */
    int insertBelow(final int succ, final long pfnLo, final long pfnHi)
    {
        if (succ == NIL)
        {
            return insert(pfnLo, pfnHi);
        }
        final long[] a = n;
        final int sb = succ * STRIDE;
        final long prevHi = a[sb + PREV_HI];
        if (pfnLo <= prevHi || pfnLo > pfnHi || pfnHi >= a[sb + LO])
        {
            throw new IllegalStateException("[" + pfnLo + ", " + pfnHi + "] is not in the gap below node " + succ);
        }
        visits++;
        int t = (int)(a[sb + META] & LINK_MASK);
        if (t == NIL)
        {
            return link(succ, true, succ, prevHi, pfnLo, pfnHi);
        }
        int r;
        while ((r = (int)((a[t * STRIDE + META] >>> LINK_BITS) & LINK_MASK)) != NIL)
        {
            visits++;
            t = r;
        }
        visits++;
        return link(t, false, succ, prevHi, pfnLo, pfnHi);
    }

    /** Hangs a new leaf under {@code parent} (NIL: as the root), fixes its successor's gap, re-balances. */
    private int link(
        final int parent, final boolean asLeft, final int succ, final long prevHi, final long pfnLo, final long pfnHi)
    {
        final int nn = newNode();
        final long[] a = n;
        final int b = nn * STRIDE;
        a[b + LO] = pfnLo;
        a[b + HI] = pfnHi;
        setPrevHi(nn, prevHi);
        a[b + MAX_FIT] = a[b + OWN_FIT];
        a[b + MAX_GAP] = prevHi >= 0 ? pfnLo - 1 - prevHi : 0;
        a[b + META] = 1L << HEIGHT_SHIFT;
        a[b + PARENT] = parent;
        if (succ != NIL)
        {
            setPrevHi(succ, pfnHi);
        }
        size++;
        finger = nn;
        if (parent == NIL)
        {
            root = nn;
            return nn;
        }
        if (asLeft)
        {
            linkLeft(parent, nn);
        }
        else
        {
            linkRight(parent, nn);
        }
        rebalanceUp(parent, succ);
        return nn;
    }

    /** Removes {@code node}; the other nodes keep their indices. */
    void remove(final int node)
    {
        final long[] a = n;
        final int db = node * STRIDE;
        final long dMeta = a[db + META];
        final int l = (int)(dMeta & LINK_MASK);
        final int r = (int)((dMeta >>> LINK_BITS) & LINK_MASK);
        final int p = (int)a[db + PARENT];
        final long dPrevHi = a[db + PREV_HI];
        if (r == NIL)
        {
            // the successor, if any, is the nearest ancestor holding node in its left subtree
            final int succ = leftAncestor(node);
            if (succ != NIL)
            {
                setPrevHi(succ, dPrevHi);
            }
            replaceChild(p, node, l);
            release(node);
            rebalanceUp(p, succ);
            return;
        }
        // the successor s is the leftmost node of the right subtree: it takes node's place
        int s = r;
        int sl;
        while ((sl = left(s)) != NIL)
        {
            visits++;
            s = sl;
        }
        visits++;
        final int from;
        if (s != r)
        {
            from = parent(s);
            linkLeft(from, right(s));
            linkRight(s, r);
        }
        else
        {
            from = s;
        }
        linkLeft(s, l);
        setPrevHi(s, dPrevHi);
        // s inherits node's height and maxima as its "before" values: the walk up compares against what the
        // ancestors were computed from, so it cannot stop early on s's stale values from its old place
        final int sb = s * STRIDE;
        a[sb + MAX_FIT] = a[db + MAX_FIT];
        a[sb + MAX_GAP] = a[db + MAX_GAP];
        a[sb + META] = (a[sb + META] & ~HEIGHT_MASK) | (dMeta & HEIGHT_MASK);
        replaceChild(p, node, s);
        release(node);
        rebalanceUp(from, s);
    }

    /** Sets {@code t}'s own gap to start above {@code prevHi} (-1: t is the lowest node, its run left out). */
    private void setPrevHi(final int t, final long prevHi)
    {
        final int b = t * STRIDE;
        n[b + PREV_HI] = prevHi;
        n[b + OWN_FIT] = prevHi >= 0 ? fitKey(prevHi + 1, n[b + LO] - 1) : 0;
    }

    private void release(final int node)
    {
        n[node * STRIDE + META] = freeHead;
        freeHead = node;
        size--;
        if (finger == node)
        {
            finger = NIL;
        }
        if (fitNode == node)
        {
            fitNode = NIL;
        }
    }

    /** Lowers {@code node}'s lo to {@code newLo}, which must stay above its predecessor's hi. */
    void lowerLo(final int node, final long newLo)
    {
        n[node * STRIDE + LO] = newLo;
        setPrevHi(node, n[node * STRIDE + PREV_HI]);
        rebalanceUp(node, node);
    }

    /**
     * Re-balances and re-augments {@code from}, then its ancestors, stopping after the first one at or above
     * {@code mustReach} (an ancestor of {@code from}, or {@code from} itself; NIL: no such bound) whose
     * subtree's height is unchanged and whose maxima change nothing in its parent.
     */
    private void rebalanceUp(final int from, final int mustReach)
    {
        final long[] a = n;
        boolean reached = mustReach == NIL;
        int t = from;
        while (t != NIL)
        {
            visits++;
            final int up = (int)a[t * STRIDE + PARENT];
            final int b = t * STRIDE;
            final long oldFit = a[b + MAX_FIT];
            final long oldGap = a[b + MAX_GAP];
            final long oldH = a[b + META] & HEIGHT_MASK;
            reached |= t == mustReach;
            final int nt = balance(t);
            if (nt != t)
            {
                replaceChild(up, t, nt);
            }
            final int nb = nt * STRIDE;
            if (reached && (a[nb + META] & HEIGHT_MASK) == oldH
                && parentKeeps(up, oldFit, a[nb + MAX_FIT], oldGap, a[nb + MAX_GAP]))
            {
                return;
            }
            t = up;
        }
    }

    /**
     * Whether {@code up}'s maxima stay as stored when one child's maxima go from old to new values, all else
     * (its own gap, the other child, its balance) unchanged: unchanged values, or a child that neither held
     * the maximum nor exceeds it. Saves re-augmenting the first ancestor a change does not reach.
     */
    private boolean parentKeeps(
        final int up, final long oldFit, final long newFit, final long oldGap, final long newGap)
    {
        if (newFit == oldFit && newGap == oldGap)
        {
            return true;
        }
        if (up == NIL)
        {
            return true;
        }
        final int ub = up * STRIDE;
        final long upFit = n[ub + MAX_FIT];
        final long upGap = n[ub + MAX_GAP];
        return (newFit == oldFit || (oldFit < upFit && newFit <= upFit))
            && (newGap == oldGap || (oldGap < upGap && newGap <= upGap));
    }

    /**
     * Highest {@code p} with {@code p >= low}, {@code p + size <= bound}, {@code [p, p+size-1]} free and, when
     * {@code alignOrder > 0}, {@code p} a multiple of {@code 2^alignOrder}. Remembers in {@link #fitNode()} the
     * node whose own gap holds {@code p}.
     *
     * @param hint a node with {@code lo >= bound} whose own gap is tried first (NIL: none): that gap is the
     *             highest free run below the hint, so an answer there is the answer.
     * @return p, or -1 if there is none.
     */
    long search(
        final long size, final int alignOrder, final boolean aligned, final long low, final long bound, final int hint)
    {
        sLow = low;
        sBound = bound;
        sSize = size;
        sMask = -1L << alignOrder;
        sAligned = aligned;
        sThreshold = (1L << alignOrder) + size;
        if (hint != NIL)
        {
            final int b = hint * STRIDE;
            final long lo = n[b + LO];
            if (bound <= lo)
            {
                visits++;
                final long p = fitRun(n[b + PREV_HI] + 1, lo - 1);
                if (p >= 0)
                {
                    fitNode = hint;
                    return p;
                }
            }
        }
        if (root == NIL)
        {
            fitNode = NIL;
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
            fitNode = t;
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
        if (PAD + (long)(nextUnused + 1) * STRIDE > n.length)
        {
            grow();
        }
        return nextUnused++;
    }

    private void grow()
    {
        final int nodes = (n.length - PAD) / STRIDE;
        if (nodes > MAX_NODES)
        {
            throw new IllegalStateException("IOVA tree full: " + MAX_NODES + " ranges");
        }
        final int capacity = (int)Math.min((long)MAX_NODES + 1, nodes + (nodes >> 1) + 16L);
        n = Arrays.copyOf(n, PAD + capacity * STRIDE);
    }

    /** Re-augments {@code t} and rotates it if unbalanced. @return the node now at {@code t}'s place, its parent link unset. */
    private int balance(final int t)
    {
        final int bf = update(t);
        if (bf > 1)
        {
            final int l = left(t);
            if (h(left(l)) < h(right(l)))
            {
                linkLeft(t, rotateLeft(l));
            }
            return rotateRight(t);
        }
        if (bf < -1)
        {
            final int r = right(t);
            if (h(right(r)) < h(left(r)))
            {
                linkRight(t, rotateRight(r));
            }
            return rotateLeft(t);
        }
        return t;
    }

    private int rotateRight(final int t)
    {
        final int l = left(t);
        linkLeft(t, right(l));
        linkRight(l, t);
        update(t);
        update(l);
        return l;
    }

    private int rotateLeft(final int t)
    {
        final int r = right(t);
        linkRight(t, left(r));
        linkLeft(r, t);
        update(t);
        update(r);
        return r;
    }

    /**
     * Recomputes {@code t}'s height and augmentation from its own gap and its children (NIL's are zero).
     *
     * @return the balance factor, left height minus right height.
     */
    private int update(final int t)
    {
        final long[] a = n;
        final int b = t * STRIDE;
        final long meta = a[b + META];
        final int lb = (int)(meta & LINK_MASK) * STRIDE;
        final int rb = (int)((meta >>> LINK_BITS) & LINK_MASK) * STRIDE;
        final long prevHi = a[b + PREV_HI];
        final long gap = Math.max(a[lb + MAX_GAP], a[rb + MAX_GAP]);
        a[b + MAX_FIT] = Math.max(a[b + OWN_FIT], Math.max(a[lb + MAX_FIT], a[rb + MAX_FIT]));
        a[b + MAX_GAP] = prevHi >= 0 ? Math.max(gap, a[b + LO] - 1 - prevHi) : gap;
        final long lh = a[lb + META] >>> HEIGHT_SHIFT;
        final long rh = a[rb + META] >>> HEIGHT_SHIFT;
        a[b + META] = (meta & ~HEIGHT_MASK) | ((1 + Math.max(lh, rh)) << HEIGHT_SHIFT);
        return (int)(lh - rh);
    }

    /**
     * Test hook: checks order, own gaps, augmentation, balance and parent links of the whole tree, and that the
     * finger is live; @return node count.
     */
    int verify()
    {
        for (int i = 0; i < PAD + STRIDE; i++)
        {
            if (n[i] != 0)
            {
                throw new IllegalStateException("NIL slot written");
            }
        }
        if (root != NIL && parent(root) != NIL)
        {
            throw new IllegalStateException("root " + root + " has a parent");
        }
        prevVerified = -1;
        fingerSeen = finger == NIL;
        final int count = verify(root);
        if (!fingerSeen)
        {
            throw new IllegalStateException("finger " + finger + " is not in the tree");
        }
        return count;
    }

    private long prevVerified;
    private boolean fingerSeen;

    private int verify(final int t)
    {
        if (t == NIL)
        {
            return 0;
        }
        fingerSeen |= t == finger;
        final int l = left(t);
        final int r = right(t);
        if ((l != NIL && parent(l) != t) || (r != NIL && parent(r) != t))
        {
            throw new IllegalStateException("broken parent link under node " + t);
        }
        final int nl = verify(l);
        final int b = t * STRIDE;
        final long keepOwnFit = n[b + OWN_FIT];
        setPrevHi(t, n[b + PREV_HI]);
        final long keepFit = n[b + MAX_FIT];
        final long keepGap = n[b + MAX_GAP];
        final long keepMeta = n[b + META];
        update(t);
        if (keepOwnFit != n[b + OWN_FIT] || keepFit != n[b + MAX_FIT] || keepGap != n[b + MAX_GAP]
            || keepMeta != n[b + META] || Math.abs(h(l) - h(r)) > 1 || lo(t) > hi(t)
            || n[b + PREV_HI] != prevVerified || lo(t) <= prevVerified)
        {
            throw new IllegalStateException("corrupt node " + t + " [" + lo(t) + ", " + hi(t) + "]: prevHi "
                + n[b + PREV_HI] + " (predecessor's hi " + prevVerified + "), own fit " + keepOwnFit + " ("
                + n[b + OWN_FIT] + "), max fit " + keepFit + " (" + n[b + MAX_FIT] + "), max gap " + keepGap + " ("
                + n[b + MAX_GAP] + "), height " + (keepMeta >>> HEIGHT_SHIFT) + " (" + h(t) + "), balance "
                + (h(l) - h(r)));
        }
        prevVerified = hi(t);
        return nl + 1 + verify(r);
    }
}
