package dev.dmasim.bench.stress;

/**
 * A deliberate bug the stress run plants in its own "driver" or "device", to prove that the checks fail when
 * they should. {@link #NONE} in every real run.
 */
public enum Injection
{
    /** No bug. */
    NONE,
    /** The device model writes one byte past the end of every single mapping it writes. */
    DEVICE_WRITES_PAST_END,
    /** The driver forgets {@code syncSingleForCpu} before reading what the device wrote. */
    SKIP_SYNC_FOR_CPU
}
