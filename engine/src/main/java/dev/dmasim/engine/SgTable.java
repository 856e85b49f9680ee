package dev.dmasim.engine;

/**
 * {@code struct sg_table}: a {@link ScatterList} with its CPU entry count {@link #origNents()} and, after
 * {@code Device.mapSgtable}, the mapped DMA segment count {@link #nents()}. Not thread-safe.
 */
public final class SgTable
{
    private final ScatterList sgl;
    private int origNents;
    private int nents;

    /** @param capacity the most entries. */
    public SgTable(final int capacity)
    {
        this.sgl = new ScatterList(capacity);
    }

    /** @return the list. */
    public ScatterList sgl()
    {
        return sgl;
    }

    /** Sets entry {@code i}; grows {@code origNents} to cover it. */
    public SgTable set(final int i, final long phys, final long length)
    {
        sgl.set(i, phys, length);
        origNents = Math.max(origNents, i + 1);
        return this;
    }

    /** @return CPU entries. */
    public int origNents()
    {
        return origNents;
    }

    /** Sets the number of CPU entries. */
    public SgTable origNents(final int n)
    {
        if (n < 0 || n > sgl.capacity())
        {
            throw new IllegalArgumentException("orig_nents " + n + " outside 0.." + sgl.capacity());
        }
        origNents = n;
        return this;
    }

    /** @return DMA segments after mapping (0 before). */
    public int nents()
    {
        return nents;
    }

    /** Engine use. */
    public void nents(final int n)
    {
        nents = n;
    }
}
