package dev.dmasim.bench.example;

import java.util.ArrayList;
import java.util.List;

/**
 * What a driver half did and verified. Counts are units of work (frames, commands) unless named bytes. Written by the
 * driver thread only; read after it returned.
 */
public final class DriverStats
{
    /** Units the run was asked for. */
    public long expected;
    /** Units completed and verified byte for byte. */
    public long verified;
    /** Payload bytes moved by the device (both directions). */
    public long bytes;
    /** Units whose data did not verify (stale or corrupt bytes). */
    public long corrupt;
    /** Units the device completed with an error status (a DMA fault, a rejected command). */
    public long deviceErrors;
    /** Protocol failures: timeouts, malformed completions, mapping errors. */
    public long failures;
    /** Mappings the driver never unmapped (the {@code leak} bug). */
    public long leakedMappings;
    /** Nanoseconds from the first submission to the last completion. */
    public long elapsedNanos;
    /** Driver-specific lines for the summary, e.g. what a bug did. */
    public final List<String> notes = new ArrayList<>();

    /** Adds a summary line. */
    public void note(final String line)
    {
        notes.add(line);
    }
}
