package dev.dmasim.engine.check;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.IovaState;
import dev.dmasim.engine.Machines;
import dev.dmasim.sim.cache.CacheConfig;
import dev.dmasim.sim.mem.Zone;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With checks off, the map/sync/unmap hot path, the 2-step calls, MMIO mappings and device transfers allocate nothing,
 * with or without a cache model.
 */
class ChecksOffAllocationTest
{
    private static Object bean;
    private static Method allocated;

    /**
     * {@code com.sun.management.ThreadMXBean#getThreadAllocatedBytes}, by reflection (the engine module reads no
     * management module); the reflective call's own allocation is measured and subtracted by the caller.
     */
    private static long allocatedBytes() throws Exception
    {
        if (bean == null)
        {
            bean = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            allocated = Class.forName("com.sun.management.ThreadMXBean").getMethod("getThreadAllocatedBytes", long.class);
        }
        return (long)allocated.invoke(bean, Thread.currentThread().threadId());
    }

    private static long measurementOverhead() throws Exception
    {
        long min = Long.MAX_VALUE;
        for (int i = 0; i < 100; i++)
        {
            final long before = allocatedBytes();
            min = Math.min(min, allocatedBytes() - before);
        }
        return min;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void mapSyncUnmapAllocateNothingWithChecksOff(final boolean cache) throws Exception
    {
        final DmaEngine.Builder b = DmaEngine.builder().cpus(1).iommu(IommuMode.NONE);
        if (cache)
        {
            b.cache(CacheConfig.defaults());
        }
        try (DmaEngine engine = b.build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").coherent(false));
            final long buf = engine.pages().allocPages(0, Zone.NORMAL);
            final MemorySegment io = MemorySegment.ofArray(new byte[256]);
            long sink = 0;
            long allocated = 0;
            final long overhead = measurementOverhead();
            for (int round = 0; round < 30; round++)
            {
                final long before = allocatedBytes();
                for (int i = 0; i < 20_000; i++)
                {
                    engine.cpuMemory().write(buf, io);
                    final long dma = dev.mapPhys(buf, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
                    sink += dev.bus().dmaRead(dma, io);
                    sink += dev.bus().dmaWrite(dma, io);
                    dev.syncSingleForCpu(dma, 4096, DmaDirection.BIDIRECTIONAL);
                    sink += engine.cpuMemory().read(buf, io);
                    dev.syncSingleForDevice(dma, 4096, DmaDirection.BIDIRECTIONAL);
                    dev.unmapPhys(dma, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
                }
                allocated = allocatedBytes() - before - overhead;
                if (allocated < 1024)
                {
                    break;
                }
            }
            assertThat(sink).isZero();
            assertThat(allocated).as("bytes allocated by 20k map/transfer/sync/unmap rounds, cache " + cache)
                .isLessThan(1024);
            if (!cache)
            {
                assertThat(engine.cpuMemory()).as("checks off, no cache: unwrapped").isSameAs(engine.memory());
            }
        }
    }

    /** The 2-step calls and MMIO mappings, whose check hooks are a null test when the checks are off. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void twoStepAndResourceAllocateNothingWithChecksOff(final boolean cache) throws Exception
    {
        final DmaEngine.Builder b = DmaEngine.builder().cpus(1).iommu(IommuMode.STRICT);
        if (cache)
        {
            b.cache(CacheConfig.defaults());
        }
        try (DmaEngine engine = b.build())
        {
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").coherent(false));
            final long buf = engine.pages().allocPages(0, Zone.NORMAL);
            final IovaState s = new IovaState();
            final MemorySegment io = MemorySegment.ofArray(new byte[256]);
            long sink = 0;
            long allocated = 0;
            final long overhead = measurementOverhead();
            for (int round = 0; round < 30; round++)
            {
                final long before = allocatedBytes();
                for (int i = 0; i < 20_000; i++)
                {
                    sink += dev.iovaTryAlloc(s, buf, 4096) ? 0 : 1;
                    sink += dev.iovaLink(s, buf, 0, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
                    sink += dev.iovaSync(s, 0, 4096);
                    sink += dev.bus().dmaRead(s.addr(), io);
                    dev.iovaUnlink(s, 0, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
                    dev.iovaFree(s);
                    final long dma = dev.mapResource(Machines.DEFAULT_BAR_BASE, 4096, DmaDirection.BIDIRECTIONAL,
                        DmaAttrs.NONE);
                    sink += dev.bus().dmaWrite(dma, io);
                    dev.unmapResource(dma, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
                }
                allocated = allocatedBytes() - before - overhead;
                if (allocated < 1024)
                {
                    break;
                }
            }
            assertThat(sink).isZero();
            assertThat(allocated).as("bytes allocated by 20k 2-step and resource rounds, cache " + cache)
                .isLessThan(1024);
        }
    }
}
