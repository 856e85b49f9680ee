package dev.dmasim.sim.cache;

/**
 * Geometry of a {@link WriteBackCache}: total data capacity and associativity; the line is always
 * {@link WriteBackCache#LINE_SIZE} bytes. The set count ({@code sizeBytes / (64 * ways)}) must be a power of two.
 *
 * @param sizeBytes data capacity in bytes (64 B .. 1 GiB).
 * @param ways      lines per set, 1..64.
 */
public record CacheConfig(long sizeBytes, int ways)
{
    /** Default capacity: 32 KiB, an arm64 L1D, small enough that tests evict lines by touching 64 KiB. */
    public static final long DEFAULT_SIZE = 32L << 10;
    /** Default associativity. */
    public static final int DEFAULT_WAYS = 4;

    /** @throws IllegalArgumentException naming the bad value. */
    public CacheConfig
    {
        if (ways < 1 || ways > 64)
        {
            throw new IllegalArgumentException("cache ways must be 1..64, was " + ways);
        }
        if (sizeBytes < WriteBackCache.LINE_SIZE || sizeBytes > (1L << 30))
        {
            throw new IllegalArgumentException("cache size must be 64 B..1 GiB, was " + sizeBytes);
        }
        final long sets = sizeBytes / ((long)WriteBackCache.LINE_SIZE * ways);
        if (sets < 1 || (sets & (sets - 1)) != 0 || sets * WriteBackCache.LINE_SIZE * ways != sizeBytes)
        {
            throw new IllegalArgumentException("cache size " + sizeBytes + " / (64 B x " + ways +
                " ways) must be a power-of-two number of sets");
        }
    }

    /** @return 32 KiB, 4-way, 64-byte lines (128 sets). */
    public static CacheConfig defaults()
    {
        return new CacheConfig(DEFAULT_SIZE, DEFAULT_WAYS);
    }

    /** @return the number of sets. */
    public int sets()
    {
        return (int)(sizeBytes / ((long)WriteBackCache.LINE_SIZE * ways));
    }
}
