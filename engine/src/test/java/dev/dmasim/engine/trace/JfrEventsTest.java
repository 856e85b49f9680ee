package dev.dmasim.engine.trace;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.trace.jfr.IommuFaultEvent;
import dev.dmasim.engine.trace.jfr.MapEvent;
import dev.dmasim.engine.trace.jfr.UnmapEvent;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.Zone;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** dmasim's JFR events reach a recording that enables them, with their fields; and an IOMMU fault is one. */
class JfrEventsTest
{
    @Test
    void mapUnmapAndFaultEventsAreRecorded(@TempDir final Path dir) throws Exception
    {
        final Path file = dir.resolve("dmasim.jfr");
        long dma;
        long phys;
        try (Recording rec = new Recording();
             DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT).build())
        {
            rec.enable(MapEvent.NAME);
            rec.enable(UnmapEvent.NAME);
            rec.enable(IommuFaultEvent.NAME);
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0"));
            phys = engine.pages().allocPages(0, Zone.NORMAL);
            rec.start();
            dma = dev.mapPhys(phys, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            final int rc = dev.bus().dmaRead(dma, Arena.ofAuto().allocate(64)); // strict: faults after unmap
            assertThat(rc).isEqualTo(MemTx.TRANSLATION_FAULT);
            rec.stop();
            rec.dump(file);
        }
        final List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals(MapEvent.NAME)).singleElement()
            .satisfies(e ->
            {
                assertThat(e.getString("device")).isEqualTo("0000:03:00.0");
                assertThat(e.getLong("phys")).isEqualTo(phys);
                assertThat(e.getLong("dma")).isEqualTo(dma);
                assertThat(e.getLong("size")).isEqualTo(4096);
                assertThat(e.getString("direction")).isEqualTo("TO_DEVICE");
                assertThat(e.getDuration().isNegative()).isFalse();
            });
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals(UnmapEvent.NAME)).singleElement()
            .satisfies(e -> assertThat(e.getLong("dma")).isEqualTo(dma));
        assertThat(events).filteredOn(e -> e.getEventType().getName().equals(IommuFaultEvent.NAME)).singleElement()
            .satisfies(e ->
            {
                assertThat(e.getString("device")).isEqualTo("0000:03:00.0");
                assertThat(e.getLong("dma")).isEqualTo(dma);
                assertThat(e.getString("direction")).isEqualTo("READ");
                assertThat(e.getString("reason")).isEqualTo("TRANSLATION_FAULT");
            });
        Files.deleteIfExists(file);
    }

    @Test
    void faultIsTracedAsIoPageFault()
    {
        final StringBuilder out = new StringBuilder();
        try (TraceSink sink = TraceSink.builder(out).header(false).build();
             DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT).trace(sink).build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").driver("nvme"));
            dev.bus().dmaWrite(0xdead_0000L, Arena.ofAuto().allocate(8));
            sink.flush();
            assertThat(out.toString()).contains("io_page_fault: IOMMU:nvme 0000:03:00.0 iova=0x00000000dead0000"
                + " flags=0x0001");
        }
    }
}
