package dev.dmasim.bench.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import dev.dmasim.engine.trace.TraceParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code dmasim replay}: option parsing, output and exit codes, on the real kernel samples and crafted files. */
class ReplayCommandTest
{
    private static final Path TRACES = Path.of("..", "engine", "src", "test", "resources", "traces");
    private static final Path STRICT = TRACES.resolve("linux-6.1-nvme-vtd-strict-1cpu.trace");
    private static final Path LAZY = TRACES.resolve("linux-6.1-nvme-vtd-lazy-2cpu.trace");

    private record Run(int rc, String out, String err)
    {
    }

    private static Run run(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        final int rc = cl.execute(args);
        return new Run(rc, out.toString(), err.toString());
    }

    @Test
    void strictSampleReplaysWithTheKernelsIovas()
    {
        final Run r = run("replay", STRICT.toString(), "--iommu", "strict", "--cpus", "1", "--expect-iovas");
        assertThat(r.rc()).as(r.err()).isZero();
        assertThat(r.out()).contains("IOVA agreement with the trace: 378 of 378 identical (all)")
            .contains("iommu -> 0000:80:00.0 (synthetic BDF), strict")
            .contains("malformed lines: 0");
    }

    @Test
    void jsonOutput()
    {
        final Run r = run("replay", STRICT.toString(), "--iommu=strict", "--cpus=1", "--json", "--debug");
        assertThat(r.rc()).isZero();
        assertThat(r.out()).startsWith("{\"source\":").contains("\"identical\":378").contains("\"LEAK_AT_RELEASE\":1")
            .endsWith("}\n");
    }

    @Test
    void verificationFailuresExitOne()
    {
        assertThat(run("replay", LAZY.toString(), "--iommu", "lazy", "--cpus", "2", "--expect-iovas").rc())
            .as("lazy timing differs from the kernel's").isEqualTo(1);
        final Run strict = run("replay", STRICT.toString(), "--iommu", "strict", "--cpus", "1", "--debug", "--strict");
        assertThat(strict.rc()).as("the NVMe queues are never unmapped: a leak").isEqualTo(1);
        assertThat(strict.err()).contains("--strict");
        assertThat(run("replay", STRICT.toString(), "--iommu", "none", "--expect-iovas").rc())
            .as("dma-direct hands out physical addresses, not the kernel's IOVAs").isEqualTo(1);
    }

    @Test
    void badUsageExitsTwo(@TempDir final Path dir)
    {
        assertThat(run("replay").rc()).isEqualTo(2);
        assertThat(run("replay", STRICT.toString(), "--iommu", "sideways").rc()).isEqualTo(2);
        assertThat(run("replay", STRICT.toString(), "--cpus", "-1").rc()).isEqualTo(2);
        assertThat(run("replay", STRICT.toString(), "--cost", "cheap").rc()).isEqualTo(2);
        assertThat(run("replay", STRICT.toString(), "--dma-bits", "80").rc()).isEqualTo(2);
        assertThat(run("replay", STRICT.toString(), "--no-such-option").rc()).isEqualTo(2);
        final Run missing = run("replay", dir.resolve("absent.trace").toString());
        assertThat(missing.rc()).isEqualTo(2);
        assertThat(missing.err()).contains("cannot read");
    }

    @Test
    void malformedLinesAreReportedAndSkipped(@TempDir final Path dir) throws Exception
    {
        final Path f = dir.resolve("crafted.trace");
        Files.writeString(f, "# tracer: nop\n"
            + "  app-1 [000] ..... 1.000000: dma_map_phys: eth0 dir=TO_DEVICE dma_addr=1000 size=4096"
            + " phys_addr=1000 attrs=\n"
            + "  app-1 [000] ..... 1.000001: dma_map_phys: eth0 dir=TO_DEVICE dma_addr=XYZ size=4096\n"
            + "  app-1 [000] ..... 1.000002: dma_unmap_phys: eth0 dir=TO_DEVICE dma_addr=1000 size=4096 attrs=\n");
        final Run r = run("replay", f.toString(), "--debug");
        assertThat(r.rc()).isZero();
        assertThat(r.out()).contains("malformed lines: 1").contains("line 3: dma_map_phys: bad or missing dma_addr")
            .contains("eth0 -> 0000:80:00.0 (synthetic BDF)").contains("dma-debug reports: 0");
        assertThat(run("replay", f.toString(), "--strict").rc()).as("a malformed line under --strict").isEqualTo(1);
    }

    @Test
    void traceOutIsAParsableTrace(@TempDir final Path dir) throws Exception
    {
        final Path out = dir.resolve("replay.trace");
        assertThat(run("replay", STRICT.toString(), "--iommu", "strict", "--cpus", "1", "--trace-out", out.toString())
            .rc()).isZero();
        final TraceParser.Parsed p = TraceParser.parse(out);
        assertThat(p.malformed()).isEmpty();
        assertThat(p.events()).extracting(e -> e.name()).contains("dma_map_phys", "dma_map_sg", "map", "unmap");
        // and replaying dmasim's own trace of the replay gives the same IOVAs again
        assertThat(run("replay", out.toString(), "--iommu", "strict", "--cpus", "1", "--expect-iovas").rc()).isZero();
    }
}
