package dev.dmasim.engine;

/**
 * {@code enum dma_data_direction}, with the kernel's values. TO_DEVICE: the device only reads the buffer;
 * FROM_DEVICE: the device only writes it; BIDIRECTIONAL: both; NONE: debugging only, rejected by every
 * map, unmap and sync call (the kernel's {@code BUG_ON(!valid_dma_direction(dir))}).
 */
public enum DmaDirection
{
    BIDIRECTIONAL(0),
    TO_DEVICE(1),
    FROM_DEVICE(2),
    NONE(3);

    private static final DmaDirection[] BY_VALUE = values();

    private final int value;

    DmaDirection(final int value)
    {
        this.value = value;
    }

    /** @return the kernel's numeric value (0..3). */
    public int value()
    {
        return value;
    }

    /** @return the direction with the kernel's numeric value {@code v}. */
    public static DmaDirection of(final int v)
    {
        if (v < 0 || v >= BY_VALUE.length)
        {
            throw new IllegalArgumentException("DMA direction " + v + " is not one of 0..3");
        }
        return BY_VALUE[v];
    }

    /** @return true for the three directions a mapping may use (not NONE). */
    public boolean isValid()
    {
        return this != NONE;
    }

    /** @return true if the device may read the buffer (TO_DEVICE or BIDIRECTIONAL). */
    public boolean deviceReads()
    {
        return this == TO_DEVICE || this == BIDIRECTIONAL;
    }

    /** @return true if the device may write the buffer (FROM_DEVICE or BIDIRECTIONAL). */
    public boolean deviceWrites()
    {
        return this == FROM_DEVICE || this == BIDIRECTIONAL;
    }

    /** @return the kernel's name as dma-debug prints it, e.g. {@code DMA_TO_DEVICE}. */
    public String kernelName()
    {
        return "DMA_" + name();
    }
}
