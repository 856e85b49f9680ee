package dev.dmasim.engine.trace;

import java.io.Closeable;
import java.io.Flushable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where an engine's trace goes: whole ftrace text lines ({@code /sys/kernel/tracing/trace} layout) appended to a file
 * or any {@link Appendable}. Install with {@code DmaEngine.builder().trace(sink)} or {@code engine.trace(sink)}.
 *
 * <p>The file header ({@code # tracer: nop} and the column legend) is written first. The
 * {@code # entries-in-buffer/entries-written} line of the kernel's header is left out: a stream cannot know it.
 *
 * <p><b>Thread safety.</b> Any number of threads may write. Each line is appended to a bounded buffer under one lock,
 * so lines never interleave; when the buffer holds {@code bufferChars} or more it is written out under the same lock
 * (a writer blocks while the output is slow: trace output is a debugging aid, not free). {@link #close()} flushes.
 *
 * <p><b>Errors.</b> An {@link IOException} from the output does not reach the engine's callers: the sink stops
 * writing, counts the lines it drops, and {@link #flush()}/{@link #close()} throw it as {@link UncheckedIOException}.
 */
public final class TraceSink implements AutoCloseable
{
    /** Default buffer size in chars. */
    public static final int DEFAULT_BUFFER_CHARS = 64 * 1024;

    /** The header of the kernel's {@code trace} file for the {@code nop} tracer with irq-info (Linux 6.1+). */
    public static final String HEADER =
        "# tracer: nop\n" +
        "#\n" +
        "#                                _-----=> irqs-off/BH-disabled\n" +
        "#                               / _----=> need-resched\n" +
        "#                              | / _---=> hardirq/softirq\n" +
        "#                              || / _--=> preempt-depth\n" +
        "#                              ||| / _-=> migrate-disable\n" +
        "#                              |||| /     delay\n" +
        "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n" +
        "#              | |         |   |||||     |         |\n";

    private final Appendable out;
    private final boolean closeOut;
    private final int bufferChars;
    private final StringBuilder buffer;
    private final boolean iommuEvents;
    private long lines;
    private long dropped;
    private IOException error;
    private boolean closed;

    private TraceSink(final Builder b)
    {
        this.out = b.out;
        this.closeOut = b.closeOut;
        this.bufferChars = b.bufferChars;
        this.iommuEvents = b.iommuEvents;
        this.buffer = new StringBuilder(Math.min(bufferChars, 1 << 20) + 512);
        if (b.header)
        {
            buffer.append(HEADER);
        }
    }

    /** A sink writing UTF-8 to {@code path} (created or truncated); closing the sink closes the file. */
    public static TraceSink toFile(final Path path) throws IOException
    {
        return builder(Files.newBufferedWriter(path, StandardCharsets.UTF_8)).closeOutput(true).build();
    }

    /** A sink with default settings appending to {@code out}; {@link #close()} flushes but does not close it. */
    public static TraceSink to(final Appendable out)
    {
        return builder(out).build();
    }

    /** @return a builder for a sink appending to {@code out}. */
    public static Builder builder(final Appendable out)
    {
        if (out == null)
        {
            throw new IllegalArgumentException("trace output is null");
        }
        return new Builder(out);
    }

    /** @return true if the dma-iommu path should also emit {@code iommu:map}/{@code iommu:unmap} events. */
    public boolean iommuEvents()
    {
        return iommuEvents;
    }

    /** Appends one line ({@code line} has no newline). Never throws for output errors (see the class comment). */
    public void writeLine(final CharSequence line)
    {
        synchronized (this)
        {
            if (closed || error != null)
            {
                dropped++;
                return;
            }
            buffer.append(line).append('\n');
            lines++;
            if (buffer.length() >= bufferChars)
            {
                drainLocked();
            }
        }
    }

    /** @return lines accepted (written or buffered). */
    public synchronized long lines()
    {
        return lines;
    }

    /** @return lines dropped after an output error or after close. */
    public synchronized long dropped()
    {
        return dropped;
    }

    /** Writes out the buffer and flushes the output if it is {@link Flushable}. @throws UncheckedIOException on error. */
    public void flush()
    {
        synchronized (this)
        {
            drainLocked();
            if (error == null && out instanceof Flushable f)
            {
                try
                {
                    f.flush();
                }
                catch (final IOException ex)
                {
                    error = ex;
                }
            }
            throwIfFailed();
        }
    }

    /** Flushes, then closes the output if the sink owns it. Idempotent. @throws UncheckedIOException on error. */
    @Override
    public void close()
    {
        synchronized (this)
        {
            if (closed)
            {
                return;
            }
            try
            {
                flush();
            }
            finally
            {
                closed = true;
                if (closeOut && out instanceof Closeable c)
                {
                    try
                    {
                        c.close();
                    }
                    catch (final IOException ex)
                    {
                        if (error == null)
                        {
                            error = ex;
                        }
                    }
                }
            }
            throwIfFailed();
        }
    }

    private void drainLocked()
    {
        if (buffer.isEmpty() || error != null)
        {
            return;
        }
        try
        {
            if (out instanceof Writer w)
            {
                w.append(buffer);
            }
            else
            {
                out.append(buffer);
            }
        }
        catch (final IOException ex)
        {
            error = ex;
        }
        buffer.setLength(0);
    }

    private void throwIfFailed()
    {
        if (error != null)
        {
            throw new UncheckedIOException("trace output failed (" + dropped + " lines dropped)", error);
        }
    }

    /** Configures a {@link TraceSink}. Not thread-safe. */
    public static final class Builder
    {
        private final Appendable out;
        private boolean closeOut;
        private int bufferChars = DEFAULT_BUFFER_CHARS;
        private boolean header = true;
        private boolean iommuEvents = true;

        private Builder(final Appendable out)
        {
            this.out = out;
        }

        /** Whether {@link TraceSink#close()} closes the output (default false). */
        public Builder closeOutput(final boolean on)
        {
            this.closeOut = on;
            return this;
        }

        /** Chars buffered before the output is written (default 64 Ki; 0 writes every line at once). */
        public Builder bufferChars(final int chars)
        {
            if (chars < 0)
            {
                throw new IllegalArgumentException("bufferChars must be >= 0, was " + chars);
            }
            this.bufferChars = chars;
            return this;
        }

        /** Whether to write the ftrace file header first (default true). */
        public Builder header(final boolean on)
        {
            this.header = on;
            return this;
        }

        /** Whether translated devices also emit {@code iommu:map} / {@code iommu:unmap} (default true). */
        public Builder iommuEvents(final boolean on)
        {
            this.iommuEvents = on;
            return this;
        }

        /** @return the sink. */
        public TraceSink build()
        {
            return new TraceSink(this);
        }
    }
}
