package dev.dmasim.engine.trace;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.IommuMode;

import java.util.StringJoiner;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Crafted lines, in the kernel's formats, for every event the parser models; then replays of crafted traces. */
class TraceParserTest
{
    private static final String P = "          fio-4242    [001] .....   123.456789: ";

    private static TraceEvent one(final String line)
    {
        final Object r = TraceParser.parseLine(7, line);
        assertThat(r).as(line).isInstanceOf(TraceEvent.class);
        return (TraceEvent)r;
    }

    private static String array(final String prefix, final int n, final long base, final long step)
    {
        final StringJoiner j = new StringJoiner(",", "{", "}");
        for (int i = 0; i < n; i++)
        {
            j.add(prefix + Long.toHexString(base + i * step));
        }
        return j.toString();
    }

    @Test
    void prefixAndMapPhys()
    {
        final TraceEvent e = one(P + "dma_map_phys: 0000:03:00.0 dir=TO_DEVICE dma_addr=fffff010 size=100"
            + " phys_addr=12345010 attrs=SKIP_CPU_SYNC|MMIO");
        assertThat(e.line()).isEqualTo(7);
        assertThat(e.task()).isEqualTo("fio");
        assertThat(e.pid()).isEqualTo(4242);
        assertThat(e.cpu()).isEqualTo(1);
        assertThat(e.timestampNanos()).isEqualTo(123_456_789_000L);
        assertThat(e.type()).isEqualTo(TraceEvent.Type.MAP);
        assertThat(e.device()).isEqualTo("0000:03:00.0");
        assertThat(e.dir()).isEqualTo(DmaDirection.TO_DEVICE);
        assertThat(e.dma()).isEqualTo(0xfffff010L);
        assertThat(e.size()).isEqualTo(100);
        assertThat(e.phys()).isEqualTo(0x12345010L);
        assertThat(e.attrs()).isEqualTo(DmaAttrs.SKIP_CPU_SYNC | DmaAttrs.MMIO);
    }

    @Test
    void olderMapEventsAndMappingError()
    {
        final TraceEvent page = one(P + "dma_map_page: nvme0 dir=FROM_DEVICE dma_addr=ffffffffffffffff size=4096"
            + " phys_addr=1000 attrs=");
        assertThat(page.type()).isEqualTo(TraceEvent.Type.MAP);
        assertThat(page.dma()).isEqualTo(-1L);
        assertThat(page.attrs()).isZero();
        final TraceEvent res = one(P + "dma_map_resource: nvme0 dir=BIDIRECTIONAL dma_addr=e0000000 size=4096"
            + " phys_addr=e0000000 attrs=");
        assertThat(res.attrs()).isEqualTo(DmaAttrs.MMIO);
        final TraceEvent unmap = one(P + "dma_unmap_page: nvme0 dir=FROM_DEVICE dma_addr=1000 size=4096"
            + " attrs=NO_WARN|0x100000");
        assertThat(unmap.type()).isEqualTo(TraceEvent.Type.UNMAP);
        assertThat(unmap.attrs()).isEqualTo(DmaAttrs.NO_WARN | 1L << 20);
    }

    @Test
    void mapSgCurrentFormat()
    {
        final TraceEvent e = one(P + "dma_map_sg: 0000:03:00.0 dir=BIDIRECTIONAL nents=3/3 ents=1/1"
            + " dma_addrs={0xffffc000} sizes={0x3200} phys_addrs={0x1000,0x3000,0x5200} attrs=");
        assertThat(e.type()).isEqualTo(TraceEvent.Type.MAP_SG);
        assertThat(e.nents()).isEqualTo(3);
        assertThat(e.ents()).isEqualTo(1);
        assertThat(e.truncated()).isFalse();
        assertThat(e.dmaAddrs()).containsExactly(0xffffc000L);
        assertThat(e.sizes()).containsExactly(0x3200L);
        assertThat(e.physAddrs()).containsExactly(0x1000L, 0x3000L, 0x5200L);
        // IOMMU-merged: entry lengths reconstructed to the same total (each entry to its page end, rest to the last)
        assertThat(TraceReplay.entryLengths(e)).containsExactly(0x1000L, 0x1000L, 0x1200L);
    }

