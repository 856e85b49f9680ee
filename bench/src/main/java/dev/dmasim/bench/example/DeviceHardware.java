package dev.dmasim.bench.example;

import dev.dmasim.sim.bus.BusDevice;

import java.util.concurrent.locks.LockSupport;

/**
 * A device model's hardware half: its register window plus one device thread that runs {@link #run()} while
 * the device is powered. {@link #powerOn} plugs it into the bus and starts the thread; {@link #powerOff} stops it
 * and waits. <b>Ordering.</b> {@code powered} is volatile: the device loop re-reads it each round, and
 * {@link #powerOff} unparks the thread so a parked loop sees the change at once.
 */
public abstract class DeviceHardware extends RegisterWindow implements Runnable
{
    private final String kind;
    /** The bus master the device DMAs through (set before the thread starts). */
    protected BusDevice bus;
    /** The interrupt the device raises per completion (set before the thread starts). */
    protected Msi irq;
    /** True from power-on until power-off; the device loop runs while it holds. */
    protected volatile boolean powered;
    /** The device thread, null before power-on. */
    protected Thread thread;

    /**
     * @param kind the thread-name prefix, e.g. {@code "nic"}.
     * @param size the register window's size in bytes.
     */
    protected DeviceHardware(final String kind, final long size)
    {
        super(size);
        this.kind = kind;
    }

    /** Plugs the device into the bus and starts its thread. */
    public void powerOn(final BusDevice bus, final Msi irq)
    {
        this.bus = bus;
        this.irq = irq;
        powered = true;
        thread = new Thread(this, kind + " " + bus.bdf());
        thread.setDaemon(true);
        thread.start();
    }

    /** Stops the device thread and waits for it (10 s at most). */
    public void powerOff()
    {
        powered = false;
        if (thread != null)
        {
            LockSupport.unpark(thread);
            try
            {
                thread.join(10_000);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }
}
