package dev.dmasim.engine.iommu;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.Zone;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Shared helpers of the dma-iommu tests: buffers with known bytes, device-side reads and writes, checks. */
final class IommuTestSupport
{
    static final long PAGE = 4096;
    static final long TOP_32 = 0x1_0000_0000L;

    private IommuTestSupport()
    {
    }

    /** @return a 1-CPU engine (deterministic rcache) in {@code mode} with dma-debug on. */
    static DmaEngine engine(final IommuMode mode)
    {
        return DmaEngine.builder().cpus(1).iommu(mode).debug(true).build();
    }

    /** @return a block of {@code 1 << order} pages from ZONE_NORMAL. */
    static long alloc(final DmaEngine engine, final int order)
    {
        final long phys = engine.pages().allocPages(order, Zone.NORMAL);
        assertThat(phys).as("page allocation of order %d", order).isNotEqualTo(PageAllocator.NO_PAGE);
        return phys;
    }

    /** Fills {@code [phys, phys+len)} with random bytes from {@code rnd}; @return what was written. */
    static byte[] fill(final DmaEngine engine, final long phys, final int len, final SplittableRandom rnd)
    {
        final byte[] data = new byte[len];
        rnd.nextBytes(data);
        assertThat(engine.memory().write(phys, MemorySegment.ofArray(data))).isEqualTo(MemTx.OK);
        return data;
    }

    /** Fills {@code [phys, phys+len)} with {@code value}. */
    static void fill(final DmaEngine engine, final long phys, final int len, final byte value)
    {
        final byte[] data = new byte[len];
        java.util.Arrays.fill(data, value);
        assertThat(engine.memory().write(phys, MemorySegment.ofArray(data))).isEqualTo(MemTx.OK);
    }

    /** @return the CPU's view of {@code [phys, phys+len)}. */
    static byte[] cpuRead(final DmaEngine engine, final long phys, final int len)
    {
        final byte[] data = new byte[len];
        assertThat(engine.memory().read(phys, MemorySegment.ofArray(data))).isEqualTo(MemTx.OK);
        return data;
    }

    /** The device reads {@code len} bytes at {@code dma}. @return the MemTx code and fills {@code out}. */
    static int devRead(final Device dev, final long dma, final byte[] out)
    {
        return dev.bus().dmaRead(dma, MemorySegment.ofArray(out));
    }

    /** @return what the device reads at {@code dma} (asserting the read succeeds). */
    static byte[] devReadOk(final Device dev, final long dma, final int len)
    {
        final byte[] out = new byte[len];
        assertThat(devRead(dev, dma, out)).as("device read of %d bytes at 0x%x", len, dma)
            .isEqualTo(MemTx.OK);
        return out;
    }

    /** @return the MemTx code of a device read of {@code len} bytes at {@code dma}. */
    static int devReadRc(final Device dev, final long dma, final int len)
    {
        return devRead(dev, dma, new byte[len]);
    }

    /** @return the MemTx code of a device write of {@code data} at {@code dma}. */
    static int devWrite(final Device dev, final long dma, final byte[] data)
    {
        return dev.bus().dmaWrite(dma, MemorySegment.ofArray(data));
    }

    static String hex(final long v)
    {
        return "0x" + Long.toHexString(v);
    }
}
