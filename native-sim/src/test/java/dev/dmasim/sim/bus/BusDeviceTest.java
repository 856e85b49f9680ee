package dev.dmasim.sim.bus;

import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.iommu.IoPageTable;
import dev.dmasim.sim.iommu.Iommu;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.iommu.IommuDomain;
import dev.dmasim.sim.iommu.IommuProt;
import dev.dmasim.sim.iommu.IommuStats;
import dev.dmasim.sim.iommu.TestMachine;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BusDeviceTest
{
    private static final long K4 = 4096;
    private static final int RW = IommuProt.READ | IommuProt.WRITE;

    private final TestMachine m = TestMachine.small();
    private final Iommu iommu = new Iommu(m.memory, m.pages, IommuConfig.defaults());
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close()
    {
        arena.close();
        m.close();
    }

    private BusDevice device(final int bits)
    {
        return new BusDevice(m.memory, "0000:03:00.0", bits, true, false);
    }

    private MemorySegment random(final SplittableRandom rnd, final long len)
    {
        final MemorySegment s = arena.allocate(len);
        for (long i = 0; i < len; i++)
        {
            s.set(ValueLayout.JAVA_BYTE, i, (byte)rnd.nextInt());
        }
        return s;
    }

    private long page()
    {
        final long p = m.pages.allocPages(0, Zone.NORMAL);
        assertThat(p).isPositive();
        return p;
    }

    enum Path
    {
        NO_IOMMU, IDENTITY, TRANSLATED
    }

    /**
     * CPU writes at physical addresses, the device reads through the bus (and the reverse), with bursts crossing page
     * boundaries. Under translation the IOVA range is contiguous but its pages are scattered in physical memory.
     */
    @ParameterizedTest
    @EnumSource(Path.class)
    void shouldMoveTheSameBytesBetweenCpuAndDeviceOnEveryPath(final Path path)
    {
        final long seed = 0x5EED_0000L + path.ordinal();
        final SplittableRandom rnd = new SplittableRandom(seed);
        final BusDevice dev = device(64);
        final int pages = 6;
        final long[] phys = new long[pages];
        for (int i = 0; i < pages; i++)
        {
            phys[i] = page();
            page(); // a gap, so consecutive IOVA pages are not physically contiguous
        }
        final long iovaBase = 0x7_0000_0000L;
        if (path == Path.IDENTITY)
        {
            dev.attach(iommu.allocDomain(DomainType.IDENTITY));
        }
        else if (path == Path.TRANSLATED)
        {
            final IommuDomain d = iommu.allocDomain(DomainType.DMA);
            for (int i = 0; i < pages; i++)
            {
                assertThat(d.map(iovaBase + i * K4, phys[i], K4, RW)).isZero();
            }
            dev.attach(d);
        }
        for (int round = 0; round < 40; round++)
        {
            // a burst inside the mapped window that usually crosses one or more page boundaries
            final long start = rnd.nextLong(pages * K4 - 1);
            final long len = 1 + rnd.nextLong(Math.min(3 * K4, pages * K4 - start));
            final String ctx = "seed=" + seed + " round=" + round + " start=" + start + " len=" + len;
            final MemorySegment cpu = random(rnd, len);
            // CPU writes the bytes page by page at their physical homes
            cpuWrite(path, phys, iovaBase, start, cpu);
            final MemorySegment seen = arena.allocate(len + 16);
            final long busAddr = busAddr(path, phys, iovaBase, start);
            assertThat(dev.dmaRead(busAddr, seen, 8, len)).as(ctx).isEqualTo(MemTx.OK);
            assertThat(seen.asSlice(8, len).mismatch(cpu)).as(ctx + " device read").isEqualTo(-1L);
            // and the reverse: the device writes, the CPU reads
            final MemorySegment devData = random(rnd, len);
            assertThat(dev.dmaWrite(busAddr, devData)).as(ctx).isEqualTo(MemTx.OK);
            assertThat(cpuRead(path, phys, iovaBase, start, len).mismatch(devData)).as(ctx + " device write")
                .isEqualTo(-1L);
        }
        if (path == Path.TRANSLATED)
        {
            final IommuStats s = iommu.stats();
            assertThat(s.iotlbMisses()).as("one walk per page").isEqualTo(pages);
            assertThat(s.iotlbHits()).isPositive();
        }
    }

    /** Untranslated paths use one contiguous physical range starting at phys[0]; translated ones the scattered pages. */
    private static long busAddr(final Path path, final long[] phys, final long iovaBase, final long offset)
    {
        return path == Path.TRANSLATED ? iovaBase + offset : phys[0] + offset;
    }

    private void cpuWrite(final Path path, final long[] phys, final long iovaBase, final long start, final MemorySegment src)
    {
        long done = 0;
        while (done < src.byteSize())
        {
            final long off = start + done;
            final long chunk = Math.min(src.byteSize() - done, K4 - (off & (K4 - 1)));
            final long pa = path == Path.TRANSLATED ? phys[(int)(off / K4)] + (off & (K4 - 1)) : phys[0] + off;
            assertThat(m.memory.write(pa, src, done, chunk)).isEqualTo(MemTx.OK);
            done += chunk;
        }
    }

    private MemorySegment cpuRead(final Path path, final long[] phys, final long iovaBase, final long start, final long len)
    {
        final MemorySegment dst = arena.allocate(len);
        long done = 0;
        while (done < len)
        {
            final long off = start + done;
            final long chunk = Math.min(len - done, K4 - (off & (K4 - 1)));
            final long pa = path == Path.TRANSLATED ? phys[(int)(off / K4)] + (off & (K4 - 1)) : phys[0] + off;
            assertThat(m.memory.read(pa, dst, done, chunk)).isEqualTo(MemTx.OK);
            done += chunk;
        }
        return dst;
    }

    private record Fault(int rid, long addr, int access, int reason, int domain)
    {
    }

    private List<Fault> drainFaults()
    {
        final List<Fault> faults = new ArrayList<>();
        iommu.faults().poll((rid, addr, access, reason, dom, ts) -> faults.add(new Fault(rid, addr, access, reason, dom)),
            100);
        return faults;
    }

    @Test
    void shouldKeepTranslatingStaleUntilInvalidatedThenFaultAndRecordIt()
    {
        final BusDevice dev = device(64);
        final IommuDomain d = iommu.allocDomain(DomainType.DMA_FQ);
        dev.attach(d);
        final long iova = 0x10_0000L;
        final long p1 = page();
        m.memory.fill(p1, K4, (byte)0x11);
        assertThat(d.map(iova, p1, K4, IommuProt.READ)).isZero();
        final MemorySegment buf = arena.allocate(64);
        assertThat(dev.dmaRead(iova + 100, buf)).isEqualTo(MemTx.OK); // fills the IOTLB

        assertThat(d.unmap(iova, K4)).isEqualTo(K4);
        assertThat(d.iovaToPhys(iova)).as("the page table no longer maps it").isEqualTo(-1L);
        buf.fill((byte)0);
        assertThat(dev.dmaRead(iova + 100, buf)).as("stale IOTLB entry still translates").isEqualTo(MemTx.OK);
        assertThat(buf.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)0x11);
        assertThat(iommu.stats().staleHits()).isEqualTo(1);
        final TlbEntry e = new TlbEntry();
        assertThat(dev.translate(iova + 5, Access.READ, e)).isEqualTo(MemTx.OK);
        assertThat(e.physBase()).isEqualTo(p1);
        assertThat(iommu.stats().staleHits()).isEqualTo(2);
        assertThat(drainFaults()).isEmpty();

        iommu.invalidateRange(d, iova, K4);
        assertThat(dev.dmaRead(iova + 100, buf)).isEqualTo(MemTx.TRANSLATION_FAULT);
        assertThat(drainFaults()).containsExactly(
            new Fault(dev.requesterId(), iova + 100, Access.READ, MemTx.TRANSLATION_FAULT, d.id()));

        // remap the same IOVA elsewhere: a normal new translation, not a stale one
        final long p2 = page();
        m.memory.fill(p2, K4, (byte)0x22);
        assertThat(d.map(iova, p2, K4, IommuProt.READ)).isZero();
        assertThat(dev.dmaRead(iova + 100, buf)).isEqualTo(MemTx.OK);
        assertThat(buf.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte)0x22);
        final IommuStats s = iommu.stats();
        assertThat(s.staleHits()).isEqualTo(2);
        assertThat(s.invalidationCommands()).isEqualTo(1);
        assertThat(s.entriesInvalidated()).isEqualTo(1);
        assertThat(s.translationFaults()).isEqualTo(1);
        assertThat(s.faultsRecorded()).isEqualTo(1);
    }

    @Test
    void shouldRefuseAWriteToAReadOnlyPageAfterTransferringTheBytesBeforeIt()
    {
        final BusDevice dev = device(64);
        final IommuDomain d = iommu.allocDomain(DomainType.DMA);
        dev.attach(d);
        final long rwPage = page();
        final long roPage = page();
        page();
        final long iova = 0x20_0000L;
        assertThat(d.map(iova, rwPage, K4, RW)).isZero();
        assertThat(d.map(iova + K4, roPage, K4, IommuProt.READ)).isZero();
        final MemorySegment src = arena.allocate(200);
        src.fill((byte)0x5A);
        assertThat(dev.dmaWrite(iova + K4 - 100, src)).isEqualTo(MemTx.PERMISSION_FAULT);
        final MemorySegment check = arena.allocate(200);
        m.memory.read(rwPage + K4 - 100, check, 0, 100);
        m.memory.read(roPage, check, 100, 100);
        for (int i = 0; i < 200; i++)
        {
            assertThat(check.get(ValueLayout.JAVA_BYTE, i)).as("byte %d", i).isEqualTo(i < 100 ? (byte)0x5A : 0);
        }
        assertThat(drainFaults()).containsExactly(
            new Fault(dev.requesterId(), iova + K4, Access.WRITE, MemTx.PERMISSION_FAULT, d.id()));
        assertThat(dev.dmaRead(iova + K4, check)).as("reading it is fine").isEqualTo(MemTx.OK);
        final TlbEntry e = new TlbEntry();
        assertThat(dev.translate(iova + K4 + 3, Access.WRITE, e)).isEqualTo(MemTx.PERMISSION_FAULT);
        assertThat(iommu.stats().permissionFaults()).isEqualTo(2);
    }

    @Test
    void shouldNotEmitAddressesAboveTheDeviceWidth()
    {
        final BusDevice dev = device(32);
        final MemorySegment buf = arena.allocate(16);
        assertThat(dev.dmaRead((1L << 32) - 8, buf)).isEqualTo(MemTx.ADDRESS_SIZE_FAULT);
        assertThat(dev.dmaWrite(1L << 32, buf)).isEqualTo(MemTx.ADDRESS_SIZE_FAULT);
        assertThat(dev.dmaRead(-4096, buf)).isEqualTo(MemTx.ADDRESS_SIZE_FAULT);
        assertThat(dev.translate(1L << 33, Access.READ, new TlbEntry())).isEqualTo(MemTx.ADDRESS_SIZE_FAULT);
        assertThat(dev.dmaRead((1L << 32) - 16, buf)).as("the last 16 bytes below 4 GiB are emitted")
            .isEqualTo(MemTx.DECODE_ERROR); // nothing decodes there in a 64 MiB machine
        final BusDevice wide = device(64);
        assertThat(wide.dmaRead(-8, buf)).as("wraps past 2^64").isEqualTo(MemTx.ADDRESS_SIZE_FAULT);
        assertThat(drainFaults()).as("address-size faults never reach the IOMMU").isEmpty();
    }

    @Test
    void shouldFaultEveryAccessThroughABlockedDomain()
    {
        final BusDevice dev = device(64);
        final IommuDomain d = iommu.allocDomain(DomainType.BLOCKED);
        dev.attach(d);
        assertThat(dev.dmaWrite(0x1000, arena.allocate(8))).isEqualTo(MemTx.TRANSLATION_FAULT);
        assertThat(drainFaults()).containsExactly(
            new Fault(dev.requesterId(), 0x1000, Access.WRITE, MemTx.TRANSLATION_FAULT, d.id()));
        assertThat(d.map(0, 0x1000, K4, RW)).isEqualTo(-IoPageTable.EINVAL);
    }

    @Test
    void shouldFillTheCallersEntryWithTheBlockRange()
    {
        final BusDevice dev = device(48);
        final IommuDomain d = iommu.allocDomain(DomainType.DMA);
        dev.attach(d);
        final long iova = 0x4000_0000L;
        final long phys = 0x20_0000L; // 2 MiB aligned, 2 MiB of RAM
        assertThat(d.map(iova, phys, 2L << 20, RW)).isZero();
        final TlbEntry e = new TlbEntry();
        for (int i = 0; i < 2; i++) // miss then hit give the same entry
        {
            assertThat(dev.translate(iova + 0x12345, Access.WRITE, e)).isEqualTo(MemTx.OK);
            assertThat(e.iovaBase()).isEqualTo(iova);
            assertThat(e.physBase()).isEqualTo(phys);
            assertThat(e.addrMask()).isEqualTo((2L << 20) - 1);
            assertThat(e.perm()).isEqualTo(Access.READ_WRITE);
            assertThat(e.translate(iova + 0x12345)).isEqualTo(phys + 0x12345);
        }
        assertThat(iommu.stats().iotlbHits()).isEqualTo(1);
        dev.attach(null);
        assertThat(dev.translate(0x1234, Access.READ, e)).isEqualTo(MemTx.OK);
        assertThat(e.physBase()).isEqualTo(0x1000);
        assertThat(e.addrMask()).isEqualTo(0xfff);
    }

    @ParameterizedTest
    @ValueSource(strings = { "0000:03:00.0", "0001:ff:1f.7", "00AB:0a:10.3" })
    void shouldParseValidRequesterIds(final String bdf)
    {
        final BusDevice dev = new BusDevice(m.memory, bdf, 64, false, true);
        final int bus = Integer.parseInt(bdf.substring(5, 7), 16);
        final int slot = Integer.parseInt(bdf.substring(8, 10), 16);
        final int fn = bdf.charAt(11) - '0';
        assertThat(dev.requesterId()).isEqualTo(bus << 8 | slot << 3 | fn);
        assertThat(dev.segment()).isEqualTo(Integer.parseInt(bdf.substring(0, 4), 16));
        assertThat(dev.bdf()).isEqualTo(bdf.toLowerCase());
        assertThat(dev.untrusted()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = { "", "03:00.0", "0000:03:00.8", "0000:03:20.0", "0000:0g:00.0", "0000-03:00.0",
        "0000:03:00.00" })
    void shouldRejectMalformedRequesterIds(final String bdf)
    {
        assertThatThrownBy(() -> new BusDevice(m.memory, bdf, 64, true, false))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("'" + bdf + "'")
            .hasMessageContaining("SSSS:BB:DD.F");
        assertThatThrownBy(() -> new BusDevice(m.memory, "0000:03:00.0", 65, true, false))
            .hasMessageContaining("1..64");
    }

    @Test
    void shouldFreeEveryTablePageWithTheDomain()
    {
        final long freeAtStart = m.pages.freePageCount();
        final IommuDomain d = iommu.allocDomain(DomainType.DMA);
        for (int i = 0; i < 50; i++)
        {
            assertThat(d.map((long)i << 30, 0x10_0000L, K4, RW)).isZero();
        }
        assertThat(iommu.stats().tablePages()).isEqualTo(1 + 1 + 50 * 2);
        iommu.freeDomain(d);
        assertThat(m.pages.freePageCount()).isEqualTo(freeAtStart);
        assertThat(iommu.stats().domains()).isZero();
        assertThatThrownBy(() -> d.map(0, 0, K4, RW)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> iommu.freeDomain(d)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> device(64).attach(d)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldLetManyThreadsDmaThroughOneDevice() throws InterruptedException
    {
        final BusDevice dev = device(64);
        final IommuDomain d = iommu.allocDomain(DomainType.DMA);
        dev.attach(d);
        final int threads = 3;
        final long iova = 0x100_0000L;
        final long[] phys = new long[threads * 4];
        for (int i = 0; i < phys.length; i++)
        {
            phys[i] = page();
            assertThat(d.map(iova + i * K4, phys[i], K4, RW)).isZero();
        }
        final List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++)
        {
            final int me = t;
            final Thread th = new Thread(() ->
            {
                try (Arena a = Arena.ofConfined())
                {
                    final SplittableRandom rnd = new SplittableRandom(77 + me);
                    final MemorySegment out = a.allocate(4 * K4);
                    final MemorySegment in = a.allocate(4 * K4);
                    final long base = iova + me * 4 * K4; // each thread owns 4 pages
                    for (int round = 0; round < 200; round++)
                    {
                        final long off = rnd.nextLong(3 * K4);
                        final long len = 1 + rnd.nextLong(4 * K4 - off);
                        out.asSlice(0, len).fill((byte)round);
                        if (dev.dmaWrite(base + off, out, 0, len) != MemTx.OK ||
                            dev.dmaRead(base + off, in, 0, len) != MemTx.OK ||
                            in.asSlice(0, len).mismatch(out.asSlice(0, len)) != -1)
                        {
                            throw new AssertionError("thread " + me + " round " + round);
                        }
                    }
                }
                catch (final Throwable e)
                {
                    errors.add(e);
                }
            });
            ts.add(th);
            th.start();
        }
        for (final Thread th : ts)
        {
            th.join(20_000);
        }
        assertThat(errors).isEmpty();
    }
}
