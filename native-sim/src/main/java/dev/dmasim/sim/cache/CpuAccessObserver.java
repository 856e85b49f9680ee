package dev.dmasim.sim.cache;

/**
 * Told about every CPU access made through a {@link CpuView} (after the access completed, outside any cache lock).
 * Implementations must be thread-safe and must not access the same view re-entrantly.
 */
@FunctionalInterface
public interface CpuAccessObserver
{
    /**
     * @param phys  first physical byte accessed.
     * @param len   bytes accessed (&gt; 0).
     * @param write true for a store (write, fill, put, successful or failed CAS), false for a load.
     */
    void onCpuAccess(long phys, long len, boolean write);
}
