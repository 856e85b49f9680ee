package dev.dmasim.engine.trace;

import dev.dmasim.engine.IommuMode;

import java.net.URISyntaxException;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Replays the real Linux 6.1 NVMe/VT-d traces of ../shared/traces through the whole engine. */
class KernelTraceReplayReportTest
{
    static Path sample(final String name) throws URISyntaxException
    {
        return Path.of(KernelTraceReplayReportTest.class.getResource("/traces/" + name).toURI());
    }

    @Test
    void strictOneCpuTraceGetsTheKernelsIovaForEveryAllocation() throws Exception
    {
        final TraceParser.Parsed trace = TraceParser.parse(sample("linux-6.1-nvme-vtd-strict-1cpu.trace"));
        assertThat(trace.malformed()).isEmpty();
        final ReplayReport r = TraceReplay.replay("strict", trace,
            TraceReplay.Options.defaults().iommu(IommuMode.STRICT).cpus(1).debug(true));
        assertThat(r.errorCount()).as("%s", r.errors()).isZero();
        assertThat(r.failureCount()).as("%s", r.failures()).isZero();
        assertThat(r.compared()).as("allocations compared").isEqualTo(378);
        assertThat(r.agreed()).as("first mismatches %s", r.mismatches()).isEqualTo(r.compared());
        // The 8 never-unmapped ranges (NVMe queues, PRP pool, ...) are still mapped when the devices are released.
        assertThat(r.debugReports()).anySatisfy(m -> assertThat(m).contains("device driver has pending DMA allocations"));
        assertThat(r.devices()).singleElement().satisfies(d -> assertThat(d.liveRangesAtEnd()).isEqualTo(8));
    }

    @Test
    void lazyTwoCpuTraceReportsAFootprint() throws Exception
    {
        final TraceParser.Parsed trace = TraceParser.parse(sample("linux-6.1-nvme-vtd-lazy-2cpu.trace"));
        final ReplayReport r = TraceReplay.replay("lazy", trace,
            TraceReplay.Options.defaults().iommu(IommuMode.LAZY).cpus(2));
        assertThat(r.errorCount()).as("%s", r.errors()).isZero();
        assertThat(r.failureCount()).isZero();
        assertThat(r.devices()).singleElement().satisfies(d ->
        {
            assertThat(d.peakBytes()).isGreaterThan(0);
            assertThat(d.peakRanges()).isGreaterThan(8);
        });
        assertThat(r.compared()).as("every allocation replayed").isEqualTo(380);
        assertThat(r.agreed()).as("lazy timing differs from the kernel's, but the first allocations agree")
            .isBetween(1L, 379L);
    }
}
