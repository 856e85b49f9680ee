package dev.dmasim.bench.example;

import dev.dmasim.bench.example.nic.NicModel;
import dev.dmasim.bench.example.nvme.NvmeModel;
import dev.dmasim.engine.IommuMode;
import dev.dmasim.engine.check.CheckReport;
import dev.dmasim.engine.debug.DebugReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Each deliberate driver bug is caught, with the report kind that names it, where the bug can show. */
class ExampleBugTest
{
    /** Frames the NIC driver queues before its mid-run ifdown. */
    private static final class NicDriverConstants
    {
        static final long PENDING = dev.dmasim.bench.example.nic.NicDriver.PENDING_AT_IFDOWN;
    }

    private static final int FRAMES = 160;
    private static final int IOS = 128;

    private static ExampleResult nic(final IommuMode mode, final Bug bug)
    {
        return ExampleRunner.run(new NicModel(), new ExampleOptions(mode, FRAMES, bug, false, 3));
    }

    private static ExampleResult nvme(final IommuMode mode, final Bug bug)
    {
        return ExampleRunner.run(new NvmeModel(), new ExampleOptions(mode, IOS, bug, false, 3));
    }

    private static void assertCaught(final ExampleResult r, final String... kinds)
    {
        assertThat(r.kinds()).as(r.kinds().toString()).containsKeys(kinds);
        assertThat(r.caught()).isTrue();
        assertThat(r.clean()).isFalse();
        assertThat(r.exitCode()).isEqualTo(1);
        final StringWriter out = new StringWriter();
        r.print(new PrintWriter(out, true));
        assertThat(out.toString()).contains("caught: " + r.options().bug()).doesNotContain("NOT caught");
    }

    private static boolean mentions(final StackTraceElement[] stack, final String cls, final String method)
    {
        return stack != null && Arrays.stream(stack)
            .anyMatch(f -> f.getClassName().endsWith(cls) && f.getMethodName().equals(method));
    }

