package dev.dmasim.engine.trace;

import dev.dmasim.engine.DmaBuffer;
import dev.dmasim.engine.DmaDirection;
import dev.dmasim.engine.ScatterList;
import dev.dmasim.engine.core.EngineContext;
import dev.dmasim.engine.cpu.CpuBinding;

/**
 * Engine use: formats the tracepoints of {@code include/trace/events/dma.h} (and {@code iommu:map},
 * {@code iommu:unmap}, {@code iommu:io_page_fault} of {@code include/trace/events/iommu.h}) as ftrace text lines and
 * hands them to a {@link TraceSink}. The engine holds one in a field that is null while tracing is off, so the
 * disabled cost is that one field read at each API entry point.
 *
 * <p>Each line is {@code <task>-<pid> [<cpu>] ..... <seconds>: <event>: <TP_printk output>} with
 * {@code %16s-%-7d [%03d] %s %5lu.%06lu: }: task = the Java thread name (whitespace replaced by {@code _}, cut
 * at 15 chars like {@code TASK_COMM_LEN}), pid = the thread id, cpu = the simulated CPU slot, flags {@code .....}
 * (no irq context in a simulator), seconds since the engine started (monotonic, microseconds).
 *
 * <p>Thread-safe: formatting uses a per-thread builder; the sink serialises lines. Allocates while tracing.
 */
@SuppressWarnings("exports") // constructors and hooks take the engine-internal EngineContext
public final class DmaTracer
{
    private final TraceSink sink;
    private final long originNanos;
    private final CpuBinding cpu;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    /**
     * @param sink        the output.
     * @param originNanos {@link System#nanoTime()} of timestamp zero (the engine's start).
     * @param cpu         the engine's CPU binding (the {@code [cpu]} column).
     */
    public DmaTracer(final TraceSink sink, final long originNanos, final CpuBinding cpu)
    {
        if (sink == null || cpu == null)
        {
            throw new IllegalArgumentException("sink and cpu binding must not be null");
        }
        this.sink = sink;
        this.originNanos = originNanos;
        this.cpu = cpu;
    }

    /** @return the sink. */
    public TraceSink sink()
    {
        return sink;
    }

    /** @return true if iommu:map/unmap events are wanted. */
    public boolean iommuEvents()
    {
        return sink.iommuEvents();
    }

    // ------------------------------------------------------------------------------------------------ dma.h

    /** {@code dma_map_phys}: {@code "%s dir=%s dma_addr=%llx size=%zu phys_addr=%llx attrs=%s"}. */
    public void mapPhys(final String dev, final long phys, final long dma, final long size, final DmaDirection dir,
        final long attrs)
    {
        final StringBuilder sb = begin("dma_map_phys", dev, dir);
        TraceFormat.hex(sb.append(" dma_addr="), dma);
        TraceFormat.unsigned(sb.append(" size="), size);
        TraceFormat.hex(sb.append(" phys_addr="), phys);
        TraceFormat.attrs(sb.append(" attrs="), attrs);
        end(sb);
    }

    /** {@code dma_unmap_phys}: {@code "%s dir=%s dma_addr=%llx size=%zu attrs=%s"}. */
    public void unmapPhys(final String dev, final long dma, final long size, final DmaDirection dir, final long attrs)
    {
        final StringBuilder sb = begin("dma_unmap_phys", dev, dir);
        TraceFormat.hex(sb.append(" dma_addr="), dma);
        TraceFormat.unsigned(sb.append(" size="), size);
        TraceFormat.attrs(sb.append(" attrs="), attrs);
        end(sb);
    }

