package dev.dmasim.bench.example;

import dev.dmasim.bench.example.nic.NicModel;
import dev.dmasim.bench.example.nvme.NvmeModel;
import dev.dmasim.engine.IommuMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A correct driver runs clean in every IOMMU mode, on a coherent and on a non-coherent device (with the CPU cache
 * model): zero dma-debug reports, zero check reports, no IOMMU fault, nothing pending at release, every unit verified.
 */
class ExampleCleanRunTest
{
    static final int FRAMES = 120;
    static final int IOS = 80;

    static Stream<Arguments> runs()
    {
        final List<Arguments> runs = new ArrayList<>();
        for (final String model : new String[] {"nic", "nvme"})
        {
            for (final IommuMode mode : IommuMode.values())
            {
                for (final boolean noncoherent : new boolean[] {false, true})
                {
                    runs.add(Arguments.of(model, mode, noncoherent));
                }
            }
        }
        return runs.stream();
    }

    static ExampleModel model(final String name)
    {
        return name.equals("nic") ? new NicModel() : new NvmeModel();
    }

    @ParameterizedTest(name = "{0} iommu={1} noncoherent={2}")
    @MethodSource("runs")
    void correctDriverRunsCleanAndVerifiesEveryByte(final String model, final IommuMode mode, final boolean noncoherent)
    {
        final int count = model.equals("nic") ? FRAMES : IOS;
        final ExampleResult r = ExampleRunner.run(model(model), new ExampleOptions(mode, count, Bug.NONE, noncoherent, 7));

        assertThat(r.debugReports()).as("dma-debug").isEmpty();
        assertThat(r.checkReports()).as("checks").isEmpty();
        assertThat(r.faultCount()).as("IOMMU faults").isZero();
        assertThat(r.pendingAtRelease()).as("pending at release").isZero();
        assertThat(r.swiotlbSlotsUsed()).isZero();
        assertThat(r.stats().failures).as(String.join("; ", r.stats().notes)).isZero();
        assertThat(r.stats().corrupt).isZero();
        assertThat(r.stats().deviceErrors).isZero();
        assertThat(r.stats().verified).isEqualTo(count);
        assertThat(r.stats().bytes).isPositive();
        assertThat(r.device()).contains(mode.name()).contains(noncoherent ? "non-coherent" : ", coherent");
        assertThat(r.clean()).isTrue();
        assertThat(r.exitCode()).isZero();
    }
}
