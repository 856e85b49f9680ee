package dev.dmasim.bench.example;

import dev.dmasim.engine.Device;
import dev.dmasim.engine.DeviceConfig;
import dev.dmasim.sim.bus.BusDevice;
import dev.dmasim.sim.mem.MmioHandler;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysicalMemory;

/**
 * One example device: its hardware half (a register window plus a device thread that DMAs through a
 * {@link BusDevice}) and its driver half (a Linux-style driver on the {@link Device} API). One instance per run.
 */
public interface ExampleModel
{
    /** @return the model's name, {@code nic} or {@code nvme}. */
    String name();

    /** @return what one unit of work is called in the summary: "frames", "I/Os". */
    String unit();

    /** @return the hardware's register window (BAR 0), registered at {@link ExampleRunner#BAR_BASE}. */
    MmioHandler bar();

    /** @return the BAR's size in bytes. */
    long barSize();

    /** @return how the device is attached, as its driver's probe would set it up. */
    DeviceConfig deviceConfig(boolean coherent);

    /** Hardware: powers the device on behind {@code bus}; its thread starts and raises {@code irq} on completions. */
    void powerOn(BusDevice bus, Msi irq);

    /** Hardware: stops and joins the device thread. */
    void powerOff();

    /**
     * The driver: probes the device at {@code barBase}, runs the workload, tears everything down (a correct driver
     * leaves no mapping, allocation or page behind). Runs on the calling thread, a bound simulated CPU.
     */
    DriverStats drive(Device dev, PhysicalMemory cpu, PageAllocator pages, long barBase, Msi irq,
        ExampleOptions options);
}
