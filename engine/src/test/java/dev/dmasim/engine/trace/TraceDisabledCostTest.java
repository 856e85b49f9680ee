package dev.dmasim.engine.trace;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.trace.jfr.MapEvent;
import dev.dmasim.sim.mem.Zone;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With no trace sink and no JFR recording enabling dmasim's events, map/unmap/sync allocate nothing on the calling
 * thread (ThreadMXBean allocated bytes), including after a sink was installed and removed, and while a JFR
 * recording runs without dmasim's events. A sink that is on does allocate (so the measurement can fail).
 */
class TraceDisabledCostTest
{
    private static final int ITERATIONS = 20_000;

    /**
     * {@code com.sun.management.ThreadMXBean.getThreadAllocatedBytes(long)}, looked up at run time (the engine module
     * does not read java.management) and called with invokeExact, so the measurement itself boxes nothing.
     */
    private static final MethodHandle ALLOCATED_BYTES;

    static
    {
        try
        {
            final Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean")
                .invoke(null);
            ALLOCATED_BYTES = MethodHandles.publicLookup().findVirtual(Class.forName("com.sun.management.ThreadMXBean"),
                "getThreadAllocatedBytes", MethodType.methodType(long.class, long.class)).bindTo(mx);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private static long allocatedBytes(final long threadId)
    {
        try
        {
            return (long)ALLOCATED_BYTES.invokeExact(threadId);
        }
        catch (final Throwable t)
        {
            throw new IllegalStateException(t);
        }
    }

    /**
     * @return the fewest bytes one of five runs of {@code r} allocated, after two warm-up runs. JIT and class
     * loading allocate once in a while during the first runs; a per-call allocation shows in every run
     * ({@value #ITERATIONS} calls x at least 16 bytes).
     */
    private static long allocatedBy(final Runnable r)
    {
        final long id = Thread.currentThread().threadId();
        r.run();
        r.run();
        long min = Long.MAX_VALUE;
        for (int k = 0; k < 5; k++)
        {
            final long before = allocatedBytes(id);
            r.run();
            min = Math.min(min, allocatedBytes(id) - before);
        }
        return min;
    }

    private static Runnable loop(final Device dev, final long phys)
    {
        return () ->
        {
            for (int i = 0; i < ITERATIONS; i++)
            {
                final long dma = dev.mapPhys(phys, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
                dev.syncSingleForCpu(dma, 4096, DmaDirection.BIDIRECTIONAL);
                dev.unmapPhys(dma, 4096, DmaDirection.BIDIRECTIONAL, DmaAttrs.NONE);
            }
        };
    }

    @Test
    void disabledSinkAndJfrAllocateNothing() throws Exception
    {
        try (DmaEngine engine = DmaEngine.builder().cpus(1).iommu(IommuMode.NONE).build())
        {
            engine.cpu().bind(0);
            final Device dev = engine.attach(DeviceConfig.pci("0000:03:00.0").coherent(false));
            final long phys = engine.pages().allocPages(0, Zone.NORMAL);
            final Runnable work = loop(dev, phys);

            assertThat(allocatedBy(work)).as("tracing off, JFR off").isZero();

            final StringBuilder out = new StringBuilder();
            final TraceSink sink = TraceSink.builder(out).bufferChars(1 << 16).build();
            engine.trace(sink);
            final long on = allocatedBy(() ->
            {
                work.run();
                out.setLength(0);
            });
            assertThat(on).as("tracing on allocates (the check can fail)").isPositive();
            engine.trace(null);
            assertThat(allocatedBy(work)).as("tracing switched off again").isZero();

            try (Recording rec = new Recording())
            {
                rec.enable("jdk.CPULoad"); // a recording runs, without dmasim's events
                rec.start();
                assertThat(allocatedBy(work)).as("JFR running, dmasim events disabled").isZero();
                rec.enable(MapEvent.NAME);
                assertThat(allocatedBy(work)).as("dmasim.Map enabled: events are built").isPositive();
                rec.stop();
            }
        }
    }
}
