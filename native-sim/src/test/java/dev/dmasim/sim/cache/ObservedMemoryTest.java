package dev.dmasim.sim.cache;

import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysAddressSpace;
import dev.dmasim.sim.mem.MmioHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link ObservedMemory}: the memory's results, each completed access told to the observer once. */
class ObservedMemoryTest
{
    private static final long MMIO = 1L << 20;

    private final PhysAddressSpace mem = PhysAddressSpace.builder().chunkSize(1L << 16).ram(0, 1L << 20)
        .mmio(MMIO, 4096, new MmioHandler()
        {
            @Override
            public int read(final long offset, final MemorySegment dst, final long dstOffset, final long len)
            {
                return MemTx.OK;
            }

            @Override
            public int write(final long offset, final MemorySegment src, final long srcOffset, final long len)
            {
                return MemTx.DEVICE_ERROR;
            }
        }).build();
    private final List<String> seen = new ArrayList<>();
    private final ObservedMemory cpu = new ObservedMemory(mem, (phys, len, write) ->
        seen.add((write ? "W " : "R ") + Long.toHexString(phys) + "+" + len));

    @AfterEach
    void close()
    {
        mem.close();
    }

    @Test
    void everyAccessReachesTheMemoryAndIsObservedAfterwards()
    {
        final MemorySegment buf = MemorySegment.ofArray(new byte[16]);
        buf.fill((byte)7);
        assertThat(cpu.write(0x100, buf)).isEqualTo(MemTx.OK);
        assertThat(cpu.read(0x100, MemorySegment.ofArray(new byte[4]))).isEqualTo(MemTx.OK);
        assertThat(cpu.copy(0x100, 0x200, 16)).isEqualTo(MemTx.OK);
        assertThat(cpu.fill(0x300, 8, (byte)1)).isEqualTo(MemTx.OK);
        cpu.putLong(0x400, 42);
        assertThat(cpu.getLong(0x400)).isEqualTo(42);
        cpu.putLongRelease(0x408, 43);
        assertThat(cpu.getLongAcquire(0x408)).isEqualTo(43);
        assertThat(cpu.compareAndSetLong(0x400, 41, 44)).isFalse();
        assertThat(mem.getLong(0x400)).isEqualTo(42);
        final byte[] copied = new byte[16];
        mem.read(0x200, MemorySegment.ofArray(copied));
        assertThat(copied).containsOnly((byte)7);

        assertThat(seen).containsExactly("W 100+16", "R 100+4", "R 100+16", "W 200+16", "W 300+8", "W 400+8",
            "R 400+8", "W 408+8", "R 408+8", "W 400+8");
    }

    @Test
    void errorsAreObservedExceptionsAndEmptyAccessesAreNot()
    {
        final MemorySegment buf = MemorySegment.ofArray(new byte[8]);
        assertThat(cpu.write(MMIO, buf)).isEqualTo(MemTx.DEVICE_ERROR);
        assertThat(cpu.read(MMIO + 8, buf, 0, 0)).isEqualTo(MemTx.OK);
        assertThatThrownBy(() -> cpu.getLong(0x401)).isInstanceOf(IllegalArgumentException.class);
        assertThat(seen).containsExactly("W 100000+8");
        assertThat(cpu.ramSlice(0, 64)).isNull();
        assertThat(cpu.isRam(0, 4096)).isTrue();
        assertThat(cpu.isRam(MMIO, 8)).isFalse();
        assertThat(cpu.regions()).isEqualTo(mem.regions());
    }
}
