package dev.dmasim.sim.cache;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A write-back, write-allocate, set-associative CPU data cache of 64-byte lines in front of a RAM
 * {@link PhysicalMemory}: the state that makes a missing DMA sync visible on a non-coherent machine.
 *
 * <pre>
 *   CPU threads ──► {@link CpuView} ──► WriteBackCache ──(fill / write-back / eviction)──► RAM ◄── non-coherent devices
 *                                            ▲
 *   coherent devices ──► {@link CoherentView} ┘ (snoop: read dirty lines, write back + drop lines they write)
 * </pre>
 *
 * <ul>
 *   <li>CPU loads ({@link #cpuRead}) hit a line or fill it from RAM (evicting the least recently used line of the
 *       set, writing it back if dirty). A line filled before a device wrote RAM keeps the old bytes until it is
 *       invalidated or evicted: the CPU reads <b>stale</b> data.</li>
 *   <li>CPU stores ({@link #cpuWrite}, {@link #cpuFill}) allocate the line (filling it first unless the store
 *       covers it) and leave it <b>dirty</b>: RAM, hence a non-coherent device, sees the old bytes until the line
 *       is cleaned or evicted. An eviction writes the whole line back, possibly over newer device data, as a real
 *       cache does.</li>
 *   <li>{@link #clean} writes dirty lines back and keeps them (clean); {@link #invalidate} drops lines, losing
 *       dirty data ({@code dc ivac}); {@link #cleanInvalidate} does both per line.</li>
 *   <li>{@link #snoopRead}/{@link #snoopWrite} are the coherent interconnect: a coherent device reads dirty CPU
 *       lines, and its writes write back and drop the lines they touch, so a coherent device and the CPU always
 *       agree, exactly as without a cache.</li>
 * </ul>
 * Only RAM is cached: callers ({@link CpuView}, {@link CoherentView}) send ranges that are not entirely RAM to
 * the memory directly. Units: physical byte addresses and byte lengths.
 *
 * <p><b>Invariants / ordering.</b> Lock striping: set {@code s} (lines whose {@code (phys >>> 6) & (sets - 1)}
 * is {@code s}) is guarded by its own monitor, {@code locks[s]}; every read or write of a set's tags, dirty
 * bits, LRU stamps, line data and statistics happens under it. Every operation processes one line at a time
 * and holds one set lock at a time (never two), so there is no lock-order deadlock; a multi-line access is
 * therefore not atomic as a whole (neither is a real CPU's), but each line step is: the fill, the copy and any
 * eviction write-back of one line happen under one lock, and RAM bytes of a line that is cached are written only
 * under its set lock (write-back, snoop write). Monitor enter/exit give the happens-before edges between
 * threads; no field is read outside a lock except the immutable geometry. Per set: at most one slot holds a
 * given line address; {@code tags[slot] == -1} iff the slot is empty, and an empty slot is never dirty.
 *
 * <p><b>Allocation.</b> None per call: line data lives in one heap array viewed by one {@link MemorySegment}
 * created at construction.
 */
public final class WriteBackCache implements CpuCache
{
    /** Line size in bytes. */
    public static final int LINE_SIZE = 64;
    /** log2 of the line size. */
    public static final int LINE_SHIFT = 6;
    private static final long LINE_MASK = LINE_SIZE - 1;
    private static final long EMPTY = -1L;
    private static final VarHandle LONG_IN_BYTES =
        MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private static final int ST_HITS = 0;
    private static final int ST_MISSES = 1;
    private static final int ST_EVICTIONS = 2;
    private static final int ST_DIRTY_EVICTIONS = 3;
    private static final int ST_WRITEBACKS = 4;
    private static final int ST_INVALIDATED_DIRTY = 5;
    private static final int ST_SNOOP_HITS = 6;
    private static final int ST_STRIDE = 8;

    private final PhysicalMemory ram;
    private final CacheConfig config;
    private final int sets;
    private final int ways;
    private final int setMask;
    private final long[] tags;
    private final boolean[] dirty;
    private final long[] stamps;
    private final long[] clocks;
    private final byte[] data;
    private final MemorySegment dataSeg;
    private final Object[] locks;
    private final long[] stats;

    /**
     * @param ram    the memory behind the cache (RAM regions are cached, nothing else).
     * @param config geometry.
     */
    public WriteBackCache(final PhysicalMemory ram, final CacheConfig config)
    {
        if (ram == null || config == null)
        {
            throw new IllegalArgumentException("cache: memory and config must not be null");
        }
        this.ram = ram;
        this.config = config;
        this.sets = config.sets();
        this.ways = config.ways();
        this.setMask = sets - 1;
        final int slots = sets * ways;
        this.tags = new long[slots];
        Arrays.fill(tags, EMPTY);
        this.dirty = new boolean[slots];
        this.stamps = new long[slots];
        this.clocks = new long[sets];
        this.data = new byte[slots * LINE_SIZE];
        this.dataSeg = MemorySegment.ofArray(data);
        this.locks = new Object[sets];
        for (int i = 0; i < sets; i++)
        {
            locks[i] = new Object();
        }
        this.stats = new long[sets * ST_STRIDE];
    }

    /** @return a cache with {@link CacheConfig#defaults()} in front of {@code ram}. */
    public static WriteBackCache withDefaults(final PhysicalMemory ram)
    {
        return new WriteBackCache(ram, CacheConfig.defaults());
    }

    /** @return the memory behind the cache. */
    public PhysicalMemory memory()
    {
        return ram;
    }

    /** @return the geometry. */
    public CacheConfig config()
    {
        return config;
    }

    /** @return a new CPU view (loads and stores through this cache) with no observer. */
    public CpuView cpuView()
    {
        return new CpuView(this);
    }

    /** @return a new snooping view for coherent bus masters. */
    public CoherentView coherentView()
    {
        return new CoherentView(this);
    }

    // ------------------------------------------------------------------------------------------------ CPU side

    /** CPU load of {@code len} bytes of RAM at {@code phys} into {@code dst} at {@code off}. */
    public void cpuRead(final long phys, final MemorySegment dst, final long off, final long len)
    {
        long done = 0;
        while (done < len)
        {
            final long p = phys + done;
            final int inLine = (int)(p & LINE_MASK);
            final int n = (int)Math.min(len - done, LINE_SIZE - inLine);
            final long line = p - inLine;
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = lineLocked(set, line, true);
                MemorySegment.copy(dataSeg, (long)slot * LINE_SIZE + inLine, dst, off + done, n);
            }
            done += n;
        }
    }

    /** CPU store of {@code len} bytes of {@code src} at {@code off} to RAM address {@code phys}; lines end dirty. */
    public void cpuWrite(final long phys, final MemorySegment src, final long off, final long len)
    {
        long done = 0;
        while (done < len)
        {
            final long p = phys + done;
            final int inLine = (int)(p & LINE_MASK);
            final int n = (int)Math.min(len - done, LINE_SIZE - inLine);
            final long line = p - inLine;
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = lineLocked(set, line, n != LINE_SIZE);
                MemorySegment.copy(src, off + done, dataSeg, (long)slot * LINE_SIZE + inLine, n);
                dirty[slot] = true;
            }
            done += n;
        }
    }

    /** CPU memset of {@code len} bytes at RAM address {@code phys}; lines end dirty. */
    public void cpuFill(final long phys, final long len, final byte value)
    {
        long done = 0;
        while (done < len)
        {
            final long p = phys + done;
            final int inLine = (int)(p & LINE_MASK);
            final int n = (int)Math.min(len - done, LINE_SIZE - inLine);
            final long line = p - inLine;
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = lineLocked(set, line, n != LINE_SIZE);
                final int from = slot * LINE_SIZE + inLine;
                Arrays.fill(data, from, from + n, value);
                dirty[slot] = true;
            }
            done += n;
        }
    }

    /** CPU 8-byte load; {@code phys} must be 8-byte aligned RAM (callers check). */
    public long cpuGetLong(final long phys)
    {
        final long line = phys & ~LINE_MASK;
        final int set = setOf(line);
        synchronized (locks[set])
        {
            final int slot = lineLocked(set, line, true);
            return (long)LONG_IN_BYTES.get(data, slot * LINE_SIZE + (int)(phys & LINE_MASK));
        }
    }

    /** CPU 8-byte store; {@code phys} must be 8-byte aligned RAM (callers check). The line ends dirty. */
    public void cpuPutLong(final long phys, final long value)
    {
        final long line = phys & ~LINE_MASK;
        final int set = setOf(line);
        synchronized (locks[set])
        {
            final int slot = lineLocked(set, line, true);
            LONG_IN_BYTES.set(data, slot * LINE_SIZE + (int)(phys & LINE_MASK), value);
            dirty[slot] = true;
        }
    }

    /** CPU 8-byte compare-and-set (atomic under the set lock); the line ends dirty on success. */
    public boolean cpuCompareAndSetLong(final long phys, final long expected, final long value)
    {
        final long line = phys & ~LINE_MASK;
        final int set = setOf(line);
        synchronized (locks[set])
        {
            final int slot = lineLocked(set, line, true);
            final int at = slot * LINE_SIZE + (int)(phys & LINE_MASK);
            if ((long)LONG_IN_BYTES.get(data, at) != expected)
            {
                return false;
            }
            LONG_IN_BYTES.set(data, at, value);
            dirty[slot] = true;
            return true;
        }
    }

    // ------------------------------------------------------------------------------------------------ maintenance

    @Override
    public void clean(final long phys, final long len)
    {
        maintain(phys, len, true, false);
    }

    @Override
    public void invalidate(final long phys, final long len)
    {
        maintain(phys, len, false, true);
    }

    @Override
    public void cleanInvalidate(final long phys, final long len)
    {
        maintain(phys, len, true, true);
    }

    @Override
    public long firstDirtyLine(final long phys, final long len)
    {
        if (len <= 0)
        {
            return -1L;
        }
        final long first = phys & ~LINE_MASK;
        final long last = (phys + len - 1) & ~LINE_MASK;
        long best = -1L;
        if (((last - first) >>> LINE_SHIFT) >= (long)sets * ways)
        {
            for (int set = 0; set < sets; set++)
            {
                synchronized (locks[set])
                {
                    for (int slot = set * ways, end = slot + ways; slot < end; slot++)
                    {
                        final long t = tags[slot];
                        if (t != EMPTY && dirty[slot] && t >= first && t <= last && (best < 0 || t < best))
                        {
                            best = t;
                        }
                    }
                }
            }
            return best;
        }
        for (long line = first; line <= last; line += LINE_SIZE)
        {
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = find(set, line);
                if (slot >= 0 && dirty[slot])
                {
                    return line;
                }
            }
        }
        return -1L;
    }

    /** @return true if the line holding {@code phys} is cached (clean or dirty). */
    public boolean isCached(final long phys)
    {
        final long line = phys & ~LINE_MASK;
        final int set = setOf(line);
        synchronized (locks[set])
        {
            return find(set, line) >= 0;
        }
    }

    /** @return true if the line holding {@code phys} is cached and dirty. */
    public boolean isDirty(final long phys)
    {
        final long line = phys & ~LINE_MASK;
        final int set = setOf(line);
        synchronized (locks[set])
        {
            final int slot = find(set, line);
            return slot >= 0 && dirty[slot];
        }
    }

    /** Writes every dirty line back and empties the cache (a full {@code dc cisw} walk). */
    public void flushAll()
    {
        for (int set = 0; set < sets; set++)
        {
            synchronized (locks[set])
            {
                for (int slot = set * ways, end = slot + ways; slot < end; slot++)
                {
                    if (tags[slot] != EMPTY)
                    {
                        if (dirty[slot])
                        {
                            writeBackLocked(set, slot);
                        }
                        tags[slot] = EMPTY;
                    }
                }
            }
        }
    }

    private void maintain(final long phys, final long len, final boolean clean, final boolean drop)
    {
        if (len <= 0)
        {
            return;
        }
        final long first = phys & ~LINE_MASK;
        final long last = (phys + len - 1) & ~LINE_MASK;
        if (((last - first) >>> LINE_SHIFT) >= (long)sets * ways)
        {
            // More lines than the cache holds: walk the cache instead of the range.
            for (int set = 0; set < sets; set++)
            {
                synchronized (locks[set])
                {
                    for (int slot = set * ways, end = slot + ways; slot < end; slot++)
                    {
                        final long t = tags[slot];
                        if (t != EMPTY && t >= first && t <= last)
                        {
                            maintainSlotLocked(set, slot, clean, drop);
                        }
                    }
                }
            }
            return;
        }
        for (long line = first; line <= last; line += LINE_SIZE)
        {
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = find(set, line);
                if (slot >= 0)
                {
                    maintainSlotLocked(set, slot, clean, drop);
                }
            }
        }
    }

    private void maintainSlotLocked(final int set, final int slot, final boolean clean, final boolean drop)
    {
        if (dirty[slot])
        {
            if (clean)
            {
                writeBackLocked(set, slot);
            }
            else
            {
                stats[set * ST_STRIDE + ST_INVALIDATED_DIRTY]++;
            }
        }
        if (drop)
        {
            tags[slot] = EMPTY;
            dirty[slot] = false;
        }
    }

    // ------------------------------------------------------------------------------------------------ snoop

    /**
     * A coherent device reads RAM: bytes of dirty CPU lines come from the cache, the rest from RAM.
     *
     * @return {@link MemTx#OK} or what the memory returned.
     */
    public int snoopRead(final long phys, final MemorySegment dst, final long off, final long len)
    {
        long done = 0;
        while (done < len)
        {
            final long p = phys + done;
            final int inLine = (int)(p & LINE_MASK);
            final int n = (int)Math.min(len - done, LINE_SIZE - inLine);
            final long line = p - inLine;
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = find(set, line);
                if (slot >= 0 && dirty[slot])
                {
                    stats[set * ST_STRIDE + ST_SNOOP_HITS]++;
                    MemorySegment.copy(dataSeg, (long)slot * LINE_SIZE + inLine, dst, off + done, n);
                }
                else
                {
                    final int rc = ram.read(p, dst, off + done, n);
                    if (rc != MemTx.OK)
                    {
                        return rc;
                    }
                }
            }
            done += n;
        }
        return MemTx.OK;
    }

    /**
     * A coherent device writes RAM: each line it touches is written back if dirty and dropped from the cache,
     * then the device's bytes land in RAM (under the line's set lock), so the CPU's next load sees them.
     *
     * @return {@link MemTx#OK} or what the memory returned.
     */
    public int snoopWrite(final long phys, final MemorySegment src, final long off, final long len)
    {
        long done = 0;
        while (done < len)
        {
            final long p = phys + done;
            final int inLine = (int)(p & LINE_MASK);
            final int n = (int)Math.min(len - done, LINE_SIZE - inLine);
            final long line = p - inLine;
            final int set = setOf(line);
            synchronized (locks[set])
            {
                final int slot = find(set, line);
                if (slot >= 0)
                {
                    stats[set * ST_STRIDE + ST_SNOOP_HITS]++;
                    if (dirty[slot])
                    {
                        writeBackLocked(set, slot);
                    }
                    tags[slot] = EMPTY;
                    dirty[slot] = false;
                }
                final int rc = ram.write(p, src, off + done, n);
                if (rc != MemTx.OK)
                {
                    return rc;
                }
            }
            done += n;
        }
        return MemTx.OK;
    }

    // ------------------------------------------------------------------------------------------------ statistics

    /** @return CPU accesses that found their line. */
    public long hits()
    {
        return sum(ST_HITS);
    }

    /** @return CPU accesses that allocated their line. */
    public long misses()
    {
        return sum(ST_MISSES);
    }

    /** @return lines evicted to make room. */
    public long evictions()
    {
        return sum(ST_EVICTIONS);
    }

    /** @return evicted lines that were dirty (each wrote 64 bytes back over RAM). */
    public long dirtyEvictions()
    {
        return sum(ST_DIRTY_EVICTIONS);
    }

    /** @return line write-backs of any cause (clean, eviction, snoop). */
    public long writeBacks()
    {
        return sum(ST_WRITEBACKS);
    }

    /** @return dirty lines dropped by {@link #invalidate} (their CPU stores are lost). */
    public long invalidatedDirty()
    {
        return sum(ST_INVALIDATED_DIRTY);
    }

    /** @return coherent-device accesses that met a cached line. */
    public long snoopHits()
    {
        return sum(ST_SNOOP_HITS);
    }

    private long sum(final int stat)
    {
        long n = 0;
        for (int set = 0; set < sets; set++)
        {
            synchronized (locks[set])
            {
                n += stats[set * ST_STRIDE + stat];
            }
        }
        return n;
    }

    // ------------------------------------------------------------------------------------------------ internals

    private int setOf(final long line)
    {
        return (int)(line >>> LINE_SHIFT) & setMask;
    }

    /** @return the slot holding {@code line} in {@code set}, or -1. Caller holds the set lock. */
    private int find(final int set, final long line)
    {
        for (int slot = set * ways, end = slot + ways; slot < end; slot++)
        {
            if (tags[slot] == line)
            {
                return slot;
            }
        }
        return -1;
    }

    /**
     * The slot holding {@code line}, allocating it on a miss (LRU victim, written back if dirty; filled from RAM
     * when {@code fill}). Touches the LRU stamp and counts the hit or miss. Caller holds the set lock.
     */
    private int lineLocked(final int set, final long line, final boolean fill)
    {
        final int base = set * ways;
        final long now = ++clocks[set];
        int victim = -1;
        long oldest = Long.MAX_VALUE;
        for (int slot = base, end = base + ways; slot < end; slot++)
        {
            final long t = tags[slot];
            if (t == line)
            {
                stamps[slot] = now;
                stats[set * ST_STRIDE + ST_HITS]++;
                return slot;
            }
            final long age = t == EMPTY ? Long.MIN_VALUE : stamps[slot];
            if (age < oldest)
            {
                oldest = age;
                victim = slot;
            }
        }
        stats[set * ST_STRIDE + ST_MISSES]++;
        if (tags[victim] != EMPTY)
        {
            stats[set * ST_STRIDE + ST_EVICTIONS]++;
            if (dirty[victim])
            {
                stats[set * ST_STRIDE + ST_DIRTY_EVICTIONS]++;
                writeBackLocked(set, victim);
            }
        }
        tags[victim] = line;
        dirty[victim] = false;
        stamps[victim] = now;
        if (fill)
        {
            final int rc = ram.read(line, dataSeg, (long)victim * LINE_SIZE, LINE_SIZE);
            if (rc != MemTx.OK)
            {
                // Callers cache RAM only (regions are 4 KiB-aligned, so a line never straddles): not reached.
                Arrays.fill(data, victim * LINE_SIZE, victim * LINE_SIZE + LINE_SIZE, (byte)0);
            }
        }
        return victim;
    }

    private void writeBackLocked(final int set, final int slot)
    {
        stats[set * ST_STRIDE + ST_WRITEBACKS]++;
        ram.write(tags[slot], dataSeg, (long)slot * LINE_SIZE, LINE_SIZE);
        dirty[slot] = false;
    }

    @Override
    public String toString()
    {
        return "WriteBackCache[" + (config.sizeBytes() >> 10) + " KiB, " + ways + "-way, " + sets + " sets, 64 B lines]";
    }
}
