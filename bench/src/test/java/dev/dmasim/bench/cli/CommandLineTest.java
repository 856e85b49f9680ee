package dev.dmasim.bench.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Parsing, help, version and the usage errors of every command (nothing here runs a benchmark). */
class CommandLineTest
{
    @Test
    void shouldPrintVersionOfDmasimAndJvm()
    {
        final Cli.Result r = Cli.run("--version");

        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).matches("(?s)dmasim \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\\RJVM: .*25.*");
    }

    @Test
    void shouldListEveryCommandInTopLevelHelp()
    {
        final Cli.Result r = Cli.run("--help");

        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("info", "map-bench", "sweep", "--quick", "--out", "--profile", "Examples:",
            "Exit status");
    }

    @ParameterizedTest
    @CsvSource({
        "map-bench, --threads",
        "map-bench, --granule",
        "map-bench, --iommu",
        "map-bench, --json",
        "sweep, --modes",
        "sweep, --granules",
        "info, --swiotlb-mb",
    })
    void shouldDescribeOptionsInCommandHelp(final String command, final String option)
    {
        final Cli.Result r = Cli.run(command, "--help");

        assertThat(r.code()).isZero();
        assertThat(r.out()).contains(option, "Examples:");
        assertThat(r.err()).isEmpty();
    }

    @ParameterizedTest(name = "map-bench {0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "-t 0          | invalid number of threads, must be in 1-1024",
        "-t 1025       | invalid number of threads, must be in 1-1024",
        "-s 0          | invalid number of seconds, must be in 1-300",
        "-s 301        | invalid number of seconds, must be in 1-300",
        "-x -1         | invalid transmit delay, must be in 0-10000000",
        "-x 10000001   | invalid transmit delay, must be in 0-10000000",
        "-b 19         | invalid dma mask bit, must be in 20-64",
        "-b 65         | invalid dma mask bit, must be in 20-64",
        "-d 3          | invalid dma direction",
        "-g 0          | invalid granule size",
        "-g 1025       | invalid granule size",
        "-m 2          | invalid map mode, DMA_MAP_BENCH_SINGLE_MODE:0, DMA_MAP_BENCH_SG_MODE:1",
        "-m scatter    | invalid map mode, DMA_MAP_BENCH_SINGLE_MODE:0, DMA_MAP_BENCH_SG_MODE:1",
        "-n 0          | invalid numa node",
        "--warmup -1   | --warmup must be in 0-60 seconds, was -1.0",
        "-t abc        | Invalid value for option '--threads': 'abc' is not an int",
        "--iommu foo   | Invalid value for option '--iommu': unknown IOMMU mode 'foo': expected none, passthrough, strict or lazy",
        "--cpus 0      | --cpus must be in 1-4096, was 0",
        "--bogus       | Unknown option: '--bogus'",
    })
    void shouldRejectBadMapBenchUsageWithKernelMessageAndExit2(final String args, final String message)
    {
        final String[] argv = ("map-bench -s 1 " + args.strip()).split(" +");

        final Cli.Result r = Cli.run(argv);

        assertThat(r.code()).as(r.toString()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err()).isEqualTo("dmasim map-bench: " + message + System.lineSeparator() +
            "Try 'dmasim map-bench --help'" + System.lineSeparator());
    }

    @Test
    void shouldCheckMapModeBeforeThreadsLikeTheKernelTool()
    {
        final Cli.Result r = Cli.run("map-bench", "-m", "7", "-t", "0");

        assertThat(r.err()).startsWith("dmasim map-bench: invalid map mode");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "sweep --modes fast               | dmasim sweep: unknown mode 'fast': expected none, passthrough, strict, lazy or swiotlb",
        "sweep --threads 0                | dmasim sweep: invalid number of threads, must be in 1-1024: 0",
        "sweep --granules 2000            | dmasim sweep: invalid granule size: 2000 (1-1024)",
        "sweep --dirs 5                   | dmasim sweep: invalid dma direction '5': expected 0, 1, 2 or a name",
        "sweep --map-mode x               | dmasim sweep: invalid map mode 'x': expected single or sg",
        "--seconds 0                      | dmasim: --seconds must be in 0.1-300, was 0.0",
        "--nope                           | dmasim: Unknown option: '--nope'",
        "info --cost fast                 | dmasim info: Invalid value for option '--cost': unknown invalidation cost 'fast': expected none, smmuv3 (500 ns), vtd (1000 ns) or a number of nanoseconds such as 750ns",
        "info --swiotlb-mb 5000           | dmasim info: --swiotlb-mb must be in 0-1024, was 5000",
        "info --swiotlb-mb 0 --force-bounce | dmasim info: forced bouncing needs a swiotlb pool: --swiotlb-mb is 0",
    })
    void shouldRejectBadUsageOfOtherCommandsWithOneLineAndExit2(final String args, final String firstLine)
    {
        final Cli.Result r = Cli.run(args.strip().split(" +"));

        assertThat(r.code()).as(r.toString()).isEqualTo(2);
        assertThat(r.err().lines().toList()).hasSize(2);
        assertThat(r.err().lines().findFirst()).contains(firstLine);
        assertThat(r.err().lines().skip(1).findFirst().orElseThrow()).matches("Try 'dmasim( [a-z-]+)? --help'");
    }
}
