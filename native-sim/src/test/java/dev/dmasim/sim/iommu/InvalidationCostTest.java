package dev.dmasim.sim.iommu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InvalidationCostTest
{
    @Test
    void shouldParsePresetsAndNanoseconds()
    {
        assertThat(InvalidationCost.parse("none").nanos()).isZero();
        assertThat(InvalidationCost.parse("SMMUv3")).isEqualTo(InvalidationCost.SMMUV3);
        assertThat(InvalidationCost.parse("smmuv3").nanos()).isEqualTo(500);
        assertThat(InvalidationCost.parse("vtd").nanos()).isEqualTo(1000);
        assertThat(InvalidationCost.parse("750ns").nanos()).isEqualTo(750);
        assertThat(InvalidationCost.parse(" 42 ").nanos()).isEqualTo(42);
    }

    @Test
    void shouldRejectUnknownNamesClearly()
    {
        assertThatThrownBy(() -> InvalidationCost.parse("amdvi"))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("'amdvi'")
            .hasMessageContaining("none, smmuv3 (500 ns), vtd (1000 ns)");
        assertThatThrownBy(() -> InvalidationCost.parse("-5")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> InvalidationCost.parse("")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> InvalidationCost.parse(null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldSpinAtLeastTheConfiguredTime()
    {
        final InvalidationCost cost = InvalidationCost.ofNanos(200_000);
        final long start = System.nanoTime();
        for (int i = 0; i < 5; i++)
        {
            cost.charge();
        }
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(1_000_000);
        final long t0 = System.nanoTime();
        InvalidationCost.NONE.charge();
        assertThat(System.nanoTime() - t0).isLessThan(50_000_000);
    }
}
