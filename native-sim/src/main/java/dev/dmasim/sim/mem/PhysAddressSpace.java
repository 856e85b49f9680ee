package dev.dmasim.sim.mem;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A physical address space made of RAM regions and MMIO regions, with holes between them.
 * All addresses, sizes and offsets are <b>bytes</b>.
 *
 * <h2>Sparse RAM</h2>
 * RAM is backed by fixed-size <i>chunks</i> (a power of two &ge; 64 KiB, default 2 MiB) carved from one shared
 * {@link Arena}. Chunk boundaries are aligned to absolute physical addresses ({@code phys & ~(chunkSize - 1)}),
 * clipped to the region, so a naturally aligned block no larger than a chunk never straddles two chunks.
 * A chunk is allocated (zeroed) on the first write to it, on the first 8-byte access or {@link #ramSlice}; a
 * read of a chunk nobody has touched yields zeros and allocates nothing. Each RAM region keeps a flat chunk
 * directory ({@code MemorySegment[]} and the matching {@link RamChunk}{@code []}, two references per chunk:
 * 1 Mi references = 4 MiB of heap for 1 TiB of RAM at the default chunk size), so the address space costs only
 * what is touched plus that directory.
 *
 * <h2>Chunk publication (memory ordering)</h2>
 * <pre>
 *   writer (first touch)                          reader
 *   lock(stripe[chunk])                           seg = CHUNKS.getAcquire(dir, i)
 *     seg = CHUNKS.getAcquire(dir, i)  (re-check)  if seg != null: access seg
 *     if null: seg = arena.allocate(..) (zeroed)   else: slow path takes the same stripe lock
 *              HOLDERS.setRelease(hdir, i, new RamChunk(seg, start))
 *              CHUNKS.setRelease(dir, i, seg)
 *   unlock
 * </pre>
 * The {@code setRelease} of a directory slot pairs with the {@code getAcquire} of every reader: a thread that
 * sees the reference also sees the zeroed memory and the fully constructed segment. A slot goes from
 * {@code null} to a segment exactly once, under a striped lock, so there is never a losing allocation to free
 * and no write can land in a chunk that is then replaced (concurrent first touches lose no write).
 *
 * <h2>Thread-safety</h2>
 * All methods are thread-safe. Plain bulk accesses to the same bytes from several threads race exactly as
 * they would on hardware (no tearing guarantees beyond {@link MemorySegment#copy}); the 8-byte accessors
 * follow their VarHandle access modes ({@link #putLongRelease} pairs with {@link #getLongAcquire};
 * {@link #compareAndSetLong} is volatile). {@link #close()} must not race with accesses the caller cares about:
 * an access that starts after close throws {@code IllegalStateException("address space closed")}, one that is
 * in flight when the arena closes gets the JDK's {@code IllegalStateException}.
 *
 * <h2>Hot paths</h2>
 * {@link #read}, {@link #write}, {@link #getLong} and friends and {@link #compareAndSetLong} allocate nothing per
 * call: region lookup is a binary search over a {@code long[]} of bases, copies go through
 * {@link MemorySegment#copy(MemorySegment, long, MemorySegment, long, long)} with offsets.
 * Errors reachable by a device (holes, MMIO handler refusals) are {@link MemTx} codes; programming errors
 * (negative or overflowing ranges, misaligned 8-byte accesses, use after close) throw.
 */
public final class PhysAddressSpace implements PhysicalMemory, AutoCloseable
{
    /** Default chunk size in bytes (2 MiB). */
    public static final long DEFAULT_CHUNK_SIZE = 2L << 20;
    /** Smallest allowed chunk size in bytes (64 KiB). */
    public static final long MIN_CHUNK_SIZE = 64L << 10;
    /** Largest allowed chunk size in bytes (1 GiB). */
    public static final long MAX_CHUNK_SIZE = 1L << 30;
    /** Regions must lie below this address (bytes, exclusive; 2^62). */
    public static final long MAX_PHYS = 1L << 62;
    /** Region alignment in bytes (4 KiB). */
    public static final long REGION_ALIGN = 4096;

    private static final VarHandle CHUNKS = MethodHandles.arrayElementVarHandle(MemorySegment[].class);
    private static final VarHandle HOLDERS = MethodHandles.arrayElementVarHandle(RamChunk[].class);
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final int LOCK_STRIPES = 64;
    private static final long ZEROS_SIZE = 64L << 10;

    private final Arena arena;
    private final long chunkSize;
    private final long chunkMask;
    private final int chunkShift;
    /** Region bases, sorted, for the allocation-free binary search. */
    private final long[] bases;
    private final long[] ends;
    /** Maximal runs of adjacent RAM regions, {@code [ramStarts[i], ramEnds[i])}, sorted: what {@link #isRam} scans. */
    private final long[] ramStarts;
    private final long[] ramEnds;
    private final Region[] regions;
    private final List<MemRegion> regionList;
    private final Object[] locks;
    /** Read-only zeros used as the source for untouched RAM (reads, copies to MMIO). */
    private final MemorySegment zeros;
    private final AtomicLong touched = new AtomicLong();
    private final long ramBytes;
    /** Set once by {@link #close()}; read (volatile) at the start of every access. */
    private volatile boolean closed;

    private PhysAddressSpace(final List<Region> sorted, final long chunkSize)
    {
        this.chunkSize = chunkSize;
        this.chunkMask = chunkSize - 1;
        this.chunkShift = Long.numberOfTrailingZeros(chunkSize);
        final int n = sorted.size();
        this.bases = new long[n];
        this.ends = new long[n];
        this.regions = sorted.toArray(new Region[0]);
        final List<MemRegion> list = new ArrayList<>(n);
        long ram = 0;
        for (int i = 0; i < n; i++)
        {
            final Region r = regions[i];
            bases[i] = r.base;
            ends[i] = r.end;
            list.add(new MemRegion(r.base, r.end - r.base, r.handler == null ? MemRegion.Kind.RAM :
                MemRegion.Kind.MMIO, r.name));
            if (r.handler == null)
            {
                ram += r.end - r.base;
            }
        }
        this.regionList = List.copyOf(list);
        this.ramBytes = ram;
        final long[] rs = new long[n];
        final long[] re = new long[n];
        int spans = 0;
        for (int i = 0; i < n; i++)
        {
            if (regions[i].handler != null)
            {
                continue;
            }
            if (spans > 0 && re[spans - 1] == bases[i])
            {
                re[spans - 1] = ends[i];
            }
            else
            {
                rs[spans] = bases[i];
                re[spans] = ends[i];
                spans++;
            }
        }
        this.ramStarts = Arrays.copyOf(rs, spans);
        this.ramEnds = Arrays.copyOf(re, spans);
        this.locks = new Object[LOCK_STRIPES];
        for (int i = 0; i < LOCK_STRIPES; i++)
        {
            locks[i] = new Object();
        }
        this.arena = Arena.ofShared();
        this.zeros = arena.allocate(ZEROS_SIZE, REGION_ALIGN).asReadOnly();
    }

    /** @return a new builder. */
    public static Builder builder()
    {
        return new Builder();
    }

    // ------------------------------------------------------------------------------------------------------
    // Bulk access
    // ------------------------------------------------------------------------------------------------------

    /** {@inheritDoc} Untouched RAM reads as zeros and stays unallocated. */
    @Override
    public int read(final long phys, final MemorySegment dst, final long dstOffset, final long len)
    {
        checkOpen();
        checkRange("read", phys, len);
        checkSegment("read", "dst", dst, dstOffset, len, true);
        long p = phys;
        long o = dstOffset;
        long remaining = len;
        while (remaining > 0)
        {
            final int ri = regionIndex(p);
            if (ri < 0)
            {
                return MemTx.DECODE_ERROR;
            }
            final Region r = regions[ri];
            final long n;
            if (r.handler != null)
            {
                n = Math.min(remaining, r.end - p);
                final int rc = r.handler.read(p - r.base, dst, o, n);
                if (rc != MemTx.OK)
                {
                    return rc;
                }
            }
            else
            {
                n = Math.min(remaining, chunkLimit(r, p) - p);
                final MemorySegment seg = chunkIfPresent(r, p);
                if (seg == null)
                {
                    copyZeros(dst, o, n);
                }
                else
                {
                    MemorySegment.copy(seg, p - chunkStart(r, p), dst, o, n);
                }
            }
            p += n;
            o += n;
            remaining -= n;
        }
        return MemTx.OK;
    }

    /** {@inheritDoc} Allocates the chunks written to on first touch. */
    @Override
    public int write(final long phys, final MemorySegment src, final long srcOffset, final long len)
    {
        checkOpen();
        checkRange("write", phys, len);
        checkSegment("write", "src", src, srcOffset, len, false);
        long p = phys;
        long o = srcOffset;
        long remaining = len;
        while (remaining > 0)
        {
            final int ri = regionIndex(p);
            if (ri < 0)
            {
                return MemTx.DECODE_ERROR;
            }
            final Region r = regions[ri];
            final long n;
            if (r.handler != null)
            {
                n = Math.min(remaining, r.end - p);
                final int rc = r.handler.write(p - r.base, src, o, n);
                if (rc != MemTx.OK)
                {
                    return rc;
                }
            }
            else
            {
                n = Math.min(remaining, chunkLimit(r, p) - p);
                MemorySegment.copy(src, o, chunkForWrite(r, p), p - chunkStart(r, p), n);
            }
            p += n;
            o += n;
            remaining -= n;
        }
        return MemTx.OK;
    }

    /**
     * {@inheritDoc}
     * <p>
     * If either range runs into a hole, the longest prefix that both ranges decode is copied (with memmove
     * semantics) and {@link MemTx#DECODE_ERROR} is returned. Copies from untouched RAM to untouched RAM allocate
     * nothing (both read as zeros). MMIO-to-MMIO copies bounce through a small temporary buffer (slow path).
     */
    @Override
    public int copy(final long srcPhys, final long dstPhys, final long len)
    {
        checkOpen();
        checkRange("copy src", srcPhys, len);
        checkRange("copy dst", dstPhys, len);
        if (len > 0)
        {
            // Fast path (every bounce copy): each range lies inside one piece (one RAM chunk or one MMIO region).
            // The general loop below would decode both ranges fully, then copy exactly this one piece (forward
            // or backward is the same single copyPiece, whose MemorySegment.copy has memmove semantics).
            final int si = regionIndex(srcPhys);
            final int di = regionIndex(dstPhys);
            if (si >= 0 && di >= 0)
            {
                final Region sr = regions[si];
                final Region dr = regions[di];
                if (len <= pieceLimit(sr, srcPhys) - srcPhys && len <= pieceLimit(dr, dstPhys) - dstPhys)
                {
                    return copyPiece(sr, srcPhys, dr, dstPhys, len);
                }
            }
        }
        final long decoded = Math.min(decodedPrefix(srcPhys, len), decodedPrefix(dstPhys, len));
        final boolean backward = dstPhys > srcPhys && dstPhys < srcPhys + decoded;
        int rc = MemTx.OK;
        if (backward)
        {
            long remaining = decoded;
            while (remaining > 0 && rc == MemTx.OK)
            {
                final long sLast = srcPhys + remaining - 1;
                final long dLast = dstPhys + remaining - 1;
                final Region sr = regions[regionIndex(sLast)];
                final Region dr = regions[regionIndex(dLast)];
                final long n = Math.min(remaining,
                    Math.min(sLast - pieceStart(sr, sLast) + 1, dLast - pieceStart(dr, dLast) + 1));
                rc = copyPiece(sr, sLast - n + 1, dr, dLast - n + 1, n);
                remaining -= n;
            }
        }
        else
        {
            long done = 0;
            while (done < decoded && rc == MemTx.OK)
            {
                final long s = srcPhys + done;
                final long d = dstPhys + done;
                final Region sr = regions[regionIndex(s)];
                final Region dr = regions[regionIndex(d)];
                final long n = Math.min(decoded - done, Math.min(pieceLimit(sr, s) - s, pieceLimit(dr, d) - d));
                rc = copyPiece(sr, s, dr, d, n);
                done += n;
            }
        }
        if (rc != MemTx.OK)
        {
            return rc;
        }
        return decoded == len ? MemTx.OK : MemTx.DECODE_ERROR;
    }

    /**
     * {@inheritDoc}
     * <p>
     * Filling untouched RAM with zero allocates nothing. Filling MMIO hands the handler a temporary buffer
     * of at most 64 KiB at a time (slow path).
     */
    @Override
    public int fill(final long phys, final long len, final byte value)
    {
        checkOpen();
        checkRange("fill", phys, len);
        long p = phys;
        long remaining = len;
        MemorySegment pattern = value == 0 ? zeros : null;
        while (remaining > 0)
        {
            final int ri = regionIndex(p);
            if (ri < 0)
            {
                return MemTx.DECODE_ERROR;
            }
            final Region r = regions[ri];
            final long n;
            if (r.handler != null)
            {
                n = Math.min(remaining, r.end - p);
                if (pattern == null)
                {
                    pattern = MemorySegment.ofArray(new byte[(int)Math.min(ZEROS_SIZE, len)]).fill(value);
                }
                long done = 0;
                while (done < n)
                {
                    final long m = Math.min(n - done, pattern.byteSize());
                    final int rc = r.handler.write(p + done - r.base, pattern, 0, m);
                    if (rc != MemTx.OK)
                    {
                        return rc;
                    }
                    done += m;
                }
            }
            else
            {
                n = Math.min(remaining, chunkLimit(r, p) - p);
                final MemorySegment seg = value == 0 ? chunkIfPresent(r, p) : chunkForWrite(r, p);
                if (seg != null)
                {
                    seg.asSlice(p - chunkStart(r, p), n).fill(value);
                }
            }
            p += n;
            remaining -= n;
        }
        return MemTx.OK;
    }

    // ------------------------------------------------------------------------------------------------------
    // 8-byte access (page tables, descriptors)
    // ------------------------------------------------------------------------------------------------------

    /** {@inheritDoc} Allocates the chunk on first touch. */
    @Override
    public long getLong(final long phys)
    {
        final Region r = ramWord("getLong", phys);
        return (long)LONG.get(chunkForWrite(r, phys), phys - chunkStart(r, phys));
    }

    /** {@inheritDoc} */
    @Override
    public void putLong(final long phys, final long value)
    {
        final Region r = ramWord("putLong", phys);
        LONG.set(chunkForWrite(r, phys), phys - chunkStart(r, phys), value);
    }

    /** {@inheritDoc} */
    @Override
    public long getLongAcquire(final long phys)
    {
        final Region r = ramWord("getLongAcquire", phys);
        return (long)LONG.getAcquire(chunkForWrite(r, phys), phys - chunkStart(r, phys));
    }

    /** {@inheritDoc} */
    @Override
    public void putLongRelease(final long phys, final long value)
    {
        final Region r = ramWord("putLongRelease", phys);
        LONG.setRelease(chunkForWrite(r, phys), phys - chunkStart(r, phys), value);
    }

    /** {@inheritDoc} */
    @Override
    public boolean compareAndSetLong(final long phys, final long expected, final long value)
    {
        final Region r = ramWord("compareAndSetLong", phys);
        return (boolean)LONG.compareAndSet(chunkForWrite(r, phys), phys - chunkStart(r, phys), expected, value);
    }

    /** Volatile 8-byte load from aligned RAM; pairs with {@link #putLongVolatile} and {@link #compareAndSetLong}. */
    public long getLongVolatile(final long phys)
    {
        final Region r = ramWord("getLongVolatile", phys);
        return (long)LONG.getVolatile(chunkForWrite(r, phys), phys - chunkStart(r, phys));
    }

    /** Volatile 8-byte store to aligned RAM; pairs with {@link #getLongVolatile}. */
    public void putLongVolatile(final long phys, final long value)
    {
        final Region r = ramWord("putLongVolatile", phys);
        LONG.setVolatile(chunkForWrite(r, phys), phys - chunkStart(r, phys), value);
    }

    /**
     * Volatile-semantics compare-and-exchange of an aligned 8-byte RAM word.
     *
     * @return the witness value (equal to {@code expected} on success).
     */
    public long compareAndExchangeLong(final long phys, final long expected, final long value)
    {
        final Region r = ramWord("compareAndExchangeLong", phys);
        return (long)LONG.compareAndExchange(chunkForWrite(r, phys), phys - chunkStart(r, phys), expected, value);
    }

    // ------------------------------------------------------------------------------------------------------
    // Views and queries
    // ------------------------------------------------------------------------------------------------------

    /**
     * {@inheritDoc}
     * <p>
     * Allocates the chunk on first touch. Returns {@code null} when the range is not RAM or crosses a chunk
     * boundary (callers then fall back to {@link #read}/{@link #write}). A zero-length range at a RAM address
     * gives an empty view.
     */
    @Override
    public MemorySegment ramSlice(final long phys, final long len)
    {
        checkOpen();
        checkRange("ramSlice", phys, len);
        final int ri = regionIndex(phys);
        if (ri < 0)
        {
            return null;
        }
        final Region r = regions[ri];
        if (r.handler != null || len > chunkLimit(r, phys) - phys)
        {
            return null;
        }
        return chunkForWrite(r, phys).asSlice(phys - chunkStart(r, phys), len);
    }

    /**
     * {@inheritDoc}
     * <p>
     * The chunk is the same object for the life of this space (created with the chunk's backing, under its stripe
     * lock). After {@link #close()} this method throws {@code IllegalStateException("address space closed")} and
     * accesses through a chunk obtained earlier throw the JDK's {@code IllegalStateException}.
     */
    @Override
    public RamChunk ramChunk(final long phys)
    {
        checkOpen();
        final int ri = phys >= 0 ? regionIndex(phys) : -1;
        if (ri < 0 || regions[ri].handler != null)
        {
            return null;
        }
        final Region r = regions[ri];
        final int ci = chunkIndex(r, phys);
        final RamChunk c = (RamChunk)HOLDERS.getAcquire(r.holders, ci);
        if (c != null)
        {
            return c;
        }
        allocateChunk(r, ci); // sets both directory slots under the stripe lock (or finds them set)
        return (RamChunk)HOLDERS.getAcquire(r.holders, ci);
    }

    /** @return how many maximal runs of adjacent RAM regions the space has (fixed at build; see {@link #isRam}). */
    public int ramRuns()
    {
        return ramEnds.length;
    }

    /** @return the first byte of RAM run {@code i} (0 .. {@link #ramRuns()} - 1, ascending). */
    public long ramRunBase(final int i)
    {
        return ramStarts[i];
    }

    /** @return the byte after RAM run {@code i}. */
    public long ramRunEnd(final int i)
    {
        return ramEnds[i];
    }

    /**
     * {@inheritDoc} Adjacent RAM regions count as one range: the range must lie inside one run of adjacent RAM
     * regions (precomputed; a linear scan while there are at most 8 runs, else a binary search). An empty range is
     * RAM.
     */
    @Override
    public boolean isRam(final long phys, final long len)
    {
        checkOpen();
        checkRange("isRam", phys, len);
        if (len == 0)
        {
            return true;
        }
        final long[] starts = ramStarts;
        final long[] limits = ramEnds;
        int i;
        if (limits.length <= 8)
        {
            i = 0;
            while (i < limits.length && limits[i] <= phys)
            {
                i++;
            }
        }
        else
        {
            int lo = 0;
            int hi = limits.length;
            while (lo < hi)
            {
                final int mid = (lo + hi) >>> 1;
                if (limits[mid] <= phys)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
            i = lo;
        }
        // i: the first run ending above phys
        return i < limits.length && phys >= starts[i] && len <= limits[i] - phys;
    }

    /** {@inheritDoc} */
    @Override
    public List<MemRegion> regions()
    {
        return regionList;
    }

    /** @return the region that decodes {@code phys}, or {@code null} for a hole. */
    public MemRegion regionAt(final long phys)
    {
        final int ri = regionIndex(phys);
        return ri < 0 ? null : regionList.get(ri);
    }

    /** @return bytes of RAM backing allocated so far (touched chunks; edge chunks count their clipped size). */
    public long touchedBytes()
    {
        return touched.get();
    }

    /** @return bytes of RAM in all RAM regions (touched or not). */
    public long ramBytes()
    {
        return ramBytes;
    }

    /** @return the chunk size in bytes. */
    public long chunkSize()
    {
        return chunkSize;
    }

    /** @return true once {@link #close()} has been called. */
    public boolean isClosed()
    {
        return closed;
    }

    /**
     * Frees all RAM backing. Idempotent. Any access that starts afterwards throws
     * {@code IllegalStateException("address space closed")}; views from {@link #ramSlice} become invalid.
     */
    @Override
    public void close()
    {
        synchronized (locks)
        {
            if (closed)
            {
                return;
            }
            closed = true;
        }
        // Take every stripe so no first-touch allocation is in progress while the arena closes.
        closeUnderLocks(0);
    }

    private void closeUnderLocks(final int stripe)
    {
        if (stripe == LOCK_STRIPES)
        {
            arena.close();
            return;
        }
        synchronized (locks[stripe])
        {
            closeUnderLocks(stripe + 1);
        }
    }

    /** @return one line per region, plus RAM and touched totals. */
    public String describe()
    {
        final StringBuilder sb = new StringBuilder();
        sb.append(String.format("physical address space: %d regions, RAM %s, touched %s, chunk %s%n",
            regions.length, size(ramBytes), size(touchedBytes()), size(chunkSize)));
        for (final MemRegion r : regionList)
        {
            sb.append(String.format("  %-4s %-12s [0x%016x, 0x%016x) %s%n",
                r.kind(), r.name(), r.base(), r.end(), size(r.size())));
        }
        return sb.toString();
    }

    @Override
    public String toString()
    {
        return "PhysAddressSpace{regions=" + regionList.size() + ", ram=" + size(ramBytes) +
            ", touched=" + size(touchedBytes()) + ", chunk=" + size(chunkSize) + (closed ? ", closed}" : "}");
    }

    // ------------------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------------------

    /** @return index of the region decoding {@code p}, or -1 for a hole. O(log regions), no allocation. */
    private int regionIndex(final long p)
    {
        int lo = 0;
        int hi = bases.length - 1;
        while (lo <= hi)
        {
            final int mid = (lo + hi) >>> 1;
            if (bases[mid] <= p)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return hi >= 0 && p < ends[hi] ? hi : -1;
    }

    /** @return first address of the chunk holding {@code p}, clipped to the region (the segment's offset 0). */
    private long chunkStart(final Region r, final long p)
    {
        return Math.max(r.base, p & ~chunkMask);
    }

    /** @return the address just past the chunk holding {@code p}, clipped to the region. */
    private long chunkLimit(final Region r, final long p)
    {
        return Math.min(r.end, (p & ~chunkMask) + chunkSize);
    }

    /** Contiguous piece start for copy: chunk start for RAM, region base for MMIO. */
    private long pieceStart(final Region r, final long p)
    {
        return r.handler == null ? chunkStart(r, p) : r.base;
    }

    /** Contiguous piece limit for copy: chunk limit for RAM, region end for MMIO. */
    private long pieceLimit(final Region r, final long p)
    {
        return r.handler == null ? chunkLimit(r, p) : r.end;
    }

    private int chunkIndex(final Region r, final long p)
    {
        return (int)((p >>> chunkShift) - r.firstChunk);
    }

    /** @return the chunk's segment or null if untouched. The getAcquire pairs with the setRelease in allocate. */
    private MemorySegment chunkIfPresent(final Region r, final long p)
    {
        return (MemorySegment)CHUNKS.getAcquire(r.chunks, chunkIndex(r, p));
    }

    /** @return the chunk's segment, allocating it on first touch. */
    private MemorySegment chunkForWrite(final Region r, final long p)
    {
        final int ci = chunkIndex(r, p);
        final MemorySegment seg = (MemorySegment)CHUNKS.getAcquire(r.chunks, ci);
        return seg != null ? seg : allocateChunk(r, ci);
    }

    private MemorySegment allocateChunk(final Region r, final int ci)
    {
        final long chunkNo = r.firstChunk + ci;
        synchronized (locks[(int)(chunkNo & (LOCK_STRIPES - 1))])
        {
            MemorySegment seg = (MemorySegment)CHUNKS.getAcquire(r.chunks, ci);
            if (seg == null)
            {
                checkOpen(); // under the stripe lock: close() cannot free the arena while we allocate
                final long start = Math.max(r.base, chunkNo << chunkShift);
                final long end = Math.min(r.end, (chunkNo + 1) << chunkShift);
                seg = arena.allocate(end - start, REGION_ALIGN); // zeroed by the arena
                // Release: the zeroing and the segment's construction happen-before any getAcquire that sees it.
                HOLDERS.setRelease(r.holders, ci, new RamChunk(seg, start));
                CHUNKS.setRelease(r.chunks, ci, seg);
                touched.addAndGet(end - start);
            }
            return seg;
        }
    }

    private void copyZeros(final MemorySegment dst, final long dstOffset, final long len)
    {
        long done = 0;
        while (done < len)
        {
            final long m = Math.min(len - done, ZEROS_SIZE);
            MemorySegment.copy(zeros, 0, dst, dstOffset + done, m);
            done += m;
        }
    }

    /** Copies one piece lying inside one chunk (RAM) or one region (MMIO) on each side. */
    private int copyPiece(final Region sr, final long s, final Region dr, final long d, final long n)
    {
        if (sr.handler == null)
        {
            final MemorySegment src = chunkIfPresent(sr, s);
            final long so = s - chunkStart(sr, s);
            if (dr.handler == null)
            {
                if (src == null)
                {
                    final MemorySegment dst = chunkIfPresent(dr, d);
                    if (dst != null)
                    {
                        copyZeros(dst, d - chunkStart(dr, d), n);
                    }
                    // else: both untouched, both read as zeros already
                }
                else
                {
                    MemorySegment.copy(src, so, chunkForWrite(dr, d), d - chunkStart(dr, d), n);
                }
                return MemTx.OK;
            }
            if (src != null)
            {
                return dr.handler.write(d - dr.base, src, so, n);
            }
            long done = 0;
            while (done < n)
            {
                final long m = Math.min(n - done, ZEROS_SIZE);
                final int rc = dr.handler.write(d + done - dr.base, zeros, 0, m);
                if (rc != MemTx.OK)
                {
                    return rc;
                }
                done += m;
            }
            return MemTx.OK;
        }
        if (dr.handler == null)
        {
            return sr.handler.read(s - sr.base, chunkForWrite(dr, d), d - chunkStart(dr, d), n);
        }
        // MMIO to MMIO: bounce (slow path; memmove semantics between two windows of one device are the
        // device's business, we copy forward in bounce-sized pieces).
        final MemorySegment bounce = MemorySegment.ofArray(new byte[(int)Math.min(n, ZEROS_SIZE)]);
        long done = 0;
        while (done < n)
        {
            final long m = Math.min(n - done, bounce.byteSize());
            int rc = sr.handler.read(s + done - sr.base, bounce, 0, m);
            if (rc == MemTx.OK)
            {
                rc = dr.handler.write(d + done - dr.base, bounce, 0, m);
            }
            if (rc != MemTx.OK)
            {
                return rc;
            }
            done += m;
        }
        return MemTx.OK;
    }

    /** @return how many bytes from {@code phys} are decoded by some region (stops at the first hole). */
    private long decodedPrefix(final long phys, final long len)
    {
        long p = phys;
        final long end = phys + len;
        while (p < end)
        {
            final int ri = regionIndex(p);
            if (ri < 0)
            {
                return p - phys;
            }
            p = ends[ri];
        }
        return len;
    }

    private Region ramWord(final String op, final long phys)
    {
        checkOpen();
        final int ri = (phys & 7) == 0 ? regionIndex(phys) : -1;
        if (ri < 0 || regions[ri].handler != null)
        {
            throw badWord(op, phys);
        }
        return regions[ri];
    }

    private IllegalArgumentException badWord(final String op, final long phys)
    {
        if ((phys & 7) != 0)
        {
            return new IllegalArgumentException(String.format(
                "%s: physical address 0x%x is not 8-byte aligned", op, phys));
        }
        final int ri = regionIndex(phys);
        if (ri < 0)
        {
            return new IllegalArgumentException(String.format(
                "%s: physical address 0x%x is in a hole (no region decodes it)", op, phys));
        }
        return new IllegalArgumentException(String.format(
            "%s: physical address 0x%x is MMIO (region %s), 8-byte accessors need RAM", op, phys, regions[ri]));
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("address space closed");
        }
    }

    private static void checkRange(final String op, final long phys, final long len)
    {
        if (phys < 0 || len < 0 || phys > Long.MAX_VALUE - len)
        {
            throw new IllegalArgumentException(String.format(
                "%s: bad physical range phys=0x%x len=%d (%s)", op, phys, len,
                phys < 0 ? "negative address" : len < 0 ? "negative length" : "phys + len overflows"));
        }
    }

    private static void checkSegment(
        final String op, final String what, final MemorySegment seg, final long offset, final long len,
        final boolean writable)
    {
        if (seg == null)
        {
            throw new IllegalArgumentException(op + ": " + what + " segment is null");
        }
        if (offset < 0 || offset > seg.byteSize() - len)
        {
            throw new IllegalArgumentException(String.format(
                "%s: %s range [offset=%d, len=%d) is outside the segment of %d bytes",
                op, what, offset, len, seg.byteSize()));
        }
        if (writable && seg.isReadOnly())
        {
            throw new IllegalArgumentException(op + ": " + what + " segment is read-only");
        }
    }

    static String size(final long bytes)
    {
        if (bytes >= (1L << 40) && (bytes & ((1L << 40) - 1)) == 0)
        {
            return (bytes >> 40) + " TiB";
        }
        if (bytes >= (1L << 30) && (bytes & ((1L << 30) - 1)) == 0)
        {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= (1L << 20) && (bytes & ((1L << 20) - 1)) == 0)
        {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= (1L << 10) && (bytes & ((1L << 10) - 1)) == 0)
        {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }

    /** A region as the lookup sees it: MMIO when {@code handler != null}, else RAM with a chunk directory. */
    private static final class Region
    {
        final long base;
        final long end;
        final String name;
        final MmioHandler handler;
        /** RAM: absolute chunk number of the first chunk ({@code base >>> chunkShift}). */
        final long firstChunk;
        /** RAM: the chunk directory; each slot goes null to non-null once (setRelease / getAcquire). */
        final MemorySegment[] chunks;
        /** RAM: one {@link RamChunk} per allocated chunk, set with its {@link #chunks} slot (same lock, once). */
        final RamChunk[] holders;

        /** @param chunkShift log2 of the chunk size for a RAM region with a directory, or -1 (MMIO, or not yet built). */
        Region(final long base, final long end, final String name, final MmioHandler handler, final int chunkShift)
        {
            this.base = base;
            this.end = end;
            this.name = name;
            this.handler = handler;
            if (handler == null && chunkShift > 0)
            {
                firstChunk = base >>> chunkShift;
                final long count = ((end - 1) >>> chunkShift) - firstChunk + 1;
                if (count > Integer.MAX_VALUE - 8)
                {
                    throw new IllegalArgumentException("RAM region " + this + " needs " + count +
                        " chunks; use a larger chunkSize");
                }
                chunks = new MemorySegment[(int)count];
                holders = new RamChunk[(int)count];
            }
            else
            {
                firstChunk = 0;
                chunks = null;
                holders = null;
            }
        }

        @Override
        public String toString()
        {
            return String.format("'%s' [0x%x, 0x%x)", name, base, end);
        }
    }

    /**
     * Builds a {@link PhysAddressSpace}. Regions must be 4 KiB-aligned, non-empty, below {@link #MAX_PHYS} and
     * non-overlapping; holes between them are allowed. Not thread-safe.
     */
    public static final class Builder
    {
        private final List<Region> regions = new ArrayList<>();
        private long chunkSize = DEFAULT_CHUNK_SIZE;
        private int ramCount;
        private int mmioCount;

        private Builder()
        {
        }

        /** Adds a RAM region named {@code ram<n>}. */
        public Builder ram(final long base, final long size)
        {
            return ram(base, size, "ram" + ramCount);
        }

        /** Adds a RAM region {@code [base, base+size)} (bytes). */
        public Builder ram(final long base, final long size, final String name)
        {
            add(base, size, name, null);
            ramCount++;
            return this;
        }

        /** Adds an MMIO region named {@code mmio<n>}. */
        public Builder mmio(final long base, final long size, final MmioHandler handler)
        {
            return mmio(base, size, handler, "mmio" + mmioCount);
        }

        /** Adds an MMIO region {@code [base, base+size)} (bytes) whose accesses go to {@code handler}. */
        public Builder mmio(final long base, final long size, final MmioHandler handler, final String name)
        {
            if (handler == null)
            {
                throw new IllegalArgumentException("MMIO region '" + name + "': handler is null");
            }
            add(base, size, name, handler);
            mmioCount++;
            return this;
        }

        /** Sets the RAM chunk size in bytes: a power of two in [64 KiB, 1 GiB]; default 2 MiB. */
        public Builder chunkSize(final long bytes)
        {
            if (bytes < MIN_CHUNK_SIZE || bytes > MAX_CHUNK_SIZE || Long.bitCount(bytes) != 1)
            {
                throw new IllegalArgumentException(
                    "chunkSize " + bytes + " must be a power of two between 64 KiB and 1 GiB");
            }
            this.chunkSize = bytes;
            return this;
        }

        /**
         * @return the address space.
         * @throws IllegalArgumentException if two regions overlap (naming both) or there is no region.
         */
        public PhysAddressSpace build()
        {
            final List<Region> sorted = new ArrayList<>(regions);
            sorted.sort(Comparator.comparingLong(r -> r.base));
            for (int i = 1; i < sorted.size(); i++)
            {
                final Region a = sorted.get(i - 1);
                final Region b = sorted.get(i);
                if (b.base < a.end)
                {
                    throw new IllegalArgumentException("regions overlap: " + a + " and " + b);
                }
            }
            final Region[] copies = new Region[sorted.size()];
            for (int i = 0; i < copies.length; i++)
            {
                final Region r = sorted.get(i);
                // fresh chunk directories per build()
                copies[i] = new Region(r.base, r.end, r.name, r.handler, Long.numberOfTrailingZeros(chunkSize));
            }
            return new PhysAddressSpace(Arrays.asList(copies), chunkSize);
        }

        private void add(final long base, final long size, final String name, final MmioHandler handler)
        {
            if (name == null)
            {
                throw new IllegalArgumentException("region name is null");
            }
            if (base < 0 || size <= 0 || base > MAX_PHYS - size)
            {
                throw new IllegalArgumentException(String.format(
                    "region '%s': bad range base=0x%x size=0x%x (need base >= 0, size > 0, end <= 0x%x)",
                    name, base, size, MAX_PHYS));
            }
            if ((base & (REGION_ALIGN - 1)) != 0 || (size & (REGION_ALIGN - 1)) != 0)
            {
                throw new IllegalArgumentException(String.format(
                    "region '%s': base 0x%x and size 0x%x must be 4 KiB-aligned", name, base, size));
            }
            regions.add(new Region(base, base + size, name, handler, -1));
        }
    }
}
