package dev.dmasim.bench.cli;

import dev.dmasim.bench.report.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code dmasim map-bench}: 1-second runs on the simulated machine (the kernel tool's minimum). */
class MapBenchTest
{
    private static final Pattern HEADER = Pattern.compile(
        "dma mapping benchmark: threads:(\\d+) seconds:(\\d+) node:(-?\\d+) dir:(BIDIRECTIONAL|TO_DEVICE|FROM_DEVICE) " +
        "granule: (\\d+)");
    private static final Pattern MAP = Pattern.compile(
        "average map latency\\(us\\):(\\d+\\.\\d) standard deviation:(\\d+\\.\\d)");
    private static final Pattern UNMAP = Pattern.compile(
        "average unmap latency\\(us\\):(\\d+\\.\\d) standard deviation:(\\d+\\.\\d)");
    private static final Pattern NS = Pattern.compile(
        "(map|unmap) +latency\\(ns\\): mean ([0-9.]+) stddev ([0-9.]+) p50 (\\d+) p90 (\\d+) p99 (\\d+) p99.9 (\\d+) " +
        "max (\\d+)");
    private static final Pattern THROUGHPUT = Pattern.compile("throughput: ([0-9,]+) map\\+unmap/s total.*");

    @ParameterizedTest
    @ValueSource(strings = {"none", "strict", "lazy"})
    void shouldPrintTheKernelToolsLinesThenNanosecondFigures(final String mode)
    {
        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0.2", "-b", "64", "--iommu", mode);

        assertThat(r.code()).as(r.toString()).isZero();
        final List<String> lines = r.out().lines().toList();
        final Matcher header = HEADER.matcher(lines.get(0));
        assertThat(header.matches()).as(lines.get(0)).isTrue();
        assertThat(header.group(1)).isEqualTo("1");
        assertThat(header.group(2)).isEqualTo("1");
        assertThat(header.group(3)).isEqualTo("-1");
        assertThat(header.group(4)).isEqualTo("BIDIRECTIONAL");
        assertThat(header.group(5)).isEqualTo("1");
        assertThat(MAP.matcher(lines.get(1)).matches()).as(lines.get(1)).isTrue();
        assertThat(UNMAP.matcher(lines.get(2)).matches()).as(lines.get(2)).isTrue();

        final Matcher map = NS.matcher(lines.get(3));
        final Matcher unmap = NS.matcher(lines.get(4));
        assertThat(map.matches()).as(lines.get(3)).isTrue();
        assertThat(unmap.matches()).as(lines.get(4)).isTrue();
        assertThat(Double.parseDouble(map.group(2))).isPositive();
        assertThat(Long.parseLong(map.group(4))).isPositive();
        assertThat(Long.parseLong(map.group(4))).isLessThanOrEqualTo(Long.parseLong(map.group(6)));
        assertThat(Long.parseLong(map.group(6))).isLessThanOrEqualTo(Long.parseLong(map.group(8)));
        assertThat(Double.parseDouble(unmap.group(2))).isPositive();

        final Matcher thr = THROUGHPUT.matcher(lines.get(5));
        assertThat(thr.matches()).as(lines.get(5)).isTrue();
        assertThat(Long.parseLong(thr.group(1).replace(",", ""))).isPositive();
        assertThat(r.out()).contains("map failures: 0", "engine: mode " + mode);
        if (!mode.equals("none"))
        {
            assertThat(r.out()).doesNotContain("IOTLB invalidations 0,");
        }
    }

    @Test
    void shouldPrintOneJsonObjectWithConfigurationFiguresAndEngineCounters()
    {
        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0", "-b", "64", "-t", "2", "-d", "1", "-g",
            "2", "--iommu", "strict", "--cost", "vtd", "--json");

        assertThat(r.code()).as(r.toString()).isZero();
        @SuppressWarnings("unchecked")
        final Map<String, Object> root = (Map<String, Object>)Json.parse(r.out());
        final Map<?, ?> cfg = (Map<?, ?>)root.get("config");
        assertThat(cfg.get("threads")).isEqualTo(2L);
        assertThat(cfg.get("dir")).isEqualTo("TO_DEVICE");
        assertThat(cfg.get("granule")).isEqualTo(2L);
        assertThat(cfg.get("mode")).isEqualTo("strict");
        assertThat(cfg.get("costNs")).isEqualTo(1000L);
        final Map<?, ?> thr = (Map<?, ?>)root.get("throughput");
        final long loops = (Long)thr.get("loops");
        assertThat(loops).isPositive();
        assertThat((List<?>)thr.get("perThreadLoops")).hasSize(2);
        final Map<?, ?> map = (Map<?, ?>)root.get("map");
        assertThat(((Number)map.get("p50Ns")).longValue()).isPositive();
        // With the vtd cost every strict unmap spins 1000 ns on its invalidation.
        assertThat(((Number)((Map<?, ?>)root.get("unmap")).get("p50Ns")).longValue()).isGreaterThanOrEqualTo(1000);
        final Map<?, ?> engine = (Map<?, ?>)root.get("engine");
        assertThat((Long)engine.get("maps")).isGreaterThanOrEqualTo(loops);
        assertThat((Long)engine.get("strictInvalidations")).isGreaterThanOrEqualTo(loops);
        assertThat(engine.get("bounces")).isEqualTo(0L);
        assertThat(((Map<?, ?>)root.get("kernel")).keySet().stream().map(Object::toString).toList())
            .containsExactly("avg_map_100ns", "map_stddev", "avg_unmap_100ns", "unmap_stddev");
    }

    @Test
    void shouldBounceBuffersAboveTheDefault32BitMaskThroughSwiotlb()
    {
        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0", "--json");

        assertThat(r.code()).as(r.toString()).isZero();
        final Map<?, ?> root = (Map<?, ?>)Json.parse(r.out());
        assertThat(((Map<?, ?>)root.get("config")).get("dmaBits")).isEqualTo(32L);
        final long loops = (Long)((Map<?, ?>)root.get("throughput")).get("loops");
        assertThat((Long)((Map<?, ?>)root.get("engine")).get("bounces")).isGreaterThanOrEqualTo(loops);
    }

    @Test
    void shouldPrintTheSgModeLinesOfTheKernelToolsSgPatch()
    {
        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0", "-b", "64", "-m", "sg", "-g", "8",
            "-d", "2", "--iommu", "lazy");

        assertThat(r.code()).as(r.toString()).isZero();
        final List<String> lines = r.out().lines().toList();
        assertThat(lines.get(0)).isEqualTo("dma mapping mode: 1");
        assertThat(lines.get(1)).isEqualTo(
            "dma mapping benchmark: threads:1 seconds:1 node:-1 dir:FROM_DEVICE granule/sg_nents: 8");
        assertThat(MAP.matcher(lines.get(2)).matches()).as(lines.get(2)).isTrue();
        assertThat(UNMAP.matcher(lines.get(3)).matches()).as(lines.get(3)).isTrue();
    }

    @Test
    void shouldExitOneWhenEveryMapFails()
    {
        // 1024 pages = 4 MiB: more than the 256 KiB one swiotlb mapping can hold, so every forced bounce fails.
        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0", "-g", "1024", "--force-bounce");

        assertThat(r.code()).as(r.toString()).isEqualTo(1);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).startsWith("dmasim map-bench: every map failed (")
            .contains("dma_map_single failed on 0000:03:00.0");
    }

    @Test
    void shouldWriteJfrProfileAndPrintHotMethods(@TempDir final Path dir)
    {
        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0", "-b", "64", "--profile", "jfr",
            "--out", dir.toString());

        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(dir.resolve("profile-map-bench.jfr")).isNotEmptyFile();
        assertThat(r.out()).contains("profile: JFR recording written to " + dir.resolve("profile-map-bench.jfr"),
            "hot methods (top frames of ");
        assertThat(r.out()).containsPattern("(?m)^ +\\d+\\.\\d% +\\d+  [\\w.$]+\\.\\w+");
    }

    @Test
    void shouldWriteAsyncProfilerFlameGraph(@TempDir final Path dir) throws Exception
    {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux") &&
            System.getProperty("os.arch").equals("amd64"), "async-profiler's bundled library is linux-x64 here");

        final Cli.Result r = Cli.run("map-bench", "-s", "1", "--warmup", "0", "-b", "64", "--profile", "async",
            "--out", dir.toString());

        assertThat(r.code()).as(r.toString()).isZero();
        final Path html = dir.resolve("profile-map-bench.html");
        assertThat(r.out()).contains("profile: async-profiler flame graph written to " + html);
        assertThat(Files.readString(html)).startsWith("<!DOCTYPE html>").contains("loopSingle");
    }
}
