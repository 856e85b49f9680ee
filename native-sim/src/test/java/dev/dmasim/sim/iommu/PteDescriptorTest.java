package dev.dmasim.sim.iommu;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PteDescriptorTest
{
    @Test
    void shouldEncodeAndDecodeLeavesAndTables()
    {
        final long leaf = PteDescriptor.leaf(0x000F_FFFF_FFFF_F000L, PteDescriptor.READ | PteDescriptor.MMIO, 2);
        assertThat(PteDescriptor.isLeaf(leaf)).isTrue();
        assertThat(PteDescriptor.isTable(leaf)).isFalse();
        assertThat(PteDescriptor.outputAddress(leaf)).isEqualTo(0x000F_FFFF_FFFF_F000L);
        assertThat(PteDescriptor.level(leaf)).isEqualTo(2);
        assertThat(PteDescriptor.leafSize(leaf)).isEqualTo(2L << 20);
        assertThat(PteDescriptor.permits(leaf, 1)).isTrue();
        assertThat(PteDescriptor.permits(leaf, 2)).isFalse();
        assertThat(PteDescriptor.permits(leaf, 3)).isFalse();
        assertThat(leaf).as("bits 0, 2, 4, output 12..51, level at 55").isEqualTo(
            1L | 1L << 2 | 1L << 4 | 0x000F_FFFF_FFFF_F000L | 2L << 55);

        final long table = PteDescriptor.table(0x1234_5000L);
        assertThat(table).isEqualTo(0x1234_5000L | 0b11);
        assertThat(PteDescriptor.isTable(table)).isTrue();
        assertThat(PteDescriptor.isLeaf(table)).isFalse();
        assertThat(PteDescriptor.isValid(0L)).isFalse();
        assertThat(PteDescriptor.toString(leaf)).isEqualTo("PTE[leaf L2 0xffffffffff000 R MMIO]");
        assertThat(PteDescriptor.levelShift(0)).isEqualTo(39);
        assertThat(PteDescriptor.levelShift(3)).isEqualTo(12);
        assertThat(IommuProt.toPteAttrs(IommuProt.ALL))
            .isEqualTo(PteDescriptor.READ | PteDescriptor.WRITE | PteDescriptor.MMIO | PteDescriptor.PRIV);
    }
}