    /**
     * {@code dma_map_sg}:
     * {@code "%s dir=%s nents=%d/%d ents=%d/%d%s dma_addrs=%s sizes=%s phys_addrs=%s attrs=%s"}, arrays cut at
     * {@link TraceFormat#DMA_TRACE_MAX_ENTRIES} with {@code " [TRUNCATED]"}.
     */
    public void mapSg(final String dev, final ScatterList sgl, final int nents, final int ents, final DmaDirection dir,
        final long attrs)
    {
        final int tn = Math.min(nents, TraceFormat.DMA_TRACE_MAX_ENTRIES);
        final int te = Math.min(ents, TraceFormat.DMA_TRACE_MAX_ENTRIES);
        final StringBuilder sb = begin("dma_map_sg", dev, dir);
        sb.append(" nents=").append(tn).append('/').append(nents);
        sb.append(" ents=").append(te).append('/').append(ents);
        if (nents > TraceFormat.DMA_TRACE_MAX_ENTRIES || ents > TraceFormat.DMA_TRACE_MAX_ENTRIES)
        {
            sb.append(' ').append(TraceFormat.TRUNCATED_MARKER);
        }
        sb.append(" dma_addrs={");
        for (int i = 0; i < te; i++)
        {
            TraceFormat.hex(sb.append(i == 0 ? "0x" : ",0x"), sgl.dmaAddress(i));
        }
        sb.append("} sizes={");
        for (int i = 0; i < te; i++)
        {
            TraceFormat.hex(sb.append(i == 0 ? "0x" : ",0x"), sgl.dmaLength(i) & 0xffff_ffffL);
        }
        sb.append("} phys_addrs=");
        physArray(sb, sgl, tn);
        TraceFormat.attrs(sb.append(" attrs="), attrs);
        end(sb);
    }

    /**
     * What {@code __dma_map_sg_attrs} emits for a result: {@code dma_map_sg} when {@code ents > 0}, otherwise
     * {@code dma_map_sg_err} with the errno, unexpected ones reported as {@code -EIO} like the kernel.
     */
    public void mapSgResult(final String dev, final ScatterList sgl, final int nents, final int ents,
        final DmaDirection dir, final long attrs)
    {
        if (ents > 0)
        {
            mapSg(dev, sgl, nents, ents, dir, attrs);
        }
        else
        {
            final boolean known = ents == -22 || ents == -12 || ents == -5 || ents == -121;
            mapSgErr(dev, sgl, nents, known ? ents : -5, dir, attrs);
        }
    }

    /** {@code dma_map_sg_err}: {@code "%s dir=%s dma_addrs=%s err=%d attrs=%s"} (the array holds the phys addresses). */
    public void mapSgErr(final String dev, final ScatterList sgl, final int nents, final int err,
        final DmaDirection dir, final long attrs)
    {
        final StringBuilder sb = begin("dma_map_sg_err", dev, dir);
        sb.append(" dma_addrs=");
        physArray(sb, sgl, nents);
        sb.append(" err=").append(err);
        TraceFormat.attrs(sb.append(" attrs="), attrs);
        end(sb);
    }

    /** {@code dma_unmap_sg}: {@code "%s dir=%s phys_addrs=%s attrs=%s"}. */
    public void unmapSg(final String dev, final ScatterList sgl, final int nents, final DmaDirection dir,
        final long attrs)
    {
        final StringBuilder sb = begin("dma_unmap_sg", dev, dir);
        sb.append(" phys_addrs=");
        physArray(sb, sgl, nents);
        TraceFormat.attrs(sb.append(" attrs="), attrs);
        end(sb);
    }

    /** {@code dma_sync_single_for_cpu} / {@code _for_device}: {@code "%s dir=%s dma_addr=%llx size=%zu"}. */
    public void syncSingle(final String dev, final long dma, final long size, final DmaDirection dir,
        final boolean forCpu)
    {
        final StringBuilder sb = begin(forCpu ? "dma_sync_single_for_cpu" : "dma_sync_single_for_device", dev, dir);
        TraceFormat.hex(sb.append(" dma_addr="), dma);
        TraceFormat.unsigned(sb.append(" size="), size);
        end(sb);
    }

    /** {@code dma_sync_sg_for_cpu} / {@code _for_device}: {@code "%s dir=%s dma_addrs=%s sizes=%s"}, nents entries. */
    public void syncSg(final String dev, final ScatterList sgl, final int nents, final DmaDirection dir,
        final boolean forCpu)
    {
        final StringBuilder sb = begin(forCpu ? "dma_sync_sg_for_cpu" : "dma_sync_sg_for_device", dev, dir);
        sb.append(" dma_addrs={");
        for (int i = 0; i < nents; i++)
        {
            TraceFormat.hex(sb.append(i == 0 ? "0x" : ",0x"), sgl.dmaAddress(i));
        }
        sb.append("} sizes={");
        for (int i = 0; i < nents; i++)
        {
            TraceFormat.hex(sb.append(i == 0 ? "0x" : ",0x"), sgl.dmaLength(i) & 0xffff_ffffL);
        }
        end(sb.append('}'));
    }

