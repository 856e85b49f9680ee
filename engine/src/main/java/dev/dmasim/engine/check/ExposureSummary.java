package dev.dmasim.engine.check;

import java.util.Map;

/**
 * The lazy-mode exposure of a run: device accesses that reached memory through a stale IOTLB entry after the
 * mapping was unmapped (each translated page piece counts once), and how long after the unmap they happened.
 * Untrusted devices and strict mode always show zero.
 *
 * @param accesses  stale-entry accesses after unmap.
 * @param maxNanos  the longest time from an unmap to such an access (0 when none).
 * @param meanNanos the mean of those times (0 when none).
 * @param perDevice accesses per device name (devices with none are absent).
 */
public record ExposureSummary(long accesses, long maxNanos, double meanNanos, Map<String, Long> perDevice)
{
    @Override
    public String toString()
    {
        return String.format("%d stale-IOTLB accesses after unmap, max %.3f ms, mean %.3f ms after the unmap, per device %s",
            accesses, maxNanos / 1e6, meanNanos / 1e6, perDevice);
    }
}
