package dev.dmasim.engine.core;

import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.engine.debug.DebugDevice;
import dev.dmasim.sim.bus.BusDevice;

/**
 * The DMA half of the kernel's {@code struct device}: masks, limits, flags, the backend and (for dma-iommu)
 * its per-device state. Masks are inclusive byte addresses. Mutable fields are volatile: the driver may
 * change masks while other threads map (as in the kernel, a racing map sees either mask).
 */
public final class DeviceContext
{
    public final EngineContext engine;
    public final DeviceConfig config;
    public final String name;
    public final BusDevice bus;
    public final DebugDevice debugDevice;
    public final boolean coherent;
    public final boolean untrusted;
    public final long busDmaLimit;
    public final long dmaOffset;
    public final long minAlignMask;
    public final long maxSegSize;
    public final long segBoundary;
    public final DmaOps ops;

    /** {@code *dev->dma_mask}. */
    public volatile long dmaMask;
    /** {@code dev->coherent_dma_mask}. */
    public volatile long coherentMask;
    /** {@code dev->dma_skip_sync}: set from coherency when the mask is set; cleared by the first bounce. */
    public volatile boolean skipSync;
    /** {@code dev->iommu->pci_32bit_workaround}: try IOVAs below 4 GiB first, until the first failure. */
    public volatile boolean pci32bitWorkaround = true;
    /** Backend-private per-device state (the dma-iommu domain cookie). */
    public volatile Object backendState;
    /** WARN_ONCE flags, one bit per call site. */
    private volatile int warnedOnce;

    public DeviceContext(final EngineContext engine, final DeviceConfig config, final BusDevice bus,
        final DebugDevice debugDevice, final DmaOps ops)
    {
        this.engine = engine;
        this.config = config;
        this.name = config.bdf();
        this.bus = bus;
        this.debugDevice = debugDevice;
        this.coherent = config.coherent();
        this.untrusted = config.untrusted();
        this.busDmaLimit = config.busDmaLimit();
        this.dmaOffset = config.dmaOffset();
        this.minAlignMask = config.minAlignMask();
        this.maxSegSize = config.maxSegSize();
        this.segBoundary = config.segBoundary();
        this.ops = ops;
        final long mask = bitMask(config.dmaBits());
        this.dmaMask = mask;
        this.coherentMask = mask;
        this.skipSync = coherent;
    }

    /** {@code DMA_BIT_MASK(n)}. */
    public static long bitMask(final int bits)
    {
        return bits >= 64 ? -1L : (1L << bits) - 1;
    }

    /** {@code min_not_zero(a, b)}, unsigned. */
    public static long minNotZero(final long a, final long b)
    {
        if (a == 0)
        {
            return b;
        }
        if (b == 0)
        {
            return a;
        }
        return Long.compareUnsigned(a, b) <= 0 ? a : b;
    }

    /** @return the streaming DMA limit {@code min_not_zero(*dma_mask, bus_dma_limit)}. */
    public long dmaLimit()
    {
        return minNotZero(dmaMask, busDmaLimit);
    }

    /** Logs {@code message} once per device per {@code site} bit (the kernel's {@code dev_WARN_ONCE}). */
    public void warnOnce(final int site, final String message)
    {
        final int bit = 1 << site;
        if ((warnedOnce & bit) == 0)
        {
            synchronized (this)
            {
                if ((warnedOnce & bit) != 0)
                {
                    return;
                }
                warnedOnce |= bit;
            }
            engine.log.log(name, message);
        }
    }

    /** {@code %pad} / {@code 0x%016llx} formatting. */
    public static String hex16(final long v)
    {
        final String h = Long.toHexString(v);
        return "0x" + "0000000000000000".substring(h.length()) + h;
    }
}
