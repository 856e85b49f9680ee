package dev.dmasim.engine.trace;

import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.sim.mem.Zone;

import java.util.List;
import java.util.regex.Pattern;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A scripted workload (single maps, an sg list, every sync, coherent and non-coherent allocations) traced by one
 * engine, parsed back and replayed into a fresh engine of the same mode: every DMA address must come back the same
 * and nothing may be reported.
 */
class TraceRoundTripTest
{
    private static final Pattern PREFIX = Pattern.compile(
        "^ {0,15}\\S{1,15}-\\d+ +\\[000] \\.\\.\\.\\.\\. +\\d+\\.\\d{6}: ");

    static String workload(final IommuMode mode)
    {
        final StringBuilder out = new StringBuilder();
        final TraceSink sink = TraceSink.builder(out).bufferChars(512).build();
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(mode).debug(true).trace(sink).build())
        {
            engine.cpu().bind(0);
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").dmaBits(64));
            final Device nic = engine.attach(DeviceConfig.pci("0000:05:00.1").dmaBits(64).coherent(false));
            final long a = engine.pages().allocPages(1, Zone.NORMAL);
            final long b = engine.pages().allocPages(2, Zone.DMA32);
            final long c = engine.pages().allocPages(0, Zone.NORMAL);

            final long d1 = dev.mapPhys(a, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            assertThat(dev.mappingError(d1)).isFalse();
            final long d2 = nic.mapPhys(a + 4096 + 100, 3000, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
            assertThat(nic.mappingError(d2)).isFalse();
            nic.syncSingleForCpu(d2, 3000, DmaDirection.FROM_DEVICE);
            nic.syncSingleForDevice(d2, 3000, DmaDirection.FROM_DEVICE);

            final ScatterList sgl = new ScatterList(3);
            sgl.set(0, b, 4096).set(1, b + 2 * 4096, 8192).set(2, c + 512, 512);
            final int ents = dev.mapSg(sgl, 3, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            assertThat(ents).isPositive();
            dev.syncSgForCpu(sgl, 3, DmaDirection.BIDIRECTIONAL);
            dev.syncSgForDevice(sgl, 3, DmaDirection.BIDIRECTIONAL);

            final DmaBuffer coh = dev.allocCoherent(8192);
            final DmaBuffer nc = nic.allocPages(4096, DmaDirection.FROM_DEVICE);
            nic.syncSingleForCpu(nc.dma(), 4096, DmaDirection.FROM_DEVICE);

            dev.unmapSg(sgl, 3, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            nic.unmapPhys(d2, 3000, DmaDirection.FROM_DEVICE, DmaAttrs.SKIP_CPU_SYNC);
            final long d3 = dev.mapPhys(c, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE); // reuses a freed IOVA
            assertThat(dev.mappingError(d3)).isFalse();
            dev.unmapPhys(d3, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            dev.freeCoherent(coh);
            nic.freePages(nc, DmaDirection.FROM_DEVICE);
            dev.unmapPhys(d1, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            assertThat(engine.debug().reports()).isEmpty();
        }
        sink.close();
        return out.toString();
    }

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = { "NONE", "PASSTHROUGH", "STRICT" })
    void replayOfOwnTraceGivesTheSameAddressesAndNoFindings(final IommuMode mode)
    {
        final String text = workload(mode);
        assertThat(text).startsWith(TraceSink.HEADER);
        final TraceParser.Parsed trace = TraceParser.parse(text);
        assertThat(trace.malformed()).as(text).isEmpty();
        for (final String line : text.split("\n"))
        {
            if (!line.startsWith("#"))
            {
                assertThat(line).as("ftrace line prefix").containsPattern(PREFIX);
            }
        }
        final List<String> names = trace.events().stream().map(TraceEvent::name).distinct().toList();
        assertThat(names).contains("dma_map_phys", "dma_unmap_phys", "dma_map_sg", "dma_unmap_sg",
            "dma_sync_single_for_cpu", "dma_sync_single_for_device", "dma_sync_sg_for_cpu", "dma_sync_sg_for_device",
            "dma_alloc", "dma_free", "dma_alloc_pages", "dma_free_pages");
        if (mode.translated())
        {
            assertThat(names).contains("map", "unmap");
        }
        else
        {
            assertThat(names).doesNotContain("map", "unmap");
        }

        final ReplayReport r = TraceReplay.replay(mode.name(), trace,
            TraceReplay.Options.defaults().iommu(mode).cpus(1).debug(true));
        assertThat(r.errors()).isEmpty();
        assertThat(r.failures()).isEmpty();
        assertThat(r.findings()).as(r.toText()).isEmpty();
        assertThat(r.debugReports()).isEmpty();
        assertThat(r.compared()).isGreaterThanOrEqualTo(4);
        assertThat(r.mismatches()).as(text).isEmpty();
        assertThat(r.devices()).extracting(ReplayReport.DeviceResult::bdf).containsExactly("0000:03:00.0",
            "0000:05:00.1");
    }

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = { "NONE", "STRICT" })
    void exactEventTextOfASingleMap(final IommuMode mode)
    {
        final StringBuilder out = new StringBuilder();
        try (TraceSink sink = TraceSink.builder(out).header(false).build();
             DmaEngine engine = DmaEngine.builder().cpus(1).iommu(mode).trace(sink).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            final long phys = 0x1234_5000L;
            final long dma = dev.mapPhys(phys + 0x10, 100, DmaDirection.TO_DEVICE, DmaAttrs.SKIP_CPU_SYNC | 1L << 20);
            dev.unmapPhys(dma, 100, DmaDirection.TO_DEVICE, 0);
            sink.flush();
            final String[] lines = out.toString().split("\n");
            final String map = mode.translated() ? lines[1] : lines[0];
            assertThat(map.substring(map.indexOf(": ", map.indexOf(']')) + 2)).isEqualTo(
                "dma_map_phys: 0000:03:00.0 dir=TO_DEVICE dma_addr=" + Long.toHexString(dma)
                + " size=100 phys_addr=12345010 attrs=SKIP_CPU_SYNC|0x100000");
            if (mode.translated())
            {
                assertThat(lines[0]).endsWith("map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000"
                    + " paddr=0x0000000012345000 size=4096");
                assertThat(lines[2]).endsWith("unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000"
                    + " size=4096 unmapped_size=4096");
            }
            assertThat(lines[lines.length - 1]).endsWith(
                "dma_unmap_phys: 0000:03:00.0 dir=TO_DEVICE dma_addr=" + Long.toHexString(dma) + " size=100 attrs=");
        }
    }
}
