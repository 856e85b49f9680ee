package dev.dmasim.bench.stress;

/** Seeded byte patterns: each op's data is a function of one random 64-bit tag. Stateless and thread-safe. */
final class Pattern
{
    private Pattern()
    {
    }

    /** Fills {@code dst[off..off+len)} with the pattern of {@code tag} (SplitMix64 output, 8 bytes per step). */
    static void fill(final byte[] dst, final int off, final int len, final long tag)
    {
        long x = 0;
        for (int i = 0; i < len; i++)
        {
            if ((i & 7) == 0)
            {
                x = mix(tag + 0x9E3779B97F4A7C15L * (i >>> 3));
            }
            dst[off + i] = (byte)x;
            x >>>= 8;
        }
    }

    /** SplitMix64's finaliser. */
    static long mix(final long v)
    {
        long z = v;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
