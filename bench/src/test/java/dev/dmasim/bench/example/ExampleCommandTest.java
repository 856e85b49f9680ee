package dev.dmasim.bench.example;

import dev.dmasim.bench.cli.Main;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code dmasim example}: exit 0 clean, 1 for a bug run (caught), 2 for bad usage; what it prints. */
class ExampleCommandTest
{
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(final String... args)
    {
        final CommandLine cli = new CommandLine(new Main());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void cleanNicRunExitsZero()
    {
        assertThat(run("example", "nic", "--packets", "60", "--iommu", "strict")).isZero();
        assertThat(out.toString()).contains("dmasim example nic: 60 frames, iommu=strict, coherent device")
            .contains("verified: 60 of 60 frames").contains("reports:  none").contains("clean: zero reports");
    }

    @Test
    void cleanNvmeRunOnANonCoherentDeviceExitsZero()
    {
        assertThat(run("example", "nvme", "--ios", "40", "--noncoherent", "--iommu", "LAZY")).isZero();
        assertThat(out.toString()).contains("iommu=lazy, non-coherent device").contains("verified: 40 of 40 I/Os");
    }

    @Test
    void missingSyncImpliesNonCoherentIsCaughtAndExitsOne()
    {
        assertThat(run("example", "nic", "--bug", "missing-sync", "--packets", "80")).isEqualTo(1);
        assertThat(out.toString()).contains("implies --noncoherent").contains("non-coherent device")
            .contains("DMA-CHECK 0000:03:00.0: MISSING_SYNC_FOR_CPU").contains("Mapped at:")
            .contains("NicDriver.ifup").contains("caught: missing-sync [MISSING_SYNC_FOR_CPU]");
    }

    @Test
    void leakIsCaughtWithTheKernelMessage()
    {
        assertThat(run("example", "nvme", "--ios", "40", "--bug", "leak", "--iommu", "passthrough")).isEqualTo(1);
        assertThat(out.toString())
            .contains("DMA-API: dmasim-nvme 0000:03:00.0: device driver has pending DMA allocations while released from"
                + " device")
            .contains("DMA-API: Mapped at:").contains("caught: leak [LEAK_AT_RELEASE]");
    }

    @Test
    void badUsageExitsTwo()
    {
        assertThat(run("example", "floppy")).isEqualTo(2);
        assertThat(err.toString()).contains("unknown example 'floppy'");
        assertThat(run("example", "nic", "--iommu", "sometimes")).isEqualTo(2);
        assertThat(run("example", "nic", "--bug", "off-by-one")).isEqualTo(2);
        assertThat(err.toString()).contains("unknown bug 'off-by-one'");
        assertThat(run("example", "nic", "--packets", "0")).isEqualTo(2);
    }
}
