package dev.dmasim.engine;

import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The library example of README.md ("Using the library"), line for line, on a dma-direct engine and on the LAZY
 * engine the README shows, so the README stays true. Only the assertions are added.
 */
class ReadmeExampleTest
{
    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = { "NONE", "LAZY" })
    void readmeExampleRuns(final IommuMode mode)
    {
        final List<DebugReport> reports;
        try (DmaEngine engine = DmaEngine.builder()          // embedded default machine: Machines.defaultX86()
            .cpus(2)
            .iommu(mode)                                     // NONE (dma-direct), PASSTHROUGH, STRICT, LAZY
            .swiotlb(SwiotlbConfig.defaults())               // 64 MiB bounce pool below 4 GiB
            .debug(true)                                     // dma-debug checks
            .build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").dmaBits(64));

            // The "driver": get a buffer, fill it, map it for the device.
            final long buf = engine.pages().allocPages(0, Zone.NORMAL);             // one 4 KiB page
            engine.memory().write(buf, MemorySegment.ofArray("hello, device".getBytes(StandardCharsets.US_ASCII)));
            final long dma = dev.mapPhys(buf, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            assertThat(dev.mappingError(dma)).isFalse();
            if (mode == IommuMode.NONE)
            {
                assertThat(dma).as("dma-direct: bus address = physical address").isEqualTo(buf);
            }

            // The "hardware": the device reads through the IOMMU (IOTLB, page-table walk, permissions).
            final MemorySegment rx = Arena.ofAuto().allocate(13);
            final int rc = dev.bus().dmaRead(dma, rx);                               // MemTx.OK, or a fault code
            assertThat(rc).isEqualTo(MemTx.OK);
            assertThat(new String(rx.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII))
                .isEqualTo("hello, device");
            final int wrc = dev.bus().dmaWrite(dma, rx);             // PERMISSION_FAULT: TO_DEVICE is read-only
            assertThat(wrc).as("the IOMMU enforces TO_DEVICE; dma-direct has nothing to enforce it with")
                .isEqualTo(mode == IommuMode.NONE ? MemTx.OK : MemTx.PERMISSION_FAULT);

            dev.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            reports = engine.debug().reports();                    // kernel-format dma-debug reports
            reports.forEach(System.out::println);
        }
        assertThat(reports).isEmpty();
    }
}
