package dev.dmasim.engine;

/**
 * The swiotlb bounce pool: its size in bytes (rounded up to whole 128-slot segments of 2 KiB slots),
 * the number of areas (0 = the kernel's default: CPUs rounded up to a power of two), and whether every
 * streaming mapping is forced through it ({@code swiotlb=force}, confidential-computing guests).
 * {@link #disabled()} gives a machine without swiotlb ({@code swiotlb=noforce} with no pool).
 * Immutable.
 */
public record SwiotlbConfig(long sizeBytes, int areas, boolean force)
{
    /** The kernel's default pool size, 64 MiB (32768 slots). */
    public static final long DEFAULT_SIZE = 64L << 20;

    public SwiotlbConfig
    {
        if (sizeBytes < 0 || (sizeBytes > 0 && sizeBytes < (256L << 10)))
        {
            throw new IllegalArgumentException("swiotlb size must be 0 (disabled) or at least 256 KiB, was " + sizeBytes);
        }
        if (areas < 0 || (areas & (areas - 1)) != 0)
        {
            throw new IllegalArgumentException("swiotlb areas must be 0 (default) or a power of two, was " + areas);
        }
    }

    /** @return 64 MiB, default areas, not forced. */
    public static SwiotlbConfig defaults()
    {
        return new SwiotlbConfig(DEFAULT_SIZE, 0, false);
    }

    /** @return no swiotlb pool at all. */
    public static SwiotlbConfig disabled()
    {
        return new SwiotlbConfig(0, 0, false);
    }

    /** @return a copy with the pool size {@code bytes}. */
    public SwiotlbConfig size(final long bytes)
    {
        return new SwiotlbConfig(bytes, areas, force);
    }

    /** @return a copy with {@code n} areas. */
    public SwiotlbConfig areas(final int n)
    {
        return new SwiotlbConfig(sizeBytes, n, force);
    }

    /** @return a copy that forces (or not) every streaming mapping through the pool. */
    public SwiotlbConfig force(final boolean on)
    {
        return new SwiotlbConfig(sizeBytes, areas, on);
    }

    /** @return true if there is a pool. */
    public boolean enabled()
    {
        return sizeBytes > 0;
    }
}
