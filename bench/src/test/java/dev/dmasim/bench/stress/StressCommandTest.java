package dev.dmasim.bench.stress;

import dev.dmasim.bench.cli.Main;
import dev.dmasim.bench.cli.StressCommand;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.iommu.InvalidationCost;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code dmasim stress}: option parsing, exit codes 0/1/2, and the output's shape. */
class StressCommandTest
{
    private static StressConfig parse(final String... args)
    {
        final StressCommand cmd = new StressCommand();
        new CommandLine(cmd).parseArgs(args);
        return cmd.config();
    }

    @Test
    void defaults()
    {
        final StressConfig c = parse();

        assertEquals(2, c.threads());
        assertEquals(2, c.cpus());
        assertEquals(10_000, c.millis());
        assertEquals(0, c.opsPerThread());
        assertEquals(StressConfig.ALL_MODES, c.modes());
        assertEquals(InvalidationCost.NONE, c.cost());
        assertTrue(c.debug());
        assertEquals(Injection.NONE, c.injection());
    }

    @Test
    void everyOption()
    {
        final StressConfig c = parse("--threads", "3", "--seconds", "0.5", "--seed", "0xfeedface00000001", "--iommu",
            "strict", "--cost", "smmuv3", "--no-debug", "--cpus", "4", "--swiotlb-kib", "1024", "--max-live", "3",
            "--json");

        assertEquals(3, c.threads());
        assertEquals(4, c.cpus());
        assertEquals(500, c.millis());
        assertEquals(0xfeedface00000001L, c.seed());
        assertEquals(List.of(IommuMode.STRICT), c.modes());
        assertEquals(InvalidationCost.SMMUV3, c.cost());
        assertFalse(c.debug());
        assertEquals(1 << 20, c.swiotlbBytes());
        assertEquals(3, c.maxLive());
        assertEquals(1234, parse("--seed", "1234").seed());
        assertEquals(77, parse("--ops", "77").opsPerThread());
        assertEquals(List.of(IommuMode.LAZY), parse("--iommu", "LAZY").modes());
        assertEquals(750, parse("--cost", "750ns").cost().nanos());
    }

    @Test
    void badUsageExitsWithTwo()
    {
        for (final String[] args : List.of(
            new String[] { "stress", "--iommu", "bogus" },
            new String[] { "stress", "--threads", "0" },
            new String[] { "stress", "--seed", "0xzz" },
            new String[] { "stress", "--seconds", "0" },
            new String[] { "stress", "--ops", "-1" },
            new String[] { "stress", "--cost", "fast" },
            new String[] { "stress", "--swiotlb-kib", "16" },
            new String[] { "stress", "--no-such-option" }))
        {
            final StringWriter err = new StringWriter();
            final int rc = new CommandLine(new Main()).setErr(new PrintWriter(err)).setOut(new PrintWriter(new StringWriter()))
                .execute(args);
            assertEquals(2, rc, () -> String.join(" ", args) + " -> " + err);
        }
    }

    @Test
    void passingRunPrintsTheSeedFirstThenASummaryAndExitsWithZero()
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();

        final int rc = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
            .execute("stress", "--ops", "300", "--iommu", "strict", "--seed", "0x42");

        assertEquals(0, rc, () -> out + "\n" + err);
        final String text = out.toString();
        assertTrue(text.startsWith("stress: seed 0x42 \u2014 rerun with --seed 0x42"), text);
        assertTrue(text.contains("== strict: pass"), text);
        assertTrue(text.contains("iovaLink"), text);
        assertTrue(text.strip().endsWith("PASS"), text);
    }

    @Test
    void failingRunExitsWithOneAndPrintsTheViolation()
    {
        final StringWriter out = new StringWriter();

        final int rc = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(new StringWriter()))
            .execute("stress", "--ops", "2000", "--iommu", "none", "--seed", "0x42", "--inject", "DEVICE_WRITES_PAST_END");

        assertEquals(1, rc, out::toString);
        assertTrue(out.toString().contains("violation: "), out::toString);
        assertTrue(out.toString().strip().endsWith("FAIL"), out::toString);
    }

    @Test
    void jsonGoesToStandardOutputAndTheSeedLineToStandardError()
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();

        final int rc = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
            .execute("stress", "--ops", "200", "--iommu", "passthrough", "--seed", "0x7", "--json");

        assertEquals(0, rc);
        assertTrue(out.toString().startsWith("{\"seed\":\"0x7\",\"pass\":true,\"modes\":[{\"mode\":\"passthrough\""), out::toString);
        assertTrue(out.toString().contains("\"mapPhys\":"), out::toString);
        assertTrue(err.toString().startsWith("stress: seed 0x7"), err::toString);
    }
}
