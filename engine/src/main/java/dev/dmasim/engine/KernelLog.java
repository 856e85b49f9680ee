package dev.dmasim.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine's dmesg: warnings and notices the kernel would print ({@code dev_warn}, {@code WARN},
 * {@code dev_notice}), e.g. "swiotlb buffer is full ...". Every line is counted; the first
 * {@link #capacity()} are kept. Lines are prefixed with the device name as the kernel does
 * ({@code "0000:03:00.0: swiotlb buffer is full ..."}). Thread-safe; logging is a slow path.
 */
public final class KernelLog
{
    private final int capacity;
    private final List<String> lines = new ArrayList<>();
    private final AtomicLong count = new AtomicLong();
    private volatile boolean echo;

    /** @param capacity how many lines to keep (older lines are kept, later ones only counted). */
    public KernelLog(final int capacity)
    {
        this.capacity = capacity;
    }

    /** Also print every line to standard error as it is logged. */
    public KernelLog echo(final boolean on)
    {
        echo = on;
        return this;
    }

    /** Logs {@code message} for {@code device} (null for an engine-wide line). */
    public void log(final String device, final String message)
    {
        final String line = device == null ? message : device + ": " + message;
        count.incrementAndGet();
        synchronized (lines)
        {
            if (lines.size() < capacity)
            {
                lines.add(line);
            }
        }
        if (echo)
        {
            System.err.println(line);
        }
    }

    /** @return a copy of the kept lines, oldest first. */
    public List<String> lines()
    {
        synchronized (lines)
        {
            return List.copyOf(lines);
        }
    }

    /** @return true if some kept line contains {@code text}. */
    public boolean contains(final String text)
    {
        synchronized (lines)
        {
            for (final String l : lines)
            {
                if (l.contains(text))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /** @return how many lines were logged, kept or not. */
    public long count()
    {
        return count.get();
    }

    /** @return how many lines are kept at most. */
    public int capacity()
    {
        return capacity;
    }
}
