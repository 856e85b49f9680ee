package dev.dmasim.sim.cache;

/**
 * The CPU data cache as seen by DMA maintenance operations, by physical byte address. Coherent devices
 * never need these; for non-coherent devices the DMA layer cleans (writes back) before the device reads
 * and invalidates before the CPU reads what the device wrote. Thread-safe.
 * {@link #NONE} is the pass-through used when no cache is modelled; {@link WriteBackCache} is the model.
 */
public interface CpuCache
{
    /** A cache that holds nothing: every operation is a no-op. */
    CpuCache NONE = new CpuCache()
    {
        @Override
        public void clean(final long phys, final long len)
        {
        }

        @Override
        public void invalidate(final long phys, final long len)
        {
        }
    };

    /** Writes dirty lines covering {@code [phys, phys+len)} back to memory (arm64 {@code dc cvac}). */
    void clean(long phys, long len);

    /** Drops lines covering {@code [phys, phys+len)} without writing them back (arm64 {@code dc ivac}). */
    void invalidate(long phys, long len);

    /** Clean, then invalidate (arm64 {@code dc civac}). */
    default void cleanInvalidate(final long phys, final long len)
    {
        clean(phys, len);
        invalidate(phys, len);
    }

    /**
     * @return the physical address of the lowest dirty line overlapping {@code [phys, phys+len)}, or -1 when none
     * is dirty (always -1 for a cache that holds nothing).
     */
    default long firstDirtyLine(final long phys, final long len)
    {
        return -1L;
    }
}