    @Test
    void mapSgTruncatedAtTheKernelsLimit()
    {
        final String line = P + "dma_map_sg: 0000:03:00.0 dir=TO_DEVICE nents=128/200 ents=128/200 [TRUNCATED]"
            + " dma_addrs=" + array("0x", 128, 0x10_0000, 0x1000) + " sizes=" + array("0x", 128, 0x1000, 0)
            + " phys_addrs=" + array("0x", 128, 0x10_0000, 0x1000) + " attrs=";
        final TraceEvent e = one(line);
        assertThat(e.truncated()).isTrue();
        assertThat(e.nents()).isEqualTo(200);
        assertThat(e.ents()).isEqualTo(200);
        assertThat(e.physAddrs()).hasSize(128);
        assertThat(TraceReplay.entryLengths(e)).hasSize(128).containsOnly(0x1000L);
    }

    @Test
    void mapSgOlderFormatAndArraysCutByTheLineEnd()
    {
        final TraceEvent old = one(P + "dma_map_sg: 0000:03:00.0 dir=TO_DEVICE dma_addrs={0x1000,0x3000}"
            + " sizes={0x1000,0x800} phys_addrs={0x1000,0x3000} attrs=");
        assertThat(old.nents()).isEqualTo(2);
        assertThat(old.ents()).isEqualTo(2);
        assertThat(old.truncated()).isFalse();
        assertThat(TraceReplay.entryLengths(old)).containsExactly(0x1000L, 0x800L);

        final TraceEvent cut = one(P + "dma_map_sg: 0000:03:00.0 dir=TO_DEVICE dma_addrs={0x1000,0x3000}"
            + " sizes={0x1000,0x800} phys_addrs={0x1000,0x3000,0x50");
        assertThat(cut.truncated()).isTrue();
        assertThat(cut.physAddrs()).containsExactly(0x1000L, 0x3000L, 0x50L);

        final TraceEvent tooBig = one(P + "dma_map_sg: 0000:03:00.0 dir=TO_DEVICE dma_addrs={0x1000,0x3000}"
            + " sizes={0x1000,0x800} phys_addrs={0x1000,0x3000,0x5000,0x7[LINE TOO BIG]");
        assertThat(tooBig.truncated()).isTrue();
        assertThat(tooBig.physAddrs()).containsExactly(0x1000L, 0x3000L, 0x5000L, 0x7L);

        final TraceEvent ellipsis = one(P + "dma_map_sg: 0000:03:00.0 dir=TO_DEVICE dma_addrs={0x1000}"
            + " sizes={0x1000} phys_addrs={0x1000,...} attrs=");
        assertThat(ellipsis.truncated()).isTrue();
        assertThat(ellipsis.physAddrs()).containsExactly(0x1000L);
    }

    @Test
    void sgErrorsUnmapsAndSyncs()
    {
        final TraceEvent err = one(P + "dma_map_sg_err: 0000:03:00.0 dir=TO_DEVICE dma_addrs={0x1000,0x2000}"
            + " err=-12 attrs=");
        assertThat(err.type()).isEqualTo(TraceEvent.Type.MAP_SG_ERR);
        assertThat(err.err()).isEqualTo(-12);
        assertThat(err.physAddrs()).containsExactly(0x1000L, 0x2000L);
        final TraceEvent unmap = one(P + "dma_unmap_sg: 0000:03:00.0 dir=TO_DEVICE phys_addrs={0x1000,0x2000}"
            + " attrs=SKIP_CPU_SYNC");
        assertThat(unmap.type()).isEqualTo(TraceEvent.Type.UNMAP_SG);
        assertThat(unmap.nents()).isEqualTo(2);
        final TraceEvent cpu = one(P + "dma_sync_single_for_cpu: 0000:03:00.0 dir=FROM_DEVICE dma_addr=ffffe000"
            + " size=64");
        assertThat(cpu.type()).isEqualTo(TraceEvent.Type.SYNC_SINGLE_FOR_CPU);
        assertThat(cpu.dma()).isEqualTo(0xffffe000L);
        assertThat(one(P + "dma_sync_single_for_device: d dir=TO_DEVICE dma_addr=1 size=1").type())
            .isEqualTo(TraceEvent.Type.SYNC_SINGLE_FOR_DEVICE);
        final TraceEvent sg = one(P + "dma_sync_sg_for_cpu: 0000:03:00.0 dir=FROM_DEVICE dma_addrs={0x1000,0x3000}"
            + " sizes={0x1000,0x800}");
        assertThat(sg.type()).isEqualTo(TraceEvent.Type.SYNC_SG_FOR_CPU);
        assertThat(sg.dma()).isEqualTo(0x1000L);
        assertThat(sg.nents()).isEqualTo(2);
        assertThat(one(P + "dma_sync_sg_for_device: d dir=TO_DEVICE dma_addrs={0x1} sizes={0x1}").type())
            .isEqualTo(TraceEvent.Type.SYNC_SG_FOR_DEVICE);
    }

