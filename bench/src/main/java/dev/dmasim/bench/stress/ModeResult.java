package dev.dmasim.bench.stress;

import dev.dmasim.engine.EngineStats;
import dev.dmasim.engine.IommuMode;

import java.util.Map;

/**
 * What one IOMMU mode's run did and found. Immutable.
 *
 * @param mode            the engine's IOMMU mode.
 * @param operations      randomized operations completed by all threads.
 * @param calls           API calls and device transfers, by kind (every kind present, zeros included).
 * @param bytesVerified   bytes compared against what they must be (device reads, CPU reads, canaries, padding).
 * @param mappingErrors   allowed mapping errors, by cause (every cause present).
 * @param strictProbes    device accesses right after an unmap/unlink that had to fault, and did.
 * @param probesSkipped   post-unmap probes skipped because the address may have been handed out again.
 * @param lazyStaleProbes post-unmap probes in LAZY mode that still reached memory (the exposure window).
 * @param nanos           wall time of the threads' run (teardown excluded).
 * @param stats           the engine's counters after teardown (before detach for IOVA levels).
 * @param violation       the first violation, or null.
 */
public record ModeResult(IommuMode mode, long operations, Map<OpKind, Long> calls, long bytesVerified,
    Map<MapErrorCause, Long> mappingErrors, long strictProbes, long probesSkipped, long lazyStaleProbes, long nanos,
    EngineStats stats, StressViolation violation)
{
    /** @return true if no invariant broke. */
    public boolean passed()
    {
        return violation == null;
    }

    /** @return every counted call and transfer. */
    public long totalCalls()
    {
        long n = 0;
        for (final long v : calls.values())
        {
            n += v;
        }
        return n;
    }

    /** @return API calls and transfers per second of run time. */
    public double callsPerSecond()
    {
        return nanos <= 0 ? 0 : totalCalls() * 1e9 / nanos;
    }

    /** @return every allowed mapping error. */
    public long totalMappingErrors()
    {
        long n = 0;
        for (final long v : mappingErrors.values())
        {
            n += v;
        }
        return n;
    }
}
