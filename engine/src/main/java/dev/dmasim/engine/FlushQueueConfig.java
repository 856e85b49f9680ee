package dev.dmasim.engine;

/**
 * The lazy-mode IOTLB flush queue: entries per CPU ring, the timeout after which queued IOVAs are flushed
 * (milliseconds), and whether one global queue is used instead (the kernel's "shadow on flush" IOMMUs:
 * 32768 entries, 1000 ms). Immutable.
 */
public record FlushQueueConfig(int entries, long timeoutMillis, boolean single)
{
    /** {@code IOVA_DEFAULT_FQ_SIZE}. */
    public static final int DEFAULT_SIZE = 256;
    /** {@code IOVA_DEFAULT_FQ_TIMEOUT}, ms. */
    public static final long DEFAULT_TIMEOUT_MS = 10;
    /** {@code IOVA_SINGLE_FQ_SIZE}. */
    public static final int SINGLE_SIZE = 32768;
    /** {@code IOVA_SINGLE_FQ_TIMEOUT}, ms. */
    public static final long SINGLE_TIMEOUT_MS = 1000;

    public FlushQueueConfig
    {
        if (entries < 2 || (entries & (entries - 1)) != 0)
        {
            throw new IllegalArgumentException("flush queue entries must be a power of two >= 2, was " + entries);
        }
        if (timeoutMillis < 1)
        {
            throw new IllegalArgumentException("flush queue timeout must be >= 1 ms, was " + timeoutMillis);
        }
    }

    /** @return per-CPU queues of 256 entries, 10 ms. */
    public static FlushQueueConfig defaults()
    {
        return new FlushQueueConfig(DEFAULT_SIZE, DEFAULT_TIMEOUT_MS, false);
    }

    /** @return one global queue of 32768 entries, 1000 ms. */
    public static FlushQueueConfig singleQueue()
    {
        return new FlushQueueConfig(SINGLE_SIZE, SINGLE_TIMEOUT_MS, true);
    }
}
