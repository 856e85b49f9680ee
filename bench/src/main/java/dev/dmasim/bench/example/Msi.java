package dev.dmasim.bench.example;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One MSI-X vector: the device's interrupt to its driver. dmasim does not model interrupts (the library is the DMA
 * layer), so this is the example platform's interrupt controller, wired by whoever builds the machine: the hardware
 * half calls {@link #raise()} after it wrote a completion into memory, the driver half waits in {@link #await}.
 * <p>
 * The count is the number of interrupts raised so far. A device raises once per completion it posted, so a driver
 * that read {@code count() == n} may consume exactly {@code n} completions in total: the PCIe ordering rule "an MSI
 * write is not reordered ahead of the DMA writes before it" becomes a Java happens-before edge.
 * <p>
 * <b>Invariants / ordering.</b> {@link #raise()} is a volatile increment (release) after the device's DMA writes,
 * then a read of the waiter; {@link #await} publishes the waiter (volatile write), then reads the count (acquire).
 * Both pairs are sequentially consistent volatile accesses, so a raise either sees the waiter (and unparks it) or
 * happens before the waiter's read of the count: no wake-up is lost. One waiting thread at a time.
 * <b>Progress.</b> {@link #raise()} is wait-free; {@link #await} blocks at most its timeout.
 */
public final class Msi
{
    private final AtomicLong count = new AtomicLong();
    private volatile Thread waiter;

    /** Device side: one completion was posted to memory. Wakes the waiting driver thread, if any. */
    public void raise()
    {
        count.incrementAndGet();
        final Thread w = waiter;
        if (w != null)
        {
            LockSupport.unpark(w);
        }
    }

    /** @return interrupts raised so far (acquire: the completions they announce are visible). */
    public long count()
    {
        return count.get();
    }

    /**
     * Driver side: waits until the count exceeds {@code seen} or {@code timeoutNanos} passed.
     *
     * @return the count; equal to {@code seen} on a timeout.
     */
    public long await(final long seen, final long timeoutNanos)
    {
        final long deadline = System.nanoTime() + timeoutNanos;
        waiter = Thread.currentThread();
        try
        {
            for (int spins = 0; ; spins++)
            {
                final long c = count.get();
                if (c != seen)
                {
                    return c;
                }
                final long left = deadline - System.nanoTime();
                if (left <= 0)
                {
                    return c;
                }
                if (spins < 64)
                {
                    Thread.onSpinWait();
                }
                else
                {
                    LockSupport.parkNanos(this, Math.min(left, 1_000_000L));
                }
            }
        }
        finally
        {
            waiter = null;
        }
    }
}
