package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.BenchRecord;
import dev.dmasim.bench.report.BenchReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code dmasim sweep}: the matrix it runs and how it resumes. */
class SweepTest
{
    private static String[] sweep(final Path out, final String modes, final String... more)
    {
        final List<String> args = new java.util.ArrayList<>(List.of("sweep", "--modes", modes, "--granules", "1,4",
            "--seconds", "0.1", "--warmup", "0", "--out", out.toString()));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void shouldResumeSkippingCellsAlreadyInResultsCsv(@TempDir final Path out) throws Exception
    {
        final Cli.Result first = Cli.run(sweep(out, "lazy"));

        assertThat(first.code()).as(first.toString()).isZero();
        assertThat(first.out()).contains("2 cells (2 to run)").doesNotContain("skipping");
        assertThat(new BenchReport(out).readCsv()).hasSize(2);

        final Cli.Result second = Cli.run(sweep(out, "lazy,none"));

        assertThat(second.code()).as(second.toString()).isZero();
        assertThat(second.out()).contains("4 cells (2 to run)", "skipping 2 finished cells");
        assertThat(second.err().lines().filter(l -> l.startsWith("[")).toList())
            .hasSize(2).allMatch(l -> l.contains(" none "));
        final List<BenchRecord> rows = new BenchReport(out).readCsv();
        assertThat(rows).extracting(BenchRecord::key).doesNotHaveDuplicates().hasSize(4);
        // The summary covers every row, old and new.
        assertThat(Files.readString(out.resolve("results.json"))).contains("\"lazy\"", "\"none\"");

        final Cli.Result third = Cli.run(sweep(out, "none,lazy"));

        assertThat(third.out()).contains("4 cells (0 to run)", "skipping 4 finished cells");
        assertThat(new BenchReport(out).readCsv()).hasSize(4);
    }

    @Test
    void shouldTreatAnotherCostAsOtherCells(@TempDir final Path out) throws Exception
    {
        assertThat(Cli.run(sweep(out, "strict")).code()).isZero();

        final Cli.Result r = Cli.run(sweep(out, "strict", "--cost", "smmuv3"));

        assertThat(r.out()).contains("2 cells (2 to run)").doesNotContain("skipping");
        assertThat(new BenchReport(out).readCsv()).extracting(BenchRecord::cost)
            .containsExactly("none", "none", "smmuv3", "smmuv3");
    }

    @Test
    void shouldRunEveryCombinationOfDirectionsAndMapModes(@TempDir final Path out) throws Exception
    {
        final Cli.Result r = Cli.run("sweep", "--modes", "swiotlb", "--granules", "2", "--dirs", "TO_DEVICE,2",
            "--map-mode", "single,sg", "--seconds", "0.1", "--warmup", "0", "--out", out.toString());

        assertThat(r.code()).as(r.toString()).isZero();
        final List<BenchRecord> rows = new BenchReport(out).readCsv();
        assertThat(rows).extracting(b -> b.dir() + "/" + b.mapMode()).containsExactly("TO_DEVICE/single",
            "FROM_DEVICE/single", "TO_DEVICE/sg", "FROM_DEVICE/sg");
        assertThat(rows).allMatch(b -> b.loops() > 0 && b.granule() == 2);
    }

    @Test
    void shouldRefuseAResultsCsvWithOtherColumns(@TempDir final Path out) throws Exception
    {
        Files.writeString(out.resolve("results.csv"), "a,b,c\n1,2,3\n");

        final Cli.Result r = Cli.run(sweep(out, "none"));

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("was not written by this version of dmasim");
    }
}