    @Test
    void allocationsAndFrees()
    {
        final TraceEvent a = one(P + "dma_alloc: 0000:03:00.0 dir=BIDIRECTIONAL dma_addr=fffe0000 size=8192"
            + " virt_addr=ffff888012340000 flags=GFP_KERNEL|__GFP_ZERO attrs=");
        assertThat(a.type()).isEqualTo(TraceEvent.Type.ALLOC);
        assertThat(a.phys()).isEqualTo(0x12340000L);
        assertThat(a.dma()).isEqualTo(0xfffe0000L);
        final TraceEvent hashed = one(P + "dma_alloc_pages: 0000:03:00.0 dir=0xdead dma_addr=0 size=4096"
            + " virt_addr=0000000000000000 flags=GFP_KERNEL attrs=");
        assertThat(hashed.type()).isEqualTo(TraceEvent.Type.ALLOC_PAGES);
        assertThat(hashed.dir()).as("dma_alloc never assigns dir: garbage is tolerated").isNull();
        assertThat(hashed.virt()).isZero();
        assertThat(one(P + "dma_free: d dir=BIDIRECTIONAL dma_addr=fffe0000 size=8192 virt_addr=(____ptrval____)"
            + " attrs=").type()).isEqualTo(TraceEvent.Type.FREE);
        assertThat(one(P + "dma_free_pages: d dir=FROM_DEVICE dma_addr=1000 size=4096 virt_addr=00000000c0ffee00"
            + " attrs=").type()).isEqualTo(TraceEvent.Type.FREE_PAGES);
        final TraceEvent sgt = one(P + "dma_alloc_sgt: d dir=TO_DEVICE dma_addr=1000 size=8192"
            + " phys_addrs={0x1000,0x5000} flags=GFP_KERNEL attrs=");
        assertThat(sgt.physAddrs()).containsExactly(0x1000L, 0x5000L);
        assertThat(one(P + "dma_alloc_sgt_err: d dir=TO_DEVICE dma_addr=0 size=8192 virt_addr=0000000000000000"
            + " flags=GFP_KERNEL attrs=").type()).isEqualTo(TraceEvent.Type.ALLOC_SGT_ERR);
        assertThat(one(P + "dma_free_sgt: d dir=TO_DEVICE dma_addr=1000 size=8192 phys_addrs={0x1000}").type())
            .isEqualTo(TraceEvent.Type.FREE_SGT);
    }

    @Test
    void iommuEventsAndTraceCmdLayout()
    {
        final TraceEvent map = one("    kworker/u2:1-24      [000] .....     2.681819: map: IOMMU: iova=0x00000000fffff000"
            + " - 0x0000000100000000 paddr=0x0000000003363000 size=4096");
        assertThat(map.type()).isEqualTo(TraceEvent.Type.IOMMU_MAP);
        assertThat(map.task()).isEqualTo("kworker/u2:1");
        assertThat(map.dma()).isEqualTo(0xfffff000L);
        assertThat(map.phys()).isEqualTo(0x3363000L);
        final TraceEvent unmap = one("          <idle>-0       [000] d.h1.     2.701682: unmap: IOMMU:"
            + " iova=0x00000000ffffd000 - 0x00000000ffffe000 size=4096 unmapped_size=4096");
        assertThat(unmap.unmappedSize()).isEqualTo(4096);
        final TraceEvent fault = one(P + "io_page_fault: IOMMU:nvme 0000:03:00.0 iova=0x00000000dead0000"
            + " flags=0x0001");
        assertThat(fault.device()).isEqualTo("0000:03:00.0");
        // trace-cmd report: no flags column, padded event name, optional tgid column
        final TraceEvent tc = one("     kworker/0:1-25    [000]  4569.524146: dma_map_phys:         0000:00:04.0"
            + " dir=TO_DEVICE dma_addr=1000 size=512 phys_addr=1000 attrs=");
        assertThat(tc.cpu()).isZero();
        assertThat(tc.device()).isEqualTo("0000:00:04.0");
        final TraceEvent tgid = one("  my-task-12  (   12) [003] d..1.  10.000001: dma:dma_unmap_phys: dev dir=TO_DEVICE"
            + " dma_addr=1000 size=512 attrs=");
        assertThat(tgid.task()).isEqualTo("my-task");
        assertThat(tgid.cpu()).isEqualTo(3);
    }

