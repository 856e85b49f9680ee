package dev.dmasim.bench.example.nvme;

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

/** The {@code nvme} example: {@link NvmeController} driven by {@link NvmeDriver}. */
public final class NvmeModel implements ExampleModel
{
    private final NvmeController hw = new NvmeController();

    @Override
    public String name()
    {
        return "nvme";
    }

    @Override
    public String unit()
    {
        return "I/Os";
    }

    @Override
    public MmioHandler bar()
    {
        return hw;
    }

    @Override
    public long barSize()
    {
        return NvmeRegisters.BAR_SIZE;
    }

    /** As nvme-pci's probe: 64-bit DMA, {@code dma_set_min_align_mask(NVME_CTRL_PAGE_SIZE - 1)}, 4 GiB segments. */
    @Override
    public DeviceConfig deviceConfig(final boolean coherent)
    {
        return DeviceConfig.pci(ExampleRunner.BDF).driver("dmasim-nvme").dmaBits(64).coherent(coherent)
            .minAlignMask(0xfff).maxSegSize(0xFFFF_FFFFL);
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
        return new NvmeDriver(dev, cpu, pages, barBase, irq, options).drive();
    }
}