    // ------------------------------------------------------------------------------------------------ missing-sync

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "STRICT"})
    void nicMissingSyncForCpuIsReportedOnTheRecycledRxBuffer(final IommuMode mode)
    {
        final ExampleResult r = nic(mode, Bug.MISSING_SYNC);
        assertThat(r.device()).as("missing-sync implies a non-coherent device").contains("non-coherent");
        assertCaught(r, "MISSING_SYNC_FOR_CPU");
        final CheckReport first = r.checkReports().get(0);
        assertThat(first.kind()).isEqualTo(CheckReport.Kind.MISSING_SYNC_FOR_CPU);
        assertThat(mentions(first.mapStack(), "NicDriver", "ifup")).as("mapped where RX buffers are posted").isTrue();
        assertThat(mentions(first.accessStack(), "NicDriver", "cleanRx")).as("read where frames are checked").isTrue();
        assertThat(r.debugReports()).as("dma-debug cannot see a missing sync").isEmpty();
    }

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "LAZY"})
    void nvmeMissingSyncForDeviceOnThePrpListIsReported(final IommuMode mode)
    {
        final ExampleResult r = nvme(mode, Bug.MISSING_SYNC);
        assertCaught(r, "MISSING_SYNC_FOR_DEVICE", "CPU_WRITE_WHILE_DEVICE_OWNS");
        final CheckReport missing = r.checkReports().stream()
            .filter(c -> c.kind() == CheckReport.Kind.MISSING_SYNC_FOR_DEVICE).findFirst().orElseThrow();
        assertThat(mentions(missing.mapStack(), "NvmeDriver", "open")).as("the PRP list page's map").isTrue();
        assertThat(mentions(missing.accessStack(), "NvmeController", "resolvePrps")).as("the device's read").isTrue();
        assertThat(r.stats().corrupt + r.stats().deviceErrors).as("stale PRP entries move the wrong pages").isPositive();
    }

    // ------------------------------------------------------------------------------------------------ use-after-unmap

    @Test
    void nicUseAfterUnmapWithoutIommuIsSilentCorruptionButReported()
    {
        final ExampleResult r = nic(IommuMode.NONE, Bug.USE_AFTER_UNMAP);
        assertCaught(r, "USE_AFTER_UNMAP");
        assertThat(r.faultCount()).as("nothing stops the device without an IOMMU").isZero();
        assertThat(r.checkReports().get(0).message()).contains("succeeded silently");
        assertThat(mentions(r.checkReports().get(0).unmapStack(), "NicDriver", "unmapPostedRx")).isTrue();
        assertThat(mentions(r.checkReports().get(0).accessStack(), "NicHardware", "receiveOne")).isTrue();
    }

    @Test
    void nicUseAfterUnmapFaultsInStrictMode()
    {
        final ExampleResult r = nic(IommuMode.STRICT, Bug.USE_AFTER_UNMAP);
        assertCaught(r, "USE_AFTER_UNMAP", "IOMMU_TRANSLATION_FAULT");
        assertThat(r.kinds()).doesNotContainKey("STALE_IOTLB_ACCESS");
        assertThat(r.faultCount()).as("one fault per frame queued at the buggy ifdown")
            .isEqualTo(NicDriverConstants.PENDING);
        assertThat(r.stats().notes).anyMatch(n -> n.startsWith(NicDriverConstants.PENDING + " frames were written"));
    }

    @Test
    void nicUseAfterUnmapInLazyModeIsAStaleHitOrAFault()
    {
        final ExampleResult r = nic(IommuMode.LAZY, Bug.USE_AFTER_UNMAP);
        assertThat(r.caught()).isTrue();
        assertThat(r.evidence()).containsAnyOf("USE_AFTER_UNMAP", "STALE_IOTLB_ACCESS");
    }

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "STRICT"})
    void nvmeCancelledButQueuedReadIsUseAfterUnmap(final IommuMode mode)
    {
        final ExampleResult r = nvme(mode, Bug.USE_AFTER_UNMAP);
        assertCaught(r, "USE_AFTER_UNMAP");
        if (mode == IommuMode.STRICT)
        {
            assertThat(r.kinds()).containsKey("IOMMU_TRANSLATION_FAULT");
        }
        assertThat(mentions(r.checkReports().get(0).unmapStack(), "NvmeDriver", "cancelOneRead")).isTrue();
    }

    // ------------------------------------------------------------------------------------------------ wrong-direction

    @Test
    void nicRxBuffersMappedToDeviceFaultUnderTheIommuAndDmaDebugSeesTheDirection()
    {
        final ExampleResult r = nic(IommuMode.STRICT, Bug.WRONG_DIRECTION);
        assertCaught(r, "IOMMU_PERMISSION_FAULT", "SYNC_WRONG_DIRECTION", "FREE_WRONG_DIRECTION");
        assertThat(r.faults().get(0).access()).isEqualTo(dev.dmasim.sim.bus.Access.WRITE);
        assertThat(r.stats().verified).as("no frame can be received").isZero();
        final DebugReport free = r.debugReports().stream()
            .filter(d -> d.kind() == DebugReport.Kind.FREE_WRONG_DIRECTION).findFirst().orElseThrow();
        assertThat(free.toString()).contains("device driver frees DMA memory with different direction")
            .contains("[mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]").contains("Mapped at:");
    }

    @Test
    void wrongDirectionWithoutIommuIsCaughtByDmaDebugAlone()
    {
        final ExampleResult r = nvme(IommuMode.NONE, Bug.WRONG_DIRECTION);
        assertCaught(r, "FREE_WRONG_DIRECTION");
        assertThat(r.faultCount()).isZero();
        assertThat(r.stats().verified).as("the data still arrives").isEqualTo(IOS);
    }

    @Test
    void nvmeReadMappedToDeviceIsAPermissionFaultInLazyMode()
    {
        final ExampleResult r = nvme(IommuMode.LAZY, Bug.WRONG_DIRECTION);
        assertCaught(r, "IOMMU_PERMISSION_FAULT", "FREE_WRONG_DIRECTION");
        assertThat(r.stats().deviceErrors).isPositive();
    }

    // ------------------------------------------------------------------------------------------------ leak

    @ParameterizedTest
    @EnumSource(value = IommuMode.class, names = {"NONE", "STRICT"})
    void leakedMappingsAreReportedWhenTheDeviceIsReleased(final IommuMode mode)
    {
        for (final ExampleResult r : List.of(nic(mode, Bug.LEAK), nvme(mode, Bug.LEAK)))
        {
            assertCaught(r, "LEAK_AT_RELEASE");
            assertThat(r.stats().leakedMappings).isPositive();
            assertThat((long)r.pendingAtRelease()).isEqualTo(r.stats().leakedMappings);
            assertThat(r.debugReports()).hasSize(1);
            assertThat(r.debugReports().get(0).message())
                .contains("device driver has pending DMA allocations while released from device [count="
                    + r.stats().leakedMappings + "]");
            assertThat(r.stats().verified).as("a leak does not corrupt data").isEqualTo(r.stats().expected);
        }
    }

    @Test
    void leakShowsInTheIovaAccounting()
    {
        final ExampleResult clean = ExampleRunner.run(new NicModel(),
            new ExampleOptions(IommuMode.STRICT, FRAMES, Bug.NONE, false, 3));
        final ExampleResult leaky = nic(IommuMode.STRICT, Bug.LEAK);
        assertThat(leaky.liveIovaRanges()).as("IOVA ranges still allocated (live or cached) before the release")
            .isGreaterThan(clean.liveIovaRanges());
    }

    // ------------------------------------------------------------------------------------------------ verdicts

    @Test
    void aBugRunWithoutReportsIsNotCaughtAndSaysSo()
    {
        final DriverStats stats = new DriverStats();
        stats.expected = 1;
        stats.verified = 1;
        final ExampleResult r = new ExampleResult("nic", "frames",
            new ExampleOptions(IommuMode.NONE, 1, Bug.LEAK, false, 1), "Device[...]", stats, List.of(), List.of(),
            List.of(), 0, 0, 0, 0, new dev.dmasim.engine.check.ExposureSummary(0, 0, 0, java.util.Map.of()));
        assertThat(r.caught()).isFalse();
        assertThat(r.exitCode()).isEqualTo(1);
        final StringWriter out = new StringWriter();
        r.print(new PrintWriter(out, true));
        assertThat(out.toString()).contains("NOT caught: leak");
    }
}
