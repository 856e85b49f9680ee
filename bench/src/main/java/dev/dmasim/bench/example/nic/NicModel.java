package dev.dmasim.bench.example.nic;

import dev.dmasim.bench.example.DriverStats;
import dev.dmasim.bench.example.ExampleModel;
import dev.dmasim.bench.example.ExampleOptions;
import dev.dmasim.bench.example.ExampleRunner;
import dev.dmasim.bench.example.Msi;
import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.mem.MmioHandler;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;

/** The {@code nic} example: {@link NicHardware} driven by {@link NicDriver}. */
public final class NicModel implements ExampleModel
{
    private final NicHardware hw = new NicHardware();

    @Override
    public String name()
    {
        return "nic";
    }

    @Override
    public String unit()
    {
        return "frames";
    }

    @Override
    public MmioHandler bar()
    {
        return hw;
    }

    @Override
    public long barSize()
    {
        return NicRegisters.BAR_SIZE;
    }

    @Override
    public DeviceConfig deviceConfig(final boolean coherent)
    {
        return DeviceConfig.pci(ExampleRunner.BDF).driver("dmasim-nic").dmaBits(64).coherent(coherent);
    }

    @Override
    public void powerOn(final BusDevice bus, final Msi irq)
    {
        hw.powerOn(bus, irq);
    }

    @Override
    public void powerOff()
    {
        hw.powerOff();
    }

    @Override
    public DriverStats drive(final Device dev, final PhysicalMemory cpu, final PageAllocator pages, final long barBase,
        final Msi irq, final ExampleOptions options)
    {
        return new NicDriver(dev, cpu, pages, barBase, irq, options).drive();
    }
}
