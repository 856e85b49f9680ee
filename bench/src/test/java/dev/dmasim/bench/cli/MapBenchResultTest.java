package dev.dmasim.bench.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The kernel's arithmetic in do_map_benchmark(): integer 100 ns averages and int_sqrt deviations. */
class MapBenchResultTest
{
    @Test
    void shouldComputeTheKernelsIntegerAverageAndDeviation()
    {
        // Samples 1, 2, 3, 10 (100 ns units): sum 16, sum of squares 114, 4 loops.
        final MapBenchResult.Sums s = new MapBenchResult.Sums(16, 114, 1600, 1_140_000);

        assertThat(MapBenchResult.kernelAvg100ns(s, 4)).isEqualTo(4);               // 16 / 4
        assertThat(MapBenchResult.kernelStddev100ns(s, 4)).isEqualTo(3);            // int_sqrt(114/4 - 16) = int_sqrt(12)
        assertThat(MapBenchResult.meanNs(s, 4)).isEqualTo(400.0);
        assertThat(MapBenchResult.stddevNs(s, 4)).isCloseTo(Math.sqrt(285_000 - 160_000), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(MapBenchResult.kernelAvg100ns(s, 0)).isZero();
        assertThat(MapBenchResult.kernelStddev100ns(s, 0)).isZero();
    }

    @Test
    void shouldTakeIntegerSquareRootsLikeIntSqrt64()
    {
        assertThat(MapBenchResult.intSqrt(0)).isZero();
        assertThat(MapBenchResult.intSqrt(1)).isEqualTo(1);
        assertThat(MapBenchResult.intSqrt(15)).isEqualTo(3);
        assertThat(MapBenchResult.intSqrt(16)).isEqualTo(4);
        assertThat(MapBenchResult.intSqrt(Long.MAX_VALUE)).isEqualTo(3_037_000_499L);
        assertThat(MapBenchResult.intSqrt(-1L)).isEqualTo(0xFFFF_FFFFL);            // u64 max
        for (long x = 0; x < 100_000; x += 7)
        {
            final long r = MapBenchResult.intSqrt(x);
            assertThat(r * r).isLessThanOrEqualTo(x);
            assertThat((r + 1) * (r + 1)).isGreaterThan(x);
        }
    }
}
