package dev.dmasim.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DmaDirectionTest
{
    @Test
    void shouldKeepKernelValues()
    {
        assertThat(DmaDirection.of(0)).isEqualTo(DmaDirection.BIDIRECTIONAL);
        assertThat(DmaDirection.of(1)).isEqualTo(DmaDirection.TO_DEVICE);
        assertThat(DmaDirection.of(2)).isEqualTo(DmaDirection.FROM_DEVICE);
        assertThat(DmaDirection.of(3)).isEqualTo(DmaDirection.NONE);
        assertThat(DmaDirection.NONE.isValid()).isFalse();
        assertThat(DmaDirection.TO_DEVICE.deviceReads()).isTrue();
        assertThat(DmaDirection.TO_DEVICE.deviceWrites()).isFalse();
    }

    @Test
    void shouldRejectUnknownValue()
    {
        assertThatThrownBy(() -> DmaDirection.of(4)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("4");
    }
}
