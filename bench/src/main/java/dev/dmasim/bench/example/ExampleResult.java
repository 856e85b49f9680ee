package dev.dmasim.bench.example;

import dev.dmasim.engine.check.CheckReport;
import dev.dmasim.engine.check.ExposureSummary;
import dev.dmasim.engine.debug.DebugReport;
import dev.dmasim.sim.bus.Access;
import dev.dmasim.sim.mem.MemTx;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The outcome of one example run: what the driver verified, and every report the checkers made. Immutable.
 *
 * @param model            {@code nic} or {@code nvme}.
 * @param unit             what one unit of work is called.
 * @param options          how it ran.
 * @param device           the device as attached ({@code Device.toString()}).
 * @param stats            the driver's counts.
 * @param debugReports     dma-debug's reports.
 * @param checkReports     dmasim's check reports.
 * @param faults           the IOMMU faults drained from the fault ring.
 * @param faultCount       faults recorded in the ring (some may have been dropped from it).
 * @param pendingAtRelease dma-debug entries the device still had when it was released.
 * @param liveIovaRanges   IOVA ranges live (or cached) in IOVA trees just before the release.
 * @param swiotlbSlotsUsed swiotlb slots in use just before the release.
 * @param exposure         the lazy-IOTLB exposure summary.
 */
