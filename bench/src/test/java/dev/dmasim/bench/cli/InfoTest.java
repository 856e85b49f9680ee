package dev.dmasim.bench.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code dmasim info}. */
class InfoTest
{
    @Test
    void shouldDescribeRegionsZonesIommuSwiotlbAndJvm()
    {
        final Cli.Result r = Cli.run("info");

        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out())
            .containsPattern("RAM +System RAM +\\[0x0000000000000000, 0x0000000080000000\\) 2 GiB")
            .containsPattern("MMIO 0000:04:00.0 BAR0 \\[0x00000000e0000000, 0x00000000e1000000\\) 16 MiB")
            .containsPattern("RAM +System RAM +\\[0x0000000100000000, 0x0000000180000000\\) 2 GiB")
            .containsPattern("(?m)^ +DMA +4095 +4095 ")
            .containsPattern("(?m)^ +DMA32 +\\d+ +\\d+ ")
            .containsPattern("(?m)^ +NORMAL +524288 +524288 ")
            .contains("cpus         2 simulated")
            .contains("default mode none; IOTLB 256 sets x 8 ways (2048 entries); invalidation cost none (0 ns")
            .containsPattern("swiotlb +\\[0x[0-9a-f]{16}, 0x[0-9a-f]{16}\\) 64 MiB, 32768 slots of 2048 bytes, " +
                "2 areas of 16384 slots, force off")
            .contains("dma-debug    off")
            .contains("jvm flags    ", "--enable-native-access=ALL-UNNAMED");
    }

    @Test
    void shouldReflectTheMachineOptions()
    {
        final Cli.Result r = Cli.run("info", "--iommu", "lazy", "--cpus", "4", "--swiotlb-mb", "128", "--cost",
            "smmuv3", "--debug", "--force-bounce");

        assertThat(r.code()).as(r.toString()).isZero();
        assertThat(r.out()).contains("cpus         4 simulated", "default mode lazy", "invalidation cost smmuv3 (500 ns",
            "128 MiB, 65536 slots", "4 areas", "force on", "dma-debug    on");
    }

    @Test
    void shouldSayWhenThereIsNoSwiotlbPool()
    {
        final Cli.Result r = Cli.run("info", "--swiotlb-mb", "0");

        assertThat(r.out()).contains("swiotlb      none (no bounce pool)");
        // The zone that held the pool has it back.
        assertThat(r.out()).containsPattern("(?m)^ +DMA32 +(\\d+) +\\1 ");
    }
}