    @Test
    void malformedCommentsAndOtherEvents()
    {
        final TraceParser.Parsed p = TraceParser.parse("# tracer: nop\n"
            + "cpus=2\n"
            + P + "sched_switch: prev_comm=a prev_pid=1 ==> next_comm=b\n"
            + P + "dma_map_phys: dev dir=SIDEWAYS dma_addr=1 size=1 phys_addr=1 attrs=\n"
            + P + "dma_map_phys: dev dir=TO_DEVICE dma_addr=zz size=1 phys_addr=1 attrs=\n"
            + "garbage without a prefix\n"
            + P + "dma_unmap_phys: dev dir=TO_DEVICE dma_addr=1 size=1 attrs=BOGUS\n"
            + P + "map: IOMMU: iova=0x2000 - 0x1000 paddr=0x1 size=4096\n"
            + P + "dma_unmap_phys: dev dir=TO_DEVICE dma_addr=1000 size=4096 attrs=\n");
        assertThat(p.events()).singleElement().satisfies(e -> assertThat(e.line()).isEqualTo(9));
        assertThat(p.otherEvents()).containsEntry("sched_switch", 1);
        assertThat(p.malformed()).extracting(TraceParser.Malformed::line).containsExactly(4, 5, 6, 7, 8);
        assertThat(p.malformed().get(0).reason()).contains("dir");
    }

    @Test
    void replayReportsUnmatchedLeakedRelocatedAndSyntheticDevices()
    {
        final String dev = "nvme0n1-queue";
        final String trace = TraceSink.HEADER
            + P + "dma_map_phys: " + dev + " dir=TO_DEVICE dma_addr=1a0000000 size=4096 phys_addr=1a0000000 attrs=\n"
            + P + "dma_unmap_phys: " + dev + " dir=TO_DEVICE dma_addr=deadbeef000 size=4096 attrs=\n"
            + P + "dma_map_phys: " + dev + " dir=TO_DEVICE dma_addr=2000 size=4096 phys_addr=2000 attrs=\n"
            + P + "dma_unmap_phys: " + dev + " dir=FROM_DEVICE dma_addr=2000 size=2048 attrs=\n"
            + P + "dma_map_sg: 0000:03:00.0 dir=TO_DEVICE nents=128/200 ents=128/200 [TRUNCATED]"
            + " dma_addrs=" + array("0x", 128, 0x10_0000, 0x1000) + " sizes=" + array("0x", 128, 0x1000, 0)
            + " phys_addrs=" + array("0x", 128, 0x10_0000, 0x1000) + " attrs=\n"
            + P + "dma_free: " + dev + " dir=BIDIRECTIONAL dma_addr=5000 size=4096 virt_addr=0 attrs=\n"
            + "this line is broken\n";
        final ReplayReport r = TraceReplay.replay("crafted", TraceParser.parse(trace),
            TraceReplay.Options.defaults().iommu(IommuMode.NONE).debug(true));
        assertThat(r.errors()).isEmpty();
        assertThat(r.malformed()).extracting(TraceParser.Malformed::line).containsExactly(17);
        assertThat(r.devices()).extracting(ReplayReport.DeviceResult::traceName, ReplayReport.DeviceResult::bdf)
            .containsExactly(org.assertj.core.groups.Tuple.tuple(dev, "0000:80:00.0"),
                org.assertj.core.groups.Tuple.tuple("0000:03:00.0", "0000:03:00.0"));
        assertThat(r.relocated()).as("6.5 GiB is not RAM in the default machine").hasSize(1);
        assertThat(r.relocated().get(0)[0]).isEqualTo(0x1a0000000L);
        assertThat(r.findings()).extracting(ReplayReport.Finding::line).contains(12, 16);
        assertThat(r.debugKinds()).containsKeys("FREE_NOT_ALLOCATED", "FREE_WRONG_SIZE", "FREE_WRONG_DIRECTION",
            "LEAK_AT_RELEASE");
        assertThat(r.debugReports()).anySatisfy(m -> assertThat(m).contains("device driver has pending DMA allocations"));
        assertThat(r.compared()).isEqualTo(3);
        assertThat(r.agreed()).as("the relocated map gets another address; the sg list and 0x2000 do not").isEqualTo(2);
        assertThat(r.toJson()).startsWith("{\"source\":\"crafted\"").contains("\"LEAK_AT_RELEASE\":");
    }
}
