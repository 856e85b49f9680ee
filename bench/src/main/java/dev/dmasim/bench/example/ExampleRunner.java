package dev.dmasim.bench.example;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.EngineStats;
import dev.dmasim.sim.cache.CacheConfig;
import dev.dmasim.sim.mem.PhysAddressSpace;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds the machine an example runs on, as an embedding simulator would, runs the driver against the hardware, and
 * collects everything the checkers found:
 * <ol>
 *   <li>a physical address space with the device's BAR in it: the default x86 layout (2 GiB of RAM below the PCI
 *       hole, 2 GiB above 4 GiB, 4 MiB chunks) plus the model's {@link RegisterWindow} at {@link #BAR_BASE};</li>
 *   <li>an engine over it with the CPU cache model, dmasim's checks and dma-debug on;</li>
 *   <li>the device attached (its driver's probe), powered on behind its {@code BusDevice}, an {@link Msi} between;</li>
 *   <li>the driver run on this thread, bound to simulated CPU 0; then the device powered off and detached (driver
 *       unbind: dma-debug reports pending mappings); the IOMMU's fault ring drained.</li>
 * </ol>
 */
public final class ExampleRunner
{
    /** Physical address of the example device's BAR 0, in the PCI hole. */
    public static final long BAR_BASE = 0xF000_0000L;
    /** Requester id of the example device. */
    public static final String BDF = "0000:03:00.0";

    private ExampleRunner()
    {
    }

    /** Runs {@code model} once with {@code options}. */
    public static ExampleResult run(final ExampleModel model, final ExampleOptions options)
    {
        final PhysAddressSpace space = PhysAddressSpace.builder()
            .chunkSize(4L << 20)
            .ram(0, 2L << 30, "System RAM")
            .mmio(BAR_BASE, model.barSize(), model.bar(), BDF + " BAR0 (" + model.name() + ")")
            .ram(4L << 30, 2L << 30, "System RAM")
            .build();
        try (DmaEngine engine = DmaEngine.builder()
            .memory(space)
            .cpus(2)
            .iommu(options.iommu())
            .cache(CacheConfig.defaults())
            .checks(true)
            .debug(true)
            .build())
        {
            engine.cpu().bind(0); // this thread is the driver's CPU
            final Device dev = engine.attach(model.deviceConfig(!options.effectiveNoncoherent()));
            final Msi irq = new Msi();
            model.powerOn(dev.bus(), irq);
            DriverStats stats;
            try
            {
                stats = model.drive(dev, engine.cpuMemory(), engine.pages(), BAR_BASE, irq, options);
            }
            finally
            {
                model.powerOff();
            }

            final int pending = engine.debug().liveEntries(dev);
            final EngineStats before = engine.stats();
            engine.detach(dev);
            engine.cpu().unbind();

            final List<ExampleResult.Fault> faults = new ArrayList<>();
            engine.iommu().faults().poll(
                (rid, addr, access, reason, domain, ts) -> faults.add(new ExampleResult.Fault(rid, addr, access, reason)),
                Integer.MAX_VALUE);
            return new ExampleResult(model.name(), model.unit(), options, dev.toString(), stats,
                engine.debug().reports(), engine.checks().reports(), faults, engine.iommu().faults().count(), pending,
                before.liveIovaRanges(), before.swiotlbSlotsUsed(), engine.checks().exposureSummary());
        }
    }
}