    /**
     * {@code dma_alloc} (coherent) / {@code dma_alloc_pages}:
     * {@code "%s dir=%s dma_addr=%llx size=%zu virt_addr=%p flags=%s attrs=%s"}. {@code buf} null = failed
     * ({@code dma_addr=0}, {@code virt_addr} all zeros). virt_addr is the direct-map address of the buffer,
     * printed unhashed.
     */
    public void alloc(final String dev, final DmaBuffer buf, final long size, final DmaDirection dir,
        final boolean coherent)
    {
        final StringBuilder sb = begin(coherent ? "dma_alloc" : "dma_alloc_pages", dev, dir);
        TraceFormat.hex(sb.append(" dma_addr="), buf == null ? 0 : buf.dma());
        TraceFormat.unsigned(sb.append(" size="), buf == null ? size : buf.size());
        TraceFormat.zeroPaddedHex(sb.append(" virt_addr="), buf == null ? 0 : TraceFormat.PAGE_OFFSET + buf.phys(), 16);
        sb.append(" flags=GFP_KERNEL attrs=");
        end(sb);
    }

    /** {@code dma_free} / {@code dma_free_pages}: {@code "%s dir=%s dma_addr=%llx size=%zu virt_addr=%p attrs=%s"}. */
    public void free(final String dev, final DmaBuffer buf, final DmaDirection dir, final boolean coherent)
    {
        final StringBuilder sb = begin(coherent ? "dma_free" : "dma_free_pages", dev, dir);
        TraceFormat.hex(sb.append(" dma_addr="), buf.dma());
        TraceFormat.unsigned(sb.append(" size="), buf.size());
        TraceFormat.zeroPaddedHex(sb.append(" virt_addr="), TraceFormat.PAGE_OFFSET + buf.phys(), 16);
        sb.append(" attrs=");
        end(sb);
    }

    // ------------------------------------------------------------------------------------------------ iommu.h

    /** Hook for dma-iommu: {@code iommu:map} if {@code eng} is tracing with IOMMU events; one field read otherwise. */
    public static void iommuMap(final EngineContext eng, final long iova, final long paddr, final long size)
    {
        final DmaTracer t = eng.tracer;
        if (t != null && t.iommuEvents())
        {
            t.iommuMap(iova, paddr, size);
        }
    }

    /** Hook for dma-iommu's sg path: see {@link #iommuMapSg(long, ScatterList, int)}. */
    public static void iommuMapSg(final EngineContext eng, final long iova, final ScatterList sgl, final int nents)
    {
        final DmaTracer t = eng.tracer;
        if (t != null && t.iommuEvents())
        {
            t.iommuMapSg(iova, sgl, nents);
        }
    }

    /** Hook for dma-iommu: {@code iommu:unmap}. */
    public static void iommuUnmap(final EngineContext eng, final long iova, final long size, final long unmapped)
    {
        final DmaTracer t = eng.tracer;
        if (t != null && t.iommuEvents())
        {
            t.iommuUnmap(iova, size, unmapped);
        }
    }

    /** {@code iommu:map}: {@code "IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu"}. */
    public void iommuMap(final long iova, final long paddr, final long size)
    {
        final StringBuilder sb = prefix("map").append("IOMMU: iova=");
        TraceFormat.hex16(sb, iova).append(" - ");
        TraceFormat.hex16(sb, iova + size).append(" paddr=");
        TraceFormat.hex16(sb, paddr);
        TraceFormat.unsigned(sb.append(" size="), size);
        sink.writeLine(sb);
    }

    /**
     * {@code iommu:map} for an sg list as {@code iommu_map_sg} emits it: one event per run of physically contiguous
     * entries. {@code sgl} holds the granule-aligned CPU side, mapped back to back from {@code iova}.
     */
    public void iommuMapSg(final long iova, final ScatterList sgl, final int nents)
    {
        long at = iova;
        int i = 0;
        while (i < nents)
        {
            final long start = sgl.phys(i);
            long len = sgl.length(i);
            int j = i + 1;
            while (j < nents && sgl.phys(j) == start + len)
            {
                len += sgl.length(j);
                j++;
            }
            iommuMap(at, start, len);
            at += len;
            i = j;
        }
    }

