package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.BenchRecord;
import dev.dmasim.bench.report.BenchReport;
import dev.dmasim.bench.report.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The main job ({@code dmasim} with no command), in its --quick form. */
class MainJobTest
{
    private static final byte[] PNG_MAGIC = {(byte)0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    @Test
    void shouldRunTheQuickMatrixPrintTheTableAndWriteTheReport(@TempDir final Path dir) throws Exception
    {
        final Path out = dir.resolve("report");

        final Cli.Result r = Cli.run("--quick", "--out", out.toString());

        assertThat(r.code()).as(r.toString()).isZero();
        // The table: one row per cell, 4 modes x 2 granules x 1 thread.
        final List<String> rows = r.out().lines()
            .filter(l -> l.matches("(none|strict|lazy|swiotlb) +1 +(1|16) +BIDIRECTIONAL +single .*")).toList();
        assertThat(rows).hasSize(8);
        assertThat(r.out()).contains("map p50", "unmap mean", "Mops/s", "report: " + out);
        // Not a terminal: one progress line per cell on stderr.
        assertThat(r.err().lines().filter(l -> l.matches("\\[\\d/8] .*Mops/s"))).hasSize(8);

        // results.json: the rows, with sane figures.
        final Map<?, ?> json = (Map<?, ?>)Json.parse(Files.readString(out.resolve("results.json")));
        final List<?> results = (List<?>)json.get("results");
        assertThat(results).hasSize(8);
        for (final Object o : results)
        {
            final Map<?, ?> cell = (Map<?, ?>)o;
            assertThat((Long)cell.get("loops")).as(cell.toString()).isPositive();
            assertThat(((Number)cell.get("mapP50Ns")).longValue()).isPositive();
            assertThat(((Number)cell.get("opsPerSec")).doubleValue()).isPositive();
        }
        assertThat(((Map<?, ?>)json.get("meta")).get("jvm").toString()).contains("25");

        // results.csv: the same rows.
        final List<BenchRecord> csv = new BenchReport(out).readCsv();
        assertThat(csv).extracting(BenchRecord::mode).containsExactly("none", "none", "strict", "strict", "lazy",
            "lazy", "swiotlb", "swiotlb");
        assertThat(csv).extracting(BenchRecord::granule).containsExactly(1, 16, 1, 16, 1, 16, 1, 16);

        // PNG plots, really PNG.
        final List<Path> pngs;
        try (Stream<Path> s = Files.list(out))
        {
            pngs = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
        assertThat(pngs).hasSizeGreaterThanOrEqualTo(2);
        for (final Path p : pngs)
        {
            final byte[] head = Arrays.copyOf(Files.readAllBytes(p), PNG_MAGIC.length);
            assertThat(head).as(p.toString()).isEqualTo(PNG_MAGIC);
        }

        // index.html shows the table and embeds every plot.
        final String html = Files.readString(out.resolve("index.html"));
        assertThat(html).startsWith("<!DOCTYPE html>").contains("<table>", "<td>swiotlb</td>");
        for (final Path p : pngs)
        {
            assertThat(html).contains("<img src=\"" + p.getFileName() + "\"");
        }
    }
}
