package dev.dmasim.bench.example;

import dev.dmasim.engine.IommuMode;

/**
 * How to run an example.
 *
 * @param iommu       the IOMMU mode the device is attached in.
 * @param count       frames (nic) or I/O commands (nvme) to run.
 * @param bug         the deliberate driver bug, {@link Bug#NONE} for a correct driver.
 * @param noncoherent attach the device as non-coherent (DMA bypasses the CPU cache model).
 * @param seed        seed of every random choice (frame sizes, payloads, LBAs).
 */
public record ExampleOptions(IommuMode iommu, int count, Bug bug, boolean noncoherent, long seed)
{
    public ExampleOptions
    {
        if (iommu == null || bug == null)
        {
            throw new IllegalArgumentException("iommu and bug must not be null");
        }
        if (count < 1)
        {
            throw new IllegalArgumentException("count must be >= 1, was " + count);
        }
    }

    /** @return true if the device is attached non-coherent: asked for, or implied by {@link Bug#MISSING_SYNC}. */
    public boolean effectiveNoncoherent()
    {
        return noncoherent || bug == Bug.MISSING_SYNC;
    }
}