    /** {@code iommu:unmap}: {@code "IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu"}. */
    public void iommuUnmap(final long iova, final long size, final long unmapped)
    {
        final StringBuilder sb = prefix("unmap").append("IOMMU: iova=");
        TraceFormat.hex16(sb, iova).append(" - ");
        TraceFormat.hex16(sb, iova + size);
        TraceFormat.unsigned(sb.append(" size="), size);
        TraceFormat.unsigned(sb.append(" unmapped_size="), Math.max(unmapped, 0));
        sink.writeLine(sb);
    }

    /** {@code iommu:io_page_fault}: {@code "IOMMU:%s %s iova=0x%016llx flags=0x%04x"}. */
    public void ioPageFault(final String driver, final String device, final long iova, final int flags)
    {
        final StringBuilder sb = prefix("io_page_fault").append("IOMMU:").append(driver).append(' ').append(device);
        TraceFormat.hex16(sb.append(" iova="), iova);
        TraceFormat.zeroPaddedHex(sb.append(" flags=0x"), flags, 4);
        sink.writeLine(sb);
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private StringBuilder begin(final String event, final String dev, final DmaDirection dir)
    {
        return prefix(event).append(dev).append(" dir=").append(TraceFormat.direction(dir));
    }

    private void end(final StringBuilder sb)
    {
        sink.writeLine(sb);
    }

    private static void physArray(final StringBuilder sb, final ScatterList sgl, final int n)
    {
        sb.append('{');
        for (int i = 0; i < n; i++)
        {
            TraceFormat.hex(sb.append(i == 0 ? "0x" : ",0x"), sgl.phys(i));
        }
        sb.append('}');
    }

    /** {@code "%16s-%-7d [%03d] ..... %5lu.%06lu: <event>: "} into the calling thread's builder. */
    private StringBuilder prefix(final String event)
    {
        final Scratch s = scratch.get();
        final StringBuilder sb = s.sb;
        sb.setLength(0);
        sb.append(s.taskPid());
        final int c = cpu.current();
        sb.append('[');
        if (c < 100)
        {
            sb.append(c < 10 ? "00" : "0");
        }
        sb.append(c).append("] ..... ");
        final long nanos = Math.max(0, System.nanoTime() - originNanos);
        final long secs = nanos / 1_000_000_000L;
        final long usecs = (nanos % 1_000_000_000L) / 1_000L;
        final String s5 = Long.toString(secs);
        for (int i = s5.length(); i < 5; i++)
        {
            sb.append(' ');
        }
        sb.append(s5).append('.');
        final String u = Long.toString(usecs);
        for (int i = u.length(); i < 6; i++)
        {
            sb.append('0');
        }
        return sb.append(u).append(": ").append(event).append(": ");
    }

    /** Sanitises a thread name into a {@code comm}: no whitespace, at most 15 chars, never empty. */
    static String comm(final String threadName)
    {
        final StringBuilder sb = new StringBuilder(15);
        for (int i = 0; i < threadName.length() && sb.length() < 15; i++)
        {
            final char c = threadName.charAt(i);
            sb.append(Character.isWhitespace(c) || Character.isISOControl(c) ? '_' : c);
        }
        return sb.isEmpty() ? "<anon>" : sb.toString();
    }

    private static final class Scratch
    {
        final StringBuilder sb = new StringBuilder(256);
        String name;
        String taskPid;

        String taskPid()
        {
            final Thread t = Thread.currentThread();
            final String n = t.getName();
            if (!n.equals(name))
            {
                name = n;
                final String comm = comm(n);
                final StringBuilder p = new StringBuilder(32);
                for (int i = comm.length(); i < 16; i++)
                {
                    p.append(' ');
                }
                p.append(comm).append('-');
                final String pid = Long.toString(t.threadId());
                p.append(pid);
                for (int i = pid.length(); i < 7; i++)
                {
                    p.append(' ');
                }
                taskPid = p.append(' ').toString();
            }
            return taskPid;
        }
    }
}