public record ExampleResult(String model, String unit, ExampleOptions options, String device, DriverStats stats,
    List<DebugReport> debugReports, List<CheckReport> checkReports, List<Fault> faults, long faultCount,
    int pendingAtRelease, long liveIovaRanges, long swiotlbSlotsUsed, ExposureSummary exposure)
{
    /** Frames of a map-time (or access) stack printed per report. */
    public static final int STACK_FRAMES = 4;
    /** Reports printed per kind. */
    public static final int REPORTS_PER_KIND = 2;

    /** An IOMMU fault from the fault ring. */
    public record Fault(int requesterId, long busAddress, int access, int reason)
    {
        @Override
        public String toString()
        {
            return String.format("DMAR: [DMA %s] Request device [%02x:%02x.%d] fault addr 0x%x [fault reason %s]",
                Access.name(access), requesterId >>> 8, (requesterId >>> 3) & 0x1f, requesterId & 7, busAddress,
                MemTx.name(reason));
        }
    }

    /** @return every report kind seen, with counts: dma-debug kinds, check kinds, {@code IOMMU_<reason>}. */
    public Map<String, Integer> kinds()
    {
        final Map<String, Integer> kinds = new LinkedHashMap<>();
        debugReports.forEach(r -> kinds.merge(r.kind().name(), 1, Integer::sum));
        checkReports.forEach(r -> kinds.merge(r.kind().name(), 1, Integer::sum));
        faults.forEach(f -> kinds.merge("IOMMU_" + MemTx.name(f.reason()), 1, Integer::sum));
        return kinds;
    }

    /** @return the kinds that show the bug was caught (empty for a clean run or an uncaught bug). */
    public List<String> evidence()
    {
        final Map<String, Integer> kinds = kinds();
        return options.bug().evidence().stream().filter(kinds::containsKey).toList();
    }

    /** @return true if this is a bug run and a checker caught the bug. */
    public boolean caught()
    {
        return options.bug() != Bug.NONE && !evidence().isEmpty();
    }

    /** @return true if nothing was reported, no fault happened and every unit verified. */
    public boolean clean()
    {
        return debugReports.isEmpty() && checkReports.isEmpty() && faultCount == 0 && pendingAtRelease == 0
            && stats.failures == 0 && stats.corrupt == 0 && stats.deviceErrors == 0
            && stats.verified == stats.expected;
    }

    /** @return 0 for a clean run of a correct driver; 1 otherwise (a bug run, caught or not; a failed clean run). */
    public int exitCode()
    {
        return options.bug() == Bug.NONE && clean() ? 0 : 1;
    }

    /** Prints the summary: what ran, throughput, what was verified, the reports, and the verdict. */
    public void print(final PrintWriter out)
    {
        final ExampleOptions o = options;
        out.printf(Locale.ROOT, "dmasim example %s: %d %s, iommu=%s, %s device, cache model %s, seed=%d%s%n", model,
            stats.expected, unit, o.iommu().name().toLowerCase(Locale.ROOT),
            o.effectiveNoncoherent() ? "non-coherent" : "coherent", "32 KiB 4-way write-back", o.seed(),
            o.bug() == Bug.NONE ? "" : ", bug=" + o.bug());
        if (o.bug() == Bug.MISSING_SYNC && !o.noncoherent())
        {
            out.println("  (--bug missing-sync implies --noncoherent: on a coherent device the syncs are no-ops)");
        }
        out.println("  device: " + device);
        final double secs = Math.max(stats.elapsedNanos, 1) / 1e9;
        out.printf(Locale.ROOT, "ran:      %d %s, %.1f KiB in %.3f s: %.0f %s/s, %.1f MiB/s%n", stats.expected, unit,
            stats.bytes / 1024.0, secs, stats.expected / secs, unit, stats.bytes / secs / (1 << 20));
        out.printf(Locale.ROOT, "verified: %d of %d %s byte for byte; %d corrupt, %d device errors, %d failures%n",
            stats.verified, stats.expected, unit, stats.corrupt, stats.deviceErrors, stats.failures);
        stats.notes.forEach(n -> out.println("          " + n));
        out.printf(Locale.ROOT, "release:  %d DMA mappings pending (dma-debug), %d IOVA ranges allocated (live or"
            + " cached), %d swiotlb slots in use%n", pendingAtRelease, liveIovaRanges, swiotlbSlotsUsed);
        out.printf(Locale.ROOT, "IOMMU:    %d faults; exposure: %s%n", faultCount, exposure);
        faults.stream().limit(REPORTS_PER_KIND).forEach(f -> out.println("  " + f));
        out.println("reports:  " + (kinds().isEmpty() ? "none" : kinds()));
        printDebug(out);
        printChecks(out);
        if (o.bug() == Bug.NONE)
        {
            out.println(clean() ? "clean: zero reports, every " + unitSingular() + " verified" : "FAILED: a correct"
                + " driver produced reports or unverified data");
        }
        else if (caught())
        {
            out.println("caught: " + o.bug() + " " + evidence());
        }
        else
        {
            out.println("NOT caught: " + o.bug() + " produced none of " + o.bug().evidence());
        }
    }

    private String unitSingular()
    {
        return unit.endsWith("s") ? unit.substring(0, unit.length() - 1) : unit;
    }

    private void printDebug(final PrintWriter out)
    {
        final Map<DebugReport.Kind, Integer> shown = new LinkedHashMap<>();
        for (final DebugReport r : debugReports)
        {
            if (shown.merge(r.kind(), 1, Integer::sum) > REPORTS_PER_KIND)
            {
                continue;
            }
            final String[] lines = r.toString().split("\n");
            int frames = 0;
            for (final String line : lines)
            {
                if (line.startsWith(" ") && ++frames > STACK_FRAMES)
                {
                    continue;
                }
                out.println("  " + line);
            }
        }
    }

    private void printChecks(final PrintWriter out)
    {
        final Map<CheckReport.Kind, Integer> shown = new LinkedHashMap<>();
        for (final CheckReport r : checkReports)
        {
            if (shown.merge(r.kind(), 1, Integer::sum) > REPORTS_PER_KIND)
            {
                continue;
            }
            out.println("  " + r.message());
            printStack(out, "Mapped at:", r.mapStack());
            printStack(out, "Unmapped at:", r.unmapStack());
            printStack(out, "Accessed at:", r.accessStack());
        }
    }

    private static void printStack(final PrintWriter out, final String title, final StackTraceElement[] stack)
    {
        if (stack == null || stack.length == 0)
        {
            return;
        }
        out.println("  " + title);
        for (int i = 0; i < Math.min(STACK_FRAMES, stack.length); i++)
        {
            out.println("    " + stack[i]);
        }
    }
}
