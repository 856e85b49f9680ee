package dev.dmasim.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CsvTest
{
    @Test
    void shouldQuoteOnlyWhatNeedsIt()
    {
        assertThat(Csv.line(List.of("a", "b,c", "say \"hi\"", 3))).isEqualTo("a,\"b,c\",\"say \"\"hi\"\"\",3");
        assertThat(Csv.parseLine("a,\"b,c\",\"say \"\"hi\"\"\",3")).containsExactly("a", "b,c", "say \"hi\"", "3");
        assertThat(Csv.parseLine("x,,")).containsExactly("x", "", "");
        assertThatThrownBy(() -> Csv.parseLine("\"open")).isInstanceOf(IllegalArgumentException.class);
    }

    private static BenchRecord record(final String mode, final int threads)
    {
        return new BenchRecord(mode, threads, 16, "TO_DEVICE", "sg", 64, 100, 2, "750", 1.25, 1000, 3, 120.5, 10.25,
            110, 150, 300, 900, 5000, 90.125, 8.5, 80, 100, 200, 700, 4000, 800.0, 1, 0, 0, 0);
    }

    @Test
    void shouldAppendAndReadBackRecords(@TempDir final Path dir) throws Exception
    {
        final BenchReport report = new BenchReport(dir.resolve("r"));
        report.append(record("strict", 1));
        report.append(record("lazy", 2));

        final List<String> lines = Files.readAllLines(dir.resolve("r").resolve(BenchReport.CSV));
        assertThat(lines).hasSize(3);
        assertThat(lines.getFirst()).startsWith("mode,threads,granule,dir,mapMode,dmaBits,transNs,cpus,cost,seconds");
        assertThat(report.readCsv()).containsExactly(record("strict", 1), record("lazy", 2));
        assertThat(record("strict", 1).key()).isNotEqualTo(record("strict", 2).key());
    }

    @Test
    void shouldNameTheBadLineOfACorruptCsv(@TempDir final Path dir) throws Exception
    {
        final BenchReport report = new BenchReport(dir);
        report.append(record("none", 1));
        Files.writeString(dir.resolve(BenchReport.CSV), "none,x\n", java.nio.file.StandardOpenOption.APPEND);

        assertThatThrownBy(report::readCsv).hasMessageContaining("line 3");
    }
}
