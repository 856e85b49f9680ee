package dev.dmasim.concurrency;

import dev.dmasim.sim.mem.PhysAddressSpace;

/**
 * Small simulated RAMs for jcstress states.
 * <p>
 * jcstress keeps {@code strideSize × strideCount} states alive at once (up to 10 240) and sizes that number by the
 * <i>heap</i> a state allocates; the native memory of a {@link PhysAddressSpace} (its 64 KiB zero page plus every
 * touched chunk, from a shared {@code Arena}) is invisible to it. So a state that owns a space
 * <ol>
 *   <li>uses {@link #create} (64 KiB chunks, the minimum),</li>
 *   <li>carries a heap {@link #ballast} as large as the space's native footprint, so jcstress's footprint limit
 *       ("taking no more than 64 Mb") also bounds the native memory, and</li>
 *   <li>closes the space in its {@code @Arbiter}, which runs after both actors.</li>
 * </ol>
 */
public final class TinyRam
{
    /** Chunk size of a tiny RAM: the smallest PhysAddressSpace allows (64 KiB). */
    public static final long CHUNK = PhysAddressSpace.MIN_CHUNK_SIZE;
    /** Native bytes every PhysAddressSpace allocates up front (its read-only zero page). */
    public static final long ZERO_PAGE = 64L << 10;

    private TinyRam()
    {
    }

    /**
     * @param ramBytes RAM size at physical address 0, a multiple of 4 KiB.
     * @return a space with one RAM region {@code [0, ramBytes)} in 64 KiB chunks (nothing touched yet).
     */
    public static PhysAddressSpace create(final long ramBytes)
    {
        return PhysAddressSpace.builder().chunkSize(CHUNK).ram(0, ramBytes).build();
    }

    /**
     * @param ramBytes RAM size of the state's space.
     * @return a heap array as large as the space's native footprint once all of its RAM is touched.
     */
    public static byte[] ballast(final long ramBytes)
    {
        return new byte[(int)(ZERO_PAGE + ramBytes)];
    }
}
