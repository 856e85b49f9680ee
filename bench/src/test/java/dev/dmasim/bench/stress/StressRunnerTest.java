package dev.dmasim.bench.stress;

import dev.dmasim.engine.IommuMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A short stress of every IOMMU mode (what CI runs), and proof that the checks fail: bugs planted in the stress's
 * own device model and driver must be reported with their context.
 */
class StressRunnerTest
{
    private static final long SEED = 0xD3A5_1A00_5EEDL;

    private static StressConfig.Builder shortRun(final IommuMode mode)
    {
        return StressConfig.builder().threads(2).opsPerThread(2000).seed(SEED).modes(List.of(mode));
    }

    @ParameterizedTest
    @EnumSource(IommuMode.class)
    void everyModePassesAndExercisesEveryCall(final IommuMode mode)
    {
        final StressResult result = new StressRunner(shortRun(mode).build()).run();

        assertTrue(result.passed(), () -> StressReport.text(result));
        assertEquals(0, result.exitCode());
        final ModeResult m = result.modes().getFirst();
        assertEquals(mode, m.mode());
        assertEquals(4000, m.operations());
        for (final Map.Entry<OpKind, Long> e : m.calls().entrySet())
        {
            if (mode.translated() || !e.getKey().translatedOnly())
            {
                assertTrue(e.getValue() > 0, () -> e.getKey().label() + " never called in " + mode + "\n" +
                    StressReport.text(result));
            }
            else
            {
                assertEquals(0, e.getValue(), e.getKey().label());
            }
        }
        assertTrue(m.bytesVerified() > 1_000_000, () -> "bytes verified: " + m.bytesVerified());
        assertTrue(m.mappingErrors().get(MapErrorCause.SWIOTLB_FULL) > 0, "the swiotlb floods must fill the pool");
        assertTrue(m.stats().bounces() > 0);
        if (mode.translated())
        {
            assertTrue(m.mappingErrors().get(MapErrorCause.UNTRUSTED_UNALIGNED_MMIO) > 0);
            assertTrue(m.strictProbes() > 0, "post-unmap probes must have faulted");
            assertTrue(m.stats().iotlbInvalidations() > 0);
            assertEquals(0, m.mappingErrors().get(MapErrorCause.NO_IOMMU_FOR_IOVA));
        }
        else
        {
            assertTrue(m.mappingErrors().get(MapErrorCause.NO_IOMMU_FOR_IOVA) > 0);
            assertEquals(0, m.stats().faults());
        }
        if (mode == IommuMode.LAZY)
        {
            assertTrue(m.stats().lazyFlushes() > 0);
        }
    }

    @Test
    void oneThreadRepeatsItsOperationsExactlyFromTheSeed()
    {
        final StressConfig config = shortRun(IommuMode.NONE).threads(1).opsPerThread(600).build();

        final ModeResult first = new StressRunner(config).run().modes().getFirst();
        final ModeResult second = new StressRunner(config).run().modes().getFirst();

        assertTrue(first.passed());
        assertEquals(first.calls(), second.calls());
        assertEquals(first.bytesVerified(), second.bytesVerified());
        assertEquals(first.mappingErrors(), second.mappingErrors());
    }

    @Test
    void deviceWritingPastItsMappingIsReportedWithItsContext()
    {
        final StressResult result = new StressRunner(
            shortRun(IommuMode.NONE).injection(Injection.DEVICE_WRITES_PAST_END).build()).run();

        assertFalse(result.passed());
        assertEquals(1, result.exitCode());
        final StressViolation v = result.firstViolation();
        assertNotNull(v);
        assertTrue(v.what().contains("wrote outside its mapping"), v::toString);
        assertContext(v.context());
        final String text = StressReport.text(result);
        assertTrue(text.endsWith("FAIL\n"), text);
        assertTrue(text.contains("violation: "), text);
    }

    @Test
    void forgottenSyncForCpuIsReportedWhenTheMappingBounces()
    {
        final StressResult result = new StressRunner(
            shortRun(IommuMode.NONE).injection(Injection.SKIP_SYNC_FOR_CPU).build()).run();

        assertFalse(result.passed());
        final StressViolation v = result.firstViolation();
        assertTrue(v.what().contains("syncSingleForCpu"), v::toString);
        assertTrue(v.context().contains("0000:05:00.0"), "only the 32-bit device bounces in NONE mode: " + v);
        assertContext(v.context());
    }

    @Test
    void aFailingModeStopsTheRun()
    {
        final StressResult result = new StressRunner(StressConfig.builder().threads(2).opsPerThread(2000).seed(SEED)
            .injection(Injection.DEVICE_WRITES_PAST_END).build()).run();

        assertFalse(result.passed());
        assertEquals(1, result.modes().size(), "NONE runs first and fails; the other modes do not run");
        assertTrue(StressReport.json(result).contains("\"pass\":false"));
    }

    private static void assertContext(final String context)
    {
        for (final String field : List.of("op ", "thread ", "cpu ", "device ", "mapping ", "phys=", "size=", "dir=",
            "dma=", "mismatch at byte", "expected +0x", "actual   +0x", "engine  maps="))
        {
            assertTrue(context.contains(field), () -> "context lacks '" + field + "':\n" + context);
        }
    }
}
