package dev.dmasim.bench.stress;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.Errno;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.Machines;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.SgTable;
import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;
import dev.dmasim.sim.mem.Zone;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One stress thread: a driver and the hardware of its devices at once. It holds up to {@code maxLive} live
 * mappings of every kind, and in each operation creates one, exercises one (syncs with data moving both ways)
 * or releases one, verifying every byte the CPU and the devices see and every invariant it can check locally.
 * The first violation unwinds the thread as a {@link Failure} and stops the run.
 *
 * <p>Data protocol, kept by every handle: outside the operation in progress, the CPU's view and the device's
 * view of a live mapping both equal the handle's {@code expected} bytes (the CPU writes, then syncs for the
 * device; the device writes, then the CPU syncs for itself). So any difference is the engine's.
 *
 * <p>Buffers come from the page allocator, one block per CPU buffer, with canary bytes around the buffer in
 * the block: a transfer or bounce copy that writes outside its mapping changes them.
 *
 * <p>Not thread-safe: one instance per thread. Its counters are plain fields that the progress monitor reads
 * racily (benign: progress only); the final values are read after {@link Thread#join()}.
 */
final class Worker implements Runnable
{
    static final int MAX_SIZE = 64 << 10;
    static final int MAX_SG = 16;
    static final int GUARD = 64;
    private static final long PAGE = 4096;
    private static final long PMASK = PAGE - 1;
    private static final DmaDirection[] DIRS =
        { DmaDirection.BIDIRECTIONAL, DmaDirection.TO_DEVICE, DmaDirection.FROM_DEVICE };

    /** The first violation, unwinding the thread (no stack trace: the context says everything). */
    static final class Failure extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        /** Never serialized: a Failure only travels up its own worker thread. */
        final transient StressViolation violation;

        Failure(final StressViolation violation)
        {
            super(violation.what(), null, false, false);
            this.violation = violation;
        }
    }

    private final ModeRun run;
    private final DmaEngine engine;
    private final PhysicalMemory mem;
    private final PageAllocator pages;
    private final DevSlot[] devs;
    final int id;
    final int cpu;
    private final SplittableRandom rnd;
    private final Injection injection;
    private final long barBase;
    private final long barLen;

    final long[] calls = new long[OpKind.values().length];
    final long[] mapErrors = new long[MapErrorCause.values().length];
    long bytesVerified;
    long strictProbes;
    long probesSkipped;
    long lazyStaleProbes;
    long probeFaults;
    volatile long operations;

    private final byte[] a = new byte[MAX_SG * MAX_SIZE + 2 * GUARD];
    private final byte[] b = new byte[MAX_SG * MAX_SIZE + 2 * GUARD];
    private final MemorySegment segA = MemorySegment.ofArray(a);
    private final MemorySegment segB = MemorySegment.ofArray(b);
    private final List<Live> live = new ArrayList<>();
    private long opNo;
    /** An untrusted device has been asked to map unaligned MMIO (and refused) at least once this run. */
    private boolean unalignedMmioTried;
    private OpKind op;
    private DevSlot opDev;

    Worker(final ModeRun run, final int id, final long seed, final long barBase, final long barLen)
    {
        this.run = run;
        this.engine = run.engine;
        this.mem = engine.memory();
        this.pages = engine.pages();
        this.devs = run.devs;
        this.id = id;
        this.cpu = id % engine.cpu().cpus();
        this.rnd = new SplittableRandom(seed);
        this.injection = run.config.injection();
        this.barBase = barBase;
        this.barLen = barLen;
    }

    @Override
    public void run()
    {
        engine.cpu().bind(cpu);
        try
        {
            final long limit = run.config.opsPerThread();
            while (!run.stopped() && (limit == 0 || operations < limit))
            {
                opNo++;
                step();
                checkDebug();
                operations++;
            }
            if (!run.failed())
            {
                while (!live.isEmpty())
                {
                    opNo++;
                    release(live.removeLast());
                    checkDebug();
                }
            }
        }
        catch (final Failure f)
        {
            run.fail(f.violation);
        }
        catch (final Throwable t)
        {
            run.fail(new StressViolation("the engine threw " + t, context(null, stackOf(t))));
        }
    }

    // ------------------------------------------------------------------------------------------------ scheduling

    private void step()
    {
        final int r = rnd.nextInt(100);
        final int n = live.size();
        if (n == 0 || (r < 45 && n < run.config.maxLive()))
        {
            create(devs[rnd.nextInt(devs.length)]);
        }
        else if (r < 75)
        {
            exercise(live.get(rnd.nextInt(n)));
        }
        else
        {
            final int i = rnd.nextInt(n);
            final Live h = live.get(i);
            live.set(i, live.get(n - 1));
            live.removeLast();
            release(h);
        }
    }

    private void create(final DevSlot d)
    {
        final int k = rnd.nextInt(23);
        final DmaDirection dir = DIRS[rnd.nextInt(3)];
        if (k < 6)
        {
            createSingle(d, dir, false);
        }
        else if (k < 8)
        {
            createSingle(d, dir, true);
        }
        else if (k < 11)
        {
            createSg(d, dir, false);
        }
        else if (k < 13)
        {
            createSg(d, dir, true);
        }
        else if (k < 15)
        {
            createCoherent(d);
        }
        else if (k < 17)
        {
            createPages(d, dir);
        }
        else if (k < 20)
        {
            createIova(d, dir);
        }
        else if (k < 22)
        {
            resource(d, dir);
        }
        else
        {
            flood();
        }
    }

    /**
     * Fills the swiotlb pool: maps large buffers that must bounce (on the 32-bit device from high memory when
     * untranslated, on the untrusted device unaligned when translated) until a mapping fails or 24 are live, then
     * releases them, verifying everything. Exercises "swiotlb full" and the pool's recovery.
     */
    private void flood()
    {
        final DevSlot d = devs[devs[1].translated ? 2 : 1];
        final int before = live.size();
        for (int i = 0; i < 24; i++)
        {
            if (!createSingle(d, DIRS[rnd.nextInt(3)], rnd.nextBoolean(), MAX_SIZE - rnd.nextInt((int)PAGE)))
            {
                break;
            }
        }
        while (live.size() > before)
        {
            release(live.removeLast());
        }
    }

    private void exercise(final Live h)
    {
        switch (h)
        {
            case Single s -> syncSingle(s);
            case Sg s -> syncSg(s);
            case Coherent c -> coherentIo(c);
            case Iova v -> iovaIo(v);
            default -> throw new IllegalStateException(h.toString());
        }
    }

    private void release(final Live h)
    {
        switch (h)
        {
            case Single s -> releaseSingle(s);
            case Sg s -> releaseSg(s);
            case Coherent c -> releaseCoherent(c);
            case Iova v -> releaseIova(v);
            default -> throw new IllegalStateException(h.toString());
        }
    }

    // ------------------------------------------------------------------------------------------------ handles

    /** A CPU buffer: {@code len} bytes at {@code phys}, inside a page block with canaries around it. */
    static final class Buf
    {
        final long block;
        final int order;
        final long phys;
        final int len;

        Buf(final long block, final int order, final long phys, final int len)
        {
            this.block = block;
            this.order = order;
            this.phys = phys;
            this.len = len;
        }

        @Override
        public String toString()
        {
            return "phys=0x" + Long.toHexString(phys) + " len=" + len;
        }
    }

    /** A live mapping held by a thread. */
    abstract static class Live
    {
        final DevSlot d;
        final DmaDirection dir;
        final int thread;
        final long mappedByOp;
        final List<DmaRanges.Range> ranges = new ArrayList<>();

        Live(final DevSlot d, final DmaDirection dir, final int thread, final long op)
        {
            this.d = d;
            this.dir = dir;
            this.thread = thread;
            this.mappedByOp = op;
        }

        abstract String describe();

        @Override
        public String toString()
        {
            return describe() + " on " + d.dev.name() + " (mapped by thread " + thread + " op #" + mappedByOp + ")";
        }
    }

    /** mapPhys, mapPage or allocPages: one contiguous mapping. */
    static final class Single extends Live
    {
        final OpKind how;
        final Buf buf;
        final DmaBuffer pagesBuf;
        final long phys;
        final int len;
        final long dma;
        final long attrs;
        final byte[] expected;

        Single(final DevSlot d, final DmaDirection dir, final int thread, final long op, final OpKind how,
            final Buf buf, final DmaBuffer pagesBuf, final long phys, final int len, final long dma, final long attrs,
            final byte[] expected)
        {
            super(d, dir, thread, op);
            this.how = how;
            this.buf = buf;
            this.pagesBuf = pagesBuf;
            this.phys = phys;
            this.len = len;
            this.dma = dma;
            this.attrs = attrs;
            this.expected = expected;
        }

        @Override
        String describe()
        {
            return how.label() + " phys=0x" + Long.toHexString(phys) + " size=" + len + " dir=" + dir + " dma=0x" +
                Long.toHexString(dma) + " attrs=0x" + Long.toHexString(attrs);
        }
    }

    /** mapSg or mapSgtable. */
    static final class Sg extends Live
    {
        final boolean table;
        final SgTable sgt;
        final ScatterList sgl;
        final Buf[] bufs;
        final int[] offsets;
        final int total;
        final int nents;
        final int mapped;
        final long attrs;
        final byte[] expected;

        Sg(final DevSlot d, final DmaDirection dir, final int thread, final long op, final boolean table,
            final SgTable sgt, final ScatterList sgl, final Buf[] bufs, final int[] offsets, final int total,
            final int mapped, final long attrs, final byte[] expected)
        {
            super(d, dir, thread, op);
            this.table = table;
            this.sgt = sgt;
            this.sgl = sgl;
            this.bufs = bufs;
            this.offsets = offsets;
            this.total = total;
            this.nents = bufs.length;
            this.mapped = mapped;
            this.attrs = attrs;
            this.expected = expected;
        }

        @Override
        String describe()
        {
            final StringBuilder sb = new StringBuilder(table ? "mapSgtable" : "mapSg").append(" nents=").append(nents)
                .append(" mapped=").append(mapped).append(" total=").append(total).append(" dir=").append(dir)
                .append(" attrs=0x").append(Long.toHexString(attrs)).append(" cpu=[");
            for (int i = 0; i < nents; i++)
            {
                sb.append(i == 0 ? "" : ", ").append("0x").append(Long.toHexString(bufs[i].phys)).append('+')
                    .append(bufs[i].len);
            }
            sb.append("] dma=[");
            for (int i = 0; i < mapped; i++)
            {
                sb.append(i == 0 ? "" : ", ").append("0x").append(Long.toHexString(sgl.dmaAddress(i))).append('+')
                    .append(sgl.dmaLength(i));
            }
            return sb.append(']').toString();
        }
    }

    /** allocCoherent. */
    static final class Coherent extends Live
    {
        final DmaBuffer buf;
        final long requested;

        Coherent(final DevSlot d, final int thread, final long op, final DmaBuffer buf, final long requested)
        {
            super(d, DmaDirection.BIDIRECTIONAL, thread, op);
            this.buf = buf;
            this.requested = requested;
        }

        @Override
        String describe()
        {
            return "allocCoherent(" + requested + ") -> " + buf;
        }
    }

    /** The 2-step API: one IOVA range, 1..4 links. */
    static final class Iova extends Live
    {
        final IovaState s;
        final Buf[] bufs;
        final int[] offsets;
        final int total;
        final long attrs;
        final byte[] expected;

        Iova(final DevSlot d, final DmaDirection dir, final int thread, final long op, final IovaState s,
            final Buf[] bufs, final int[] offsets, final int total, final long attrs, final byte[] expected)
        {
            super(d, dir, thread, op);
            this.s = s;
            this.bufs = bufs;
            this.offsets = offsets;
            this.total = total;
            this.attrs = attrs;
            this.expected = expected;
        }

        @Override
        String describe()
        {
            final StringBuilder sb = new StringBuilder("iova ").append(s).append(" dir=").append(dir)
                .append(" links=[");
            for (int i = 0; i < bufs.length; i++)
            {
                sb.append(i == 0 ? "" : ", ").append('+').append(offsets[i]).append(": 0x")
                    .append(Long.toHexString(bufs[i].phys)).append('+').append(bufs[i].len);
            }
            return sb.append(']').toString();
        }
    }

    // ------------------------------------------------------------------------------------------------ single

    private void createSingle(final DevSlot d, final DmaDirection dir, final boolean viaPage)
    {
        createSingle(d, dir, viaPage, 0);
    }

    /** @param bounceLen 0 for a random buffer, else the length of a buffer that must bounce. @return false on an allowed error. */
    private boolean createSingle(final DevSlot d, final DmaDirection dir, final boolean viaPage, final int bounceLen)
    {
        final int len = bounceLen == 0 ? randomSize(MAX_SIZE) : bounceLen;
        final Buf buf = bounceLen == 0
            ? allocBuf(randomOffset(), len)
            : allocBuf(1 + rnd.nextInt((int)PAGE - 1), len, Zone.NORMAL);
        final byte[] exp = new byte[len];
        Pattern.fill(exp, 0, len, rnd.nextLong());
        cpuWrite(buf.phys, exp, 0, len);
        final long attrs = randomAttrs();
        final OpKind kind = viaPage ? OpKind.MAP_PAGE : OpKind.MAP_PHYS;
        begin(kind, d);
        final long dma;
        final Single h;
        d.mapStarted.incrementAndGet();
        try
        {
            dma = viaPage
                ? d.dev.mapPage(buf.phys >>> 12, buf.phys & PMASK, len, dir, attrs)
                : d.dev.mapPhys(buf.phys, len, dir, attrs);
            count(kind);
            if (checkMappingError(d, dma))
            {
                allowError(d, d.mayBounce(buf.phys, len), kind.label() + " of " + buf + " dir=" + dir);
                freeBuf(buf, null);
                return false;
            }
            h = new Single(d, dir, id, opNo, kind, buf, null, buf.phys, len, dma, attrs, exp);
            checkPlacement(h, buf.phys, len, dma);
            register(h, dma, len);
            live.add(h);
        }
        finally
        {
            d.mapDone.incrementAndGet();
        }
        if (dir != DmaDirection.FROM_DEVICE)
        {
            deviceReadVerify(h, dma, exp, 0, len);
            checkUntrustedPadding(h, buf.phys, len, dma);
        }
        return true;
    }

    private void createPages(final DevSlot d, final DmaDirection dir)
    {
        final int size = randomSize(MAX_SIZE);
        begin(OpKind.ALLOC_PAGES, d);
        d.mapStarted.incrementAndGet();
        final DmaBuffer buf;
        final Single h;
        try
        {
            buf = d.dev.allocPages(size, dir);
            count(OpKind.ALLOC_PAGES);
            if (buf == null)
            {
                throw fail("allocPages(" + size + ", " + dir + ") returned null with RAM to spare", null);
            }
            h = new Single(d, dir, id, opNo, OpKind.ALLOC_PAGES, null, buf, buf.phys(), (int)buf.size(), buf.dma(),
                0, new byte[(int)buf.size()]);
            checkAllocation(h, buf, size, d.mask);
            register(h, buf.dma(), (int)buf.size());
            live.add(h);
        }
        finally
        {
            d.mapDone.incrementAndGet();
        }
        cpuReadVerify(h, buf.phys(), h.expected, 0, h.len, "allocPages memory must be zeroed");
        syncSingle(h);
    }

    private void syncSingle(final Single h)
    {
        final DevSlot d = h.d;
        final int so = rnd.nextBoolean() ? 0 : rnd.nextInt(h.len);
        final int sl = rnd.nextBoolean() ? h.len - so : 1 + rnd.nextInt(h.len - so);
        final boolean toCpu = h.dir == DmaDirection.FROM_DEVICE || (h.dir == DmaDirection.BIDIRECTIONAL && rnd.nextBoolean());
        if (toCpu)
        {
            begin(OpKind.SYNC_SINGLE_FOR_CPU, d);
            Pattern.fill(h.expected, so, sl, rnd.nextLong());
            deviceWrite(h, h.dma + so, h.expected, so, sl, so + sl == h.len);
            if (injection != Injection.SKIP_SYNC_FOR_CPU)
            {
                d.dev.syncSingleForCpu(h.dma + so, sl, h.dir);
            }
            count(OpKind.SYNC_SINGLE_FOR_CPU);
            cpuReadVerify(h, h.phys + so, h.expected, so, sl, "after syncSingleForCpu the CPU must see the device's write");
            begin(OpKind.SYNC_SINGLE_FOR_DEVICE, d);
            d.dev.syncSingleForDevice(h.dma + so, sl, h.dir);
            count(OpKind.SYNC_SINGLE_FOR_DEVICE);
        }
        else
        {
            begin(OpKind.SYNC_SINGLE_FOR_CPU, d);
            d.dev.syncSingleForCpu(h.dma + so, sl, h.dir);
            count(OpKind.SYNC_SINGLE_FOR_CPU);
            Pattern.fill(h.expected, so, sl, rnd.nextLong());
            cpuWrite(h.phys + so, h.expected, so, sl);
            begin(OpKind.SYNC_SINGLE_FOR_DEVICE, d);
            d.dev.syncSingleForDevice(h.dma + so, sl, h.dir);
            count(OpKind.SYNC_SINGLE_FOR_DEVICE);
            deviceReadVerify(h, h.dma + so, h.expected, so, sl);
        }
    }

    private void releaseSingle(final Single h)
    {
        final DevSlot d = h.d;
        if (h.dir != DmaDirection.TO_DEVICE)
        {
            final int so = rnd.nextBoolean() ? 0 : rnd.nextInt(h.len);
            final int sl = h.len - so;
            Pattern.fill(h.expected, so, sl, rnd.nextLong());
            deviceWrite(h, h.dma + so, h.expected, so, sl, true);
        }
        unregister(h);
        if (h.how == OpKind.ALLOC_PAGES)
        {
            if (h.dir != DmaDirection.TO_DEVICE)
            {
                begin(OpKind.SYNC_SINGLE_FOR_CPU, d);
                d.dev.syncSingleForCpu(h.dma, h.len, h.dir);
                count(OpKind.SYNC_SINGLE_FOR_CPU);
            }
            cpuReadVerify(h, h.phys, h.expected, 0, h.len, "allocPages memory after the device's last write");
            begin(OpKind.FREE_PAGES, d);
            d.dev.freePages(h.pagesBuf, h.dir);
            count(OpKind.FREE_PAGES);
            probeAfterUnmap(h, h.dma);
            return;
        }
        final OpKind kind = h.how == OpKind.MAP_PAGE ? OpKind.UNMAP_PAGE : OpKind.UNMAP_PHYS;
        begin(kind, d);
        if (kind == OpKind.UNMAP_PAGE)
        {
            d.dev.unmapPage(h.dma, h.len, h.dir, h.attrs);
        }
        else
        {
            d.dev.unmapPhys(h.dma, h.len, h.dir, h.attrs);
        }
        count(kind);
        probeAfterUnmap(h, h.dma);
        cpuReadVerify(h, h.phys, h.expected, 0, h.len, "after unmap the CPU must see the mapping's final bytes");
        freeBuf(h.buf, h);
    }

    // ------------------------------------------------------------------------------------------------ sg

    private void createSg(final DevSlot d, final DmaDirection dir, final boolean table)
    {
        final int n = 1 + rnd.nextInt(MAX_SG);
        final Buf[] bufs = new Buf[n];
        final int[] offsets = new int[n];
        final SgTable sgt = table ? new SgTable(n) : null;
        final ScatterList sgl = table ? sgt.sgl() : new ScatterList(n);
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            final int len = randomSize(n > 4 ? MAX_SIZE / 4 : MAX_SIZE);
            bufs[i] = allocBuf(randomOffset(), len);
            offsets[i] = total;
            total += len;
            if (table)
            {
                sgt.set(i, bufs[i].phys, len);
            }
            else
            {
                sgl.set(i, bufs[i].phys, len);
            }
        }
        final byte[] exp = new byte[total];
        Pattern.fill(exp, 0, total, rnd.nextLong());
        for (int i = 0; i < n; i++)
        {
            cpuWrite(bufs[i].phys, exp, offsets[i], bufs[i].len);
        }
        final long attrs = randomAttrs();
        final OpKind kind = table ? OpKind.MAP_SGTABLE : OpKind.MAP_SG;
        begin(kind, d);
        d.mapStarted.incrementAndGet();
        final Sg h;
        try
        {
            final int mapped;
            if (table)
            {
                final int rc = d.dev.mapSgtable(sgt, dir, attrs);
                mapped = rc == 0 ? sgt.nents() : rc;
            }
            else
            {
                mapped = d.dev.mapSg(sgl, n, dir, attrs);
            }
            count(kind);
            boolean mayBounce = false;
            for (final Buf buf : bufs)
            {
                mayBounce |= d.mayBounce(buf.phys, buf.len);
            }
            if (mapped <= 0)
            {
                if (table && mapped != -Errno.ENOMEM && mapped != -Errno.EIO && mapped != -Errno.EINVAL &&
                    mapped != -Errno.EREMOTEIO)
                {
                    throw fail("mapSgtable returned " + mapped + ", not 0 or -EINVAL/-ENOMEM/-EIO/-EREMOTEIO", null);
                }
                allowError(d, mayBounce, kind.label() + " of " + n + " entries dir=" + dir + " returned " + mapped);
                for (final Buf buf : bufs)
                {
                    freeBuf(buf, null);
                }
                return;
            }
            h = new Sg(d, dir, id, opNo, table, sgt, sgl, bufs, offsets, total, mapped, attrs, exp);
            checkSgLayout(h);
            for (int i = 0; i < mapped; i++)
            {
                register(h, sgl.dmaAddress(i), (int)sgl.dmaLength(i));
            }
            live.add(h);
        }
        finally
        {
            d.mapDone.incrementAndGet();
        }
        if (dir != DmaDirection.FROM_DEVICE)
        {
            deviceReadSg(h);
        }
    }

    private void checkSgLayout(final Sg h)
    {
        if (h.mapped > h.nents)
        {
            throw fail("mapSg returned " + h.mapped + " segments for " + h.nents + " entries", h);
        }
        long sum = 0;
        for (int i = 0; i < h.mapped; i++)
        {
            final long len = h.sgl.dmaLength(i);
            if (len <= 0)
            {
                throw fail("mapped sg segment " + i + " has DMA length " + len, h);
            }
            checkReachable(h, h.sgl.dmaAddress(i), len);
            sum += len;
        }
        if (sum != h.total)
        {
            throw fail("mapped sg segments hold " + sum + " bytes, the entries " + h.total, h);
        }
        for (int i = 0; i < h.nents; i++)
        {
            if (h.sgl.phys(i) != h.bufs[i].phys || h.sgl.length(i) != h.bufs[i].len)
            {
                throw fail("mapSg left entry " + i + " as 0x" + Long.toHexString(h.sgl.phys(i)) + "+" +
                    h.sgl.length(i) + ", the driver set " + h.bufs[i], h);
            }
        }
    }

    private void syncSg(final Sg h)
    {
        final DevSlot d = h.d;
        final boolean toCpu = h.dir == DmaDirection.FROM_DEVICE || (h.dir == DmaDirection.BIDIRECTIONAL && rnd.nextBoolean());
        if (toCpu)
        {
            begin(OpKind.SYNC_SG_FOR_CPU, d);
            Pattern.fill(h.expected, 0, h.total, rnd.nextLong());
            deviceWriteSg(h);
            d.dev.syncSgForCpu(h.sgl, h.nents, h.dir);
            count(OpKind.SYNC_SG_FOR_CPU);
            cpuVerifyEntries(h.bufs, h.offsets, h.expected, h, "after syncSgForCpu the CPU must see the device's write");
            begin(OpKind.SYNC_SG_FOR_DEVICE, d);
            d.dev.syncSgForDevice(h.sgl, h.nents, h.dir);
            count(OpKind.SYNC_SG_FOR_DEVICE);
        }
        else
        {
            begin(OpKind.SYNC_SG_FOR_CPU, d);
            d.dev.syncSgForCpu(h.sgl, h.nents, h.dir);
            count(OpKind.SYNC_SG_FOR_CPU);
            Pattern.fill(h.expected, 0, h.total, rnd.nextLong());
            for (int i = 0; i < h.nents; i++)
            {
                cpuWrite(h.bufs[i].phys, h.expected, h.offsets[i], h.bufs[i].len);
            }
            begin(OpKind.SYNC_SG_FOR_DEVICE, d);
            d.dev.syncSgForDevice(h.sgl, h.nents, h.dir);
            count(OpKind.SYNC_SG_FOR_DEVICE);
            deviceReadSg(h);
        }
    }

    private void releaseSg(final Sg h)
    {
        final DevSlot d = h.d;
        if (h.dir != DmaDirection.TO_DEVICE)
        {
            Pattern.fill(h.expected, 0, h.total, rnd.nextLong());
            deviceWriteSg(h);
        }
        unregister(h);
        final long firstDma = h.sgl.dmaAddress(0);
        if (h.table)
        {
            begin(OpKind.UNMAP_SGTABLE, d);
            d.dev.unmapSgtable(h.sgt, h.dir, h.attrs);
            count(OpKind.UNMAP_SGTABLE);
        }
        else
        {
            begin(OpKind.UNMAP_SG, d);
            d.dev.unmapSg(h.sgl, h.nents, h.dir, h.attrs);
            count(OpKind.UNMAP_SG);
        }
        probeAfterUnmap(h, firstDma);
        cpuVerifyEntries(h.bufs, h.offsets, h.expected, h, "after unmapSg the CPU must see the device's last write");
        for (final Buf buf : h.bufs)
        {
            freeBuf(buf, h);
        }
    }

    /** The device reads the segments in order: their bytes, concatenated, are the entries' bytes. */
    private void deviceReadSg(final Sg h)
    {
        int pos = 0;
        for (int i = 0; i < h.mapped; i++)
        {
            final int len = (int)h.sgl.dmaLength(i);
            deviceRead(h, h.sgl.dmaAddress(i), pos, len);
            pos += len;
        }
        verify(h, h.expected, 0, b, 0, h.total, -1, h.sgl.dmaAddress(0),
            "the device read through the sg segments other bytes than the CPU entries hold");
    }

    private void deviceWriteSg(final Sg h)
    {
        int pos = 0;
        for (int i = 0; i < h.mapped; i++)
        {
            final int len = (int)h.sgl.dmaLength(i);
            System.arraycopy(h.expected, pos, a, 0, len);
            deviceTransfer(h, h.sgl.dmaAddress(i), segA, 0, len, true);
            pos += len;
        }
    }

    // ------------------------------------------------------------------------------------------------ coherent

    private void createCoherent(final DevSlot d)
    {
        final int size = randomSize(MAX_SIZE);
        begin(OpKind.ALLOC_COHERENT, d);
        d.mapStarted.incrementAndGet();
        final Coherent h;
        try
        {
            final DmaBuffer buf = d.dev.allocCoherent(size);
            count(OpKind.ALLOC_COHERENT);
            if (buf == null)
            {
                throw fail("allocCoherent(" + size + ") returned null with RAM to spare", null);
            }
            h = new Coherent(d, id, opNo, buf, size);
            checkAllocation(h, buf, size, d.dev.coherentMask());
            register(h, buf.dma(), (int)buf.size());
            live.add(h);
        }
        finally
        {
            d.mapDone.incrementAndGet();
        }
        final int len = (int)h.buf.size();
        final byte[] zero = new byte[len];
        cpuReadVerify(h, h.buf.phys(), zero, 0, len, "allocCoherent memory must be zeroed");
        coherentIo(h);
    }

    /** CPU and device see each other's writes at once, without any sync. */
    private void coherentIo(final Coherent h)
    {
        final int size = (int)h.buf.size();
        final MemorySegment view = h.buf.segment();
        int off = rnd.nextInt(size);
        int len = 1 + rnd.nextInt(size - off);
        Pattern.fill(a, 0, len, rnd.nextLong());
        if (view != null)
        {
            MemorySegment.copy(segA, 0, view, off, len);
        }
        else
        {
            cpuWrite(h.buf.phys() + off, a, 0, len);
        }
        deviceRead(h, h.buf.dma() + off, 0, len);
        verify(h, a, 0, b, 0, len, h.buf.phys() + off, h.buf.dma() + off,
            "the device must see the CPU's write to coherent memory at once");
        off = rnd.nextInt(size);
        len = 1 + rnd.nextInt(size - off);
        Pattern.fill(a, 0, len, rnd.nextLong());
        deviceTransfer(h, h.buf.dma() + off, segA, 0, len, true);
        if (view != null)
        {
            MemorySegment.copy(view, off, segB, 0, len);
            verify(h, a, 0, b, 0, len, h.buf.phys() + off, h.buf.dma() + off,
                "the CPU view (DmaBuffer.segment) must see the device's write to coherent memory at once");
        }
        cpuReadVerify(h, h.buf.phys() + off, a, 0, len, "the CPU must see the device's write to coherent memory at once");
    }

    private void releaseCoherent(final Coherent h)
    {
        if (rnd.nextBoolean())
        {
            coherentIo(h);
        }
        unregister(h);
        begin(OpKind.FREE_COHERENT, h.d);
        h.d.dev.freeCoherent(h.buf);
        count(OpKind.FREE_COHERENT);
        probeAfterUnmap(h, h.buf.dma());
    }

    private void checkAllocation(final Live h, final DmaBuffer buf, final long size, final long mask)
    {
        if (buf.size() < size || (buf.size() & PMASK) != 0 || (buf.phys() & PMASK) != 0 || (buf.dma() & PMASK) != 0)
        {
            throw fail("allocation of " + size + " bytes returned " + buf + ": not whole pages covering the size", h);
        }
        if (Long.compareUnsigned(buf.dma() + buf.size() - 1, mask) > 0)
        {
            throw fail("allocation beyond the device's mask 0x" + Long.toHexString(mask) + ": " + buf, h);
        }
        if (!h.d.translated && buf.dma() != buf.phys())
        {
            throw fail("dma-direct allocation whose DMA address is not its physical address: " + buf, h);
        }
    }

    // ------------------------------------------------------------------------------------------------ 2-step

    private void createIova(final DevSlot d, final DmaDirection dir)
    {
        final int links = 1 + rnd.nextInt(4);
        final int off0 = randomOffset();
        final int[] lens = new int[links];
        if (links == 1)
        {
            lens[0] = randomSize(MAX_SIZE);
        }
        else
        {
            lens[0] = (int)(PAGE - off0) + (int)PAGE * rnd.nextInt(3);
            for (int i = 1; i < links - 1; i++)
            {
                lens[i] = (int)PAGE * (1 + rnd.nextInt(4));
            }
            lens[links - 1] = 1 + rnd.nextInt(16 << 10);
        }
        final Buf[] bufs = new Buf[links];
        final int[] offsets = new int[links];
        int total = 0;
        for (int i = 0; i < links; i++)
        {
            bufs[i] = allocBuf(i == 0 ? off0 : 0, lens[i]);
            offsets[i] = total;
            total += lens[i];
        }
        final byte[] exp = new byte[total];
        Pattern.fill(exp, 0, total, rnd.nextLong());
        for (int i = 0; i < links; i++)
        {
            cpuWrite(bufs[i].phys, exp, offsets[i], lens[i]);
        }
        final IovaState s = new IovaState();
        final long attrs = randomAttrs();
        begin(OpKind.IOVA_TRY_ALLOC, d);
        d.mapStarted.incrementAndGet();
        final Iova h;
        try
        {
            final boolean ok = d.dev.iovaTryAlloc(s, bufs[0].phys, total);
            count(OpKind.IOVA_TRY_ALLOC);
            if (!d.translated)
            {
                if (ok)
                {
                    throw fail("iovaTryAlloc succeeded on an untranslated device: " + s, null);
                }
                mapErrors[MapErrorCause.NO_IOMMU_FOR_IOVA.ordinal()]++;
                for (final Buf buf : bufs)
                {
                    freeBuf(buf, null);
                }
                return;
            }
            if (!ok)
            {
                throw fail("iovaTryAlloc(" + total + " bytes) refused on a translated device (IOVA space is vast)",
                    null);
            }
            h = new Iova(d, dir, id, opNo, s, bufs, offsets, total, attrs, exp);
            if (s.size() != total || (s.addr() & PMASK) != (bufs[0].phys & PMASK))
            {
                throw fail("iovaTryAlloc state does not keep the size and the first link's page offset", h);
            }
            checkReachable(h, s.addr(), total);
            register(h, s.addr(), total);
        }
        finally
        {
            d.mapDone.incrementAndGet();
        }
        for (int i = 0; i < links; i++)
        {
            begin(OpKind.IOVA_LINK, d);
            final int rc = d.dev.iovaLink(s, bufs[i].phys, offsets[i], lens[i], dir, attrs);
            count(OpKind.IOVA_LINK);
            if (rc != 0)
            {
                if (rc != -Errno.ENOMEM || !d.mayBounce(bufs[i].phys, lens[i]))
                {
                    throw fail("iovaLink of link " + i + " returned " + rc, h);
                }
                mapErrors[MapErrorCause.SWIOTLB_FULL.ordinal()]++;
                unregister(h);
                begin(OpKind.IOVA_DESTROY, d);
                d.dev.iovaDestroy(s, offsets[i], dir, attrs);
                count(OpKind.IOVA_DESTROY);
                for (final Buf buf : bufs)
                {
                    freeBuf(buf, null);
                }
                return;
            }
        }
        live.add(h);
        if (rnd.nextBoolean())
        {
            begin(OpKind.IOVA_SYNC, d);
            check(d.dev.iovaSync(s, 0, total) == 0, "iovaSync failed", h);
            count(OpKind.IOVA_SYNC);
        }
        else
        {
            for (int i = 0; i < links; i++)
            {
                begin(OpKind.IOVA_SYNC, d);
                check(d.dev.iovaSync(s, offsets[i], lens[i]) == 0, "iovaSync of link " + i + " failed", h);
                count(OpKind.IOVA_SYNC);
            }
        }
        iovaIo(h);
    }

    /** The device sees the links as one contiguous range at {@code s.addr()}. */
    private void iovaIo(final Iova h)
    {
        if (h.dir != DmaDirection.FROM_DEVICE)
        {
            deviceRead(h, h.s.addr(), 0, h.total);
            verify(h, h.expected, 0, b, 0, h.total, h.bufs[0].phys, h.s.addr(),
                "the device read through the linked IOVA range other bytes than the links hold");
        }
        if (h.dir != DmaDirection.TO_DEVICE && rnd.nextBoolean())
        {
            final int off = rnd.nextInt(h.total);
            final int len = 1 + rnd.nextInt(h.total - off);
            Pattern.fill(h.expected, off, len, rnd.nextLong());
            System.arraycopy(h.expected, off, a, 0, len);
            deviceTransfer(h, h.s.addr() + off, segA, 0, len, true);
        }
    }

    private void releaseIova(final Iova h)
    {
        final DevSlot d = h.d;
        if (rnd.nextBoolean())
        {
            iovaIo(h);
        }
        unregister(h);
        final long addr = h.s.addr();
        if (rnd.nextBoolean())
        {
            begin(OpKind.IOVA_DESTROY, d);
            d.dev.iovaDestroy(h.s, h.total, h.dir, h.attrs);
            count(OpKind.IOVA_DESTROY);
            check(!h.s.inUse(), "iovaDestroy left the state in use", h);
            probeAfterUnmap(h, addr);
        }
        else
        {
            final int n = h.bufs.length;
            final int first = rnd.nextInt(n);
            for (int j = 0; j < n; j++)
            {
                final int i = (first + j) % n;
                begin(OpKind.IOVA_UNLINK, d);
                d.dev.iovaUnlink(h.s, h.offsets[i], h.bufs[i].len, h.dir, h.attrs);
                count(OpKind.IOVA_UNLINK);
                // The IOVA is still ours: nothing can reuse it, and unlink syncs the IOTLB at once in every mode.
                probeMustFault(h, addr + h.offsets[i], "iovaUnlink");
            }
            begin(OpKind.IOVA_FREE, d);
            d.dev.iovaFree(h.s);
            count(OpKind.IOVA_FREE);
            check(!h.s.inUse(), "iovaFree left the state in use", h);
        }
        cpuVerifyEntries(h.bufs, h.offsets, h.expected, h, "after unlinking the CPU must see the device's writes");
        for (final Buf buf : h.bufs)
        {
            freeBuf(buf, h);
        }
    }

    // ------------------------------------------------------------------------------------------------ resource

    /** Maps a piece of the peer BAR (this thread's slice of it), moves bytes both ways, unmaps. */
    private void resource(final DevSlot d, final DmaDirection dir)
    {
        final boolean strictAlign = d.translated && d.untrusted;
        // the first untrusted MMIO map of a run always tries the refused (unaligned) case, then 1 in 8
        final boolean mustFail = strictAlign && (!unalignedMmioTried || rnd.nextInt(8) == 0);
        unalignedMmioTried |= strictAlign;
        long off;
        int len;
        if (strictAlign && !mustFail)
        {
            len = (int)PAGE * (1 + rnd.nextInt(4));
            off = PAGE * rnd.nextLong((barLen - len) / PAGE + 1);
        }
        else
        {
            len = randomSize((int)Math.min(16 << 10, barLen));
            off = rnd.nextLong(barLen - len + 1);
            if (mustFail && ((off | len) & PMASK) == 0)
            {
                len = len > 1 ? len - 1 : len;
                off = off > 0 ? off - 1 : off;
            }
        }
        final long phys = barBase + off;
        Pattern.fill(a, 0, len, rnd.nextLong());
        cpuWrite(phys, a, 0, len);
        final long attrs = randomAttrs();
        begin(OpKind.MAP_RESOURCE, d);
        d.mapStarted.incrementAndGet();
        final Single h;
        try
        {
            final long dma = d.dev.mapResource(phys, len, dir, attrs);
            count(OpKind.MAP_RESOURCE);
            final boolean err = checkMappingError(d, dma);
            if (mustFail)
            {
                if (!err)
                {
                    d.dev.unmapResource(dma, len, dir, attrs);
                    throw fail("an untrusted device mapped MMIO at 0x" + Long.toHexString(phys) + "+" + len +
                        " (not granule-aligned): it cannot be bounced and must be refused", null);
                }
                mapErrors[MapErrorCause.UNTRUSTED_UNALIGNED_MMIO.ordinal()]++;
                return;
            }
            if (err)
            {
                throw fail("unexpected DMA_MAPPING_ERROR from mapResource(0x" + Long.toHexString(phys) + ", " + len +
                    ", " + dir + ")", null);
            }
            h = new Single(d, dir, id, opNo, OpKind.MAP_RESOURCE, null, null, phys, len, dma, attrs, null);
            checkReachable(h, dma, len);
            if (!d.translated && dma != phys)
            {
                throw fail("dma-direct resource mapping whose DMA address is not the bus address", h);
            }
            register(h, dma, len);
        }
        finally
        {
            d.mapDone.incrementAndGet();
        }
        if (dir != DmaDirection.FROM_DEVICE)
        {
            deviceRead(h, h.dma, 0, len);
            verify(h, a, 0, b, 0, len, phys, h.dma, "the device must read the peer BAR's bytes through the mapping");
        }
        if (dir != DmaDirection.TO_DEVICE)
        {
            Pattern.fill(a, 0, len, rnd.nextLong());
            deviceTransfer(h, h.dma, segA, 0, len, true);
            check(mem.read(phys, segB, 0, len) == MemTx.OK, "CPU read of the BAR failed", h);
            verify(h, a, 0, b, 0, len, phys, h.dma, "the device's write must reach the peer BAR");
        }
        unregister(h);
        begin(OpKind.UNMAP_RESOURCE, d);
        d.dev.unmapResource(h.dma, len, dir, attrs);
        count(OpKind.UNMAP_RESOURCE);
        probeAfterUnmap(h, h.dma);
    }

    // ------------------------------------------------------------------------------------------------ invariants

    private boolean checkMappingError(final DevSlot d, final long dma)
    {
        final boolean err = d.dev.mappingError(dma);
        count(OpKind.MAPPING_ERROR);
        if (err != (dma == -1L))
        {
            throw fail("mappingError(0x" + Long.toHexString(dma) + ") returned " + err, null);
        }
        return err;
    }

    private void allowError(final DevSlot d, final boolean mayBounce, final String what)
    {
        if (!mayBounce)
        {
            throw fail("unexpected mapping error: " + what + " (no bounce needed, IOVA space not exhausted)", null);
        }
        mapErrors[MapErrorCause.SWIOTLB_FULL.ordinal()]++;
    }

    /** Where dma-direct must put a mapping; and that every mapping is reachable by the device. */
    private void checkPlacement(final Single h, final long phys, final long len, final long dma)
    {
        checkReachable(h, dma, len);
        if (!h.d.translated)
        {
            if (!h.d.mayBounce(phys, len) && dma != phys)
            {
                throw fail("dma-direct mapped a reachable buffer at DMA address != its physical address", h);
            }
        }
        else if (!h.d.untrusted && (dma & PMASK) != (phys & PMASK))
        {
            throw fail("the IOVA does not keep the buffer's offset in its page", h);
        }
    }

    private void checkReachable(final Live h, final long dma, final long len)
    {
        if (Long.compareUnsigned(dma + len - 1, h.d.mask) > 0)
        {
            throw fail("DMA address 0x" + Long.toHexString(dma) + "+" + len + " is beyond the device's mask 0x" +
                Long.toHexString(h.d.mask), h);
        }
    }

    /** An untrusted device must read zeros, not the neighbours' bytes, in the granules around a bounced buffer. */
    private void checkUntrustedPadding(final Single h, final long phys, final int len, final long dma)
    {
        if (!h.d.translated || !h.d.untrusted || ((phys | len) & PMASK) == 0)
        {
            return;
        }
        final long start = dma & ~PMASK;
        final long end = (dma + len + PMASK) & ~PMASK;
        final int head = (int)(dma - start);
        final int tail = (int)(end - dma - len);
        final byte[] zero = new byte[(int)PAGE];
        if (head > 0)
        {
            deviceRead(h, start, 0, head);
            verify(h, zero, 0, b, 0, head, -1, start, "an untrusted device read other bytes than zeros in the " +
                "padding before its bounced mapping");
        }
        if (tail > 0)
        {
            deviceRead(h, dma + len, 0, tail);
            verify(h, zero, 0, b, 0, tail, -1, dma + len, "an untrusted device read other bytes than zeros in the " +
                "padding after its bounced mapping");
        }
    }

    private void register(final Live h, final long dma, final int len)
    {
        final long start = h.d.translated ? dma & ~PMASK : dma;
        final long end = h.d.translated ? (dma + len + PMASK) & ~PMASK : dma + len;
        final DmaRanges.Range r = new DmaRanges.Range(start, end, h);
        final DmaRanges.Range other = h.d.ranges.add(r);
        if (other != null)
        {
            throw fail("two live mappings of " + h.d.dev.name() + " overlap in DMA address space: [0x" +
                Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ") and " + other, h,
                "other    " + other.owner);
        }
        h.ranges.add(r);
    }

    private void unregister(final Live h)
    {
        for (final DmaRanges.Range r : h.ranges)
        {
            check(h.d.ranges.remove(r), "a live range vanished from the registry", h);
        }
        h.ranges.clear();
    }

    /**
     * After an unmap of {@code dma}: in STRICT mode the device must fault, unless the address may have been handed
     * out again (a map on this device was in flight between the unmap and the probe); in LAZY mode it may still
     * reach memory through a stale IOTLB entry (counted). The probe only reads.
     */
    private void probeAfterUnmap(final Live h, final long dma)
    {
        final DevSlot d = h.d;
        if (!d.translated)
        {
            return;
        }
        final long started = d.mapStarted.get();
        final long done = d.mapDone.get();
        final int rc = d.bus.dmaRead(dma, segB, 0, 1);
        final long startedAfter = d.mapStarted.get();
        if (rc == MemTx.TRANSLATION_FAULT || rc == MemTx.PERMISSION_FAULT)
        {
            probeFaults++;
            if (d.strict)
            {
                strictProbes++;
            }
            return;
        }
        if (rc != MemTx.OK)
        {
            throw fail("a device read after unmap returned " + MemTx.name(rc), h);
        }
        if (!d.strict)
        {
            lazyStaleProbes++;
            return;
        }
        final DmaRanges.Range now = d.ranges.find(dma);
        if (done != started || startedAfter != started || now != null)
        {
            probesSkipped++;
            return;
        }
        throw fail("STRICT mode: the device still reached DMA address 0x" + Long.toHexString(dma) +
            " after the unmap returned (no mapping of it was in flight or live)", h);
    }

    private void probeMustFault(final Live h, final long dma, final String after)
    {
        final int rc = h.d.bus.dmaRead(dma, segB, 0, 1);
        if (rc != MemTx.TRANSLATION_FAULT && rc != MemTx.PERMISSION_FAULT)
        {
            throw fail("the device reached DMA address 0x" + Long.toHexString(dma) + " after " + after +
                " returned (" + MemTx.name(rc) + "); the IOVA is still allocated, so nothing else maps it", h);
        }
        probeFaults++;
        strictProbes++;
    }

    private void checkDebug()
    {
        if (engine.debugEnabled() && engine.debug().errorCount() != 0)
        {
            final List<DebugReport> reports = engine.debug().reports();
            throw fail("dma-debug reported " + reports.size() + " problem(s); the first:", null,
                indent(reports.isEmpty() ? "(none kept)" : reports.getFirst().toString()));
        }
    }

    private void check(final boolean ok, final String what, final Live h)
    {
        if (!ok)
        {
            throw fail(what, h);
        }
    }

    // ------------------------------------------------------------------------------------------------ data

    private void cpuWrite(final long phys, final byte[] src, final int off, final int len)
    {
        System.arraycopy(src, off, a, 0, len);
        final int rc = mem.write(phys, segA, 0, len);
        if (rc != MemTx.OK)
        {
            throw fail("CPU write of 0x" + Long.toHexString(phys) + "+" + len + " returned " + MemTx.name(rc), null);
        }
    }

    private void cpuReadVerify(final Live h, final long phys, final byte[] exp, final int off, final int len,
        final String what)
    {
        final int rc = mem.read(phys, segB, 0, len);
        if (rc != MemTx.OK)
        {
            throw fail("CPU read of 0x" + Long.toHexString(phys) + "+" + len + " returned " + MemTx.name(rc), h);
        }
        verify(h, exp, off, b, 0, len, phys, -1, what);
    }

    private void cpuVerifyEntries(final Buf[] bufs, final int[] offsets, final byte[] exp, final Live h,
        final String what)
    {
        for (int i = 0; i < bufs.length; i++)
        {
            cpuReadVerify(h, bufs[i].phys, exp, offsets[i], bufs[i].len, what + " (entry " + i + ")");
        }
    }

    /** The device reads {@code len} bytes at {@code dma} into {@code b[pos..]}; a fault on a live mapping fails. */
    private void deviceRead(final Live h, final long dma, final int pos, final int len)
    {
        deviceTransfer(h, dma, segB, pos, len, false);
    }

    private void deviceReadVerify(final Live h, final long dma, final byte[] exp, final int off, final int len)
    {
        deviceRead(h, dma, 0, len);
        verify(h, exp, off, b, 0, len, -1, dma, "the device read through its mapping other bytes than the CPU wrote");
    }

    /** The device writes {@code exp[off..off+len)} at {@code dma}; the injected bug writes one byte more at the end. */
    private void deviceWrite(final Live h, final long dma, final byte[] exp, final int off, final int len,
        final boolean atEnd)
    {
        System.arraycopy(exp, off, a, 0, len);
        final int n = injection == Injection.DEVICE_WRITES_PAST_END && atEnd ? len + 1 : len;
        a[len] = (byte)~a[Math.max(0, len - 1)];
        deviceTransfer(h, dma, segA, 0, n, true);
    }

    private void deviceTransfer(final Live h, final long dma, final MemorySegment seg, final int pos, final int len,
        final boolean write)
    {
        final int rc = write ? h.d.bus.dmaWrite(dma, seg, pos, len) : h.d.bus.dmaRead(dma, seg, pos, len);
        count(write ? OpKind.DEVICE_WRITE : OpKind.DEVICE_READ);
        if (rc != MemTx.OK)
        {
            throw fail("device " + (write ? "write" : "read") + " of 0x" + Long.toHexString(dma) + "+" + len +
                " through a live mapping returned " + MemTx.name(rc), h);
        }
    }

    private void verify(final Live h, final byte[] exp, final int expOff, final byte[] act, final int actOff,
        final int len, final long phys, final long dma, final String what)
    {
        final int i = java.util.Arrays.mismatch(exp, expOff, expOff + len, act, actOff, actOff + len);
        if (i < 0)
        {
            bytesVerified += len;
            return;
        }
        throw fail(what, h,
            "mismatch at byte " + i + " of " + len + (phys >= 0 ? " (phys 0x" + Long.toHexString(phys + i) + ")" : "") +
                (dma != -1 ? " (dma 0x" + Long.toHexString(dma + i) + ")" : ""),
            Hex.around(exp, expOff, act, actOff, len, i));
    }

    // ------------------------------------------------------------------------------------------------ buffers

    private Buf allocBuf(final int off, final int len)
    {
        return allocBuf(off, len, rnd.nextInt(5) < 3 ? Zone.NORMAL : Zone.DMA32);
    }

    private Buf allocBuf(final int off, final int len, final Zone zone)
    {
        final long need = off + (long)len + GUARD;
        final int order = Math.max(0, 64 - Long.numberOfLeadingZeros((need - 1) >>> 12));
        final long block = pages.allocPages(order, zone);
        if (block == PageAllocator.NO_PAGE)
        {
            throw fail("the page allocator has no order-" + order + " block in " + zone + " (" +
                pages.freePageCount() + " pages free)", null);
        }
        final Buf buf = new Buf(block, order, block + off, len);
        final int before = Math.min(off, GUARD);
        canary(buf.phys - before, before, a, 0);
        canary(buf.phys + len, GUARD, a, before);
        check(before == 0 || mem.write(buf.phys - before, segA, 0, before) == MemTx.OK, "canary write failed", null);
        check(mem.write(buf.phys + len, segA, before, GUARD) == MemTx.OK, "canary write failed", null);
        return buf;
    }

    private void freeBuf(final Buf buf, final Live h)
    {
        final int before = (int)Math.min(buf.phys - buf.block, GUARD);
        canary(buf.phys - before, before, a, 0);
        check(before == 0 || mem.read(buf.phys - before, segB, 0, before) == MemTx.OK, "canary read failed", h);
        verify(h, a, 0, b, 0, before, buf.phys - before, -1,
            "bytes just before the buffer changed: something wrote outside its mapping");
        canary(buf.phys + buf.len, GUARD, a, 0);
        check(mem.read(buf.phys + buf.len, segB, 0, GUARD) == MemTx.OK, "canary read failed", h);
        verify(h, a, 0, b, 0, GUARD, buf.phys + buf.len, -1,
            "bytes just after the buffer changed: something wrote outside its mapping");
        pages.freePages(buf.block, buf.order);
    }

    private static void canary(final long phys, final int len, final byte[] dst, final int off)
    {
        for (int i = 0; i < len; i++)
        {
            final long p = phys + i;
            dst[off + i] = (byte)(0xA5 ^ (p * 0x9E3779B97F4A7C15L >>> 57));
        }
    }

    private int randomSize(final int max)
    {
        final int bits = rnd.nextInt(32 - Integer.numberOfLeadingZeros(max));
        return 1 + rnd.nextInt(Math.min(max, 1 << bits));
    }

    private int randomOffset()
    {
        return switch (rnd.nextInt(4))
        {
            case 0 -> 0;
            case 1 -> 64 * rnd.nextInt(64);
            default -> rnd.nextInt((int)PAGE);
        };
    }

    private long randomAttrs()
    {
        return switch (rnd.nextInt(8))
        {
            case 0 -> DmaAttrs.WEAK_ORDERING;
            case 1 -> DmaAttrs.NO_WARN;
            default -> DmaAttrs.NONE;
        };
    }

    // ------------------------------------------------------------------------------------------------ reporting

    private void begin(final OpKind kind, final DevSlot d)
    {
        op = kind;
        opDev = d;
    }

    private void count(final OpKind kind)
    {
        calls[kind.ordinal()]++;
    }

    private Failure fail(final String what, final Live h, final String... extra)
    {
        return new Failure(new StressViolation(what, context(h, extra)));
    }

    private String context(final Live h, final String... extra)
    {
        final StringBuilder sb = new StringBuilder();
        sb.append("  op       ").append(op == null ? "-" : op.label()).append(" (operation #").append(opNo)
            .append(" of thread ").append(id).append(", cpu ").append(cpu).append(", mode ")
            .append(run.mode.name().toLowerCase(java.util.Locale.ROOT)).append(", seed 0x")
            .append(Long.toHexString(run.config.seed())).append(")\n");
        final DevSlot d = h != null ? h.d : opDev;
        if (d != null)
        {
            sb.append("  device   ").append(d).append('\n');
        }
        if (h != null)
        {
            sb.append("  mapping  ").append(h).append('\n');
        }
        for (final String e : extra)
        {
            sb.append(e.startsWith("  ") ? "" : "  ").append(e).append('\n');
        }
        sb.append(ModeRun.statsLines(engine.stats()));
        return sb.toString();
    }

    private static String indent(final String text)
    {
        return "  " + text.replace("\n", "\n  ");
    }

    private static String stackOf(final Throwable t)
    {
        final StringBuilder sb = new StringBuilder("  thrown  ").append(t).append('\n');
        final StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < Math.min(st.length, 16); i++)
        {
            sb.append("    at ").append(st[i]).append('\n');
        }
        return sb.toString();
    }

    static long barSliceBytes(final int threads)
    {
        return (Machines.DEFAULT_BAR_SIZE / threads) & ~PMASK;
    }
}
