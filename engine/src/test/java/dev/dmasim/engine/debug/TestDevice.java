package dev.dmasim.engine.debug;

/** A device for dma-debug tests; deliberately a class (identity matters, not the names). */
final class TestDevice implements DebugDevice
{
    private final String driver;
    private final String name;
    private final long maxSeg;
    private final long boundary;
    private volatile boolean swiotlbActive;

    TestDevice(final String driver, final String name, final long maxSeg, final long boundary)
    {
        this.driver = driver;
        this.name = name;
        this.maxSeg = maxSeg;
        this.boundary = boundary;
    }

    TestDevice(final String driver, final String name)
    {
        this(driver, name, 65536, 0xFFFF_FFFFL);
    }

    TestDevice swiotlbActive(final boolean on)
    {
        swiotlbActive = on;
        return this;
    }

    @Override
    public String driverName()
    {
        return driver;
    }

    @Override
    public String deviceName()
    {
        return name;
    }

    @Override
    public long maxSegmentSize()
    {
        return maxSeg;
    }

    @Override
    public long segmentBoundary()
    {
        return boundary;
    }

    @Override
    public boolean swiotlbActive()
    {
        return swiotlbActive;
    }
}
