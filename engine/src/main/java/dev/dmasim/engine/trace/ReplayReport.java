package dev.dmasim.engine.trace;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@link TraceReplay} found: the input, the machine, per-device footprints, failures, findings, dma-debug
 * reports and the address agreement with the trace. Render with {@link #toText()} or {@link #toJson()}. Built by
 * one replay, then read-only; not thread-safe while being built.
 */
public final class ReplayReport
{
    /** Most items of one list kept in full (all are counted). */
    public static final int MAX_LISTED = 1000;

    /** A line-numbered observation. */
    public record Finding(int line, String message)
    {
        @Override
        public String toString()
        {
            return (line > 0 ? "line " + line + ": " : "") + message;
        }
    }

    /** An address the replay got that differs from the trace's. */
    public record Mismatch(int line, String device, long traceAddress, long replayAddress)
    {
        @Override
        public String toString()
        {
            return "line " + line + ": " + device + " trace 0x" + Long.toHexString(traceAddress) + ", replay 0x"
                + Long.toHexString(replayAddress);
        }
    }

    /** Per-device results. Bytes are DMA/IOVA bytes (granule-aligned for translated devices). */
    public static final class DeviceResult
    {
        final String traceName;
        final String bdf;
        String mode;
        long maps;
        long unmaps;
        long sgMaps;
        long sgUnmaps;
        long syncs;
        long allocs;
        long frees;
        long mapFailures;
        long liveBytes;
        long liveRanges;
        long peakBytes;
        long peakRanges;
        long lowest = -1;
        long highest;

        DeviceResult(final String traceName, final String bdf)
        {
            this.traceName = traceName;
            this.bdf = bdf;
        }

        void add(final long addr, final long bytes)
        {
            liveBytes += bytes;
            liveRanges++;
            if (liveBytes > peakBytes)
            {
                peakBytes = liveBytes;
            }
            peakRanges = Math.max(peakRanges, liveRanges);
            if (lowest == -1 || Long.compareUnsigned(addr, lowest) < 0)
            {
                lowest = addr;
            }
            if (Long.compareUnsigned(addr + bytes, highest) > 0)
            {
                highest = addr + bytes;
            }
        }

        void remove(final long bytes)
        {
            liveBytes -= bytes;
            liveRanges--;
        }

        /** @return the name in the trace. */
        public String traceName()
        {
            return traceName;
        }

        /** @return the simulated device's PCI name. */
        public String bdf()
        {
            return bdf;
        }

        /** @return most bytes mapped at once. */
        public long peakBytes()
        {
            return peakBytes;
        }

        /** @return most mappings live at once. */
        public long peakRanges()
        {
            return peakRanges;
        }

        /** @return mappings still live when the trace ended. */
        public long liveRangesAtEnd()
        {
            return liveRanges;
        }

        /** @return map calls that failed in the replay. */
        public long mapFailures()
        {
            return mapFailures;
        }
    }

    String source;
    int lines;
    final Map<String, Integer> eventCounts = new LinkedHashMap<>();
    Map<String, Integer> otherEvents = Map.of();
    final List<TraceParser.Malformed> malformed = new ArrayList<>();
    int malformedCount;
    final Map<String, String> machine = new LinkedHashMap<>();
    final List<DeviceResult> devices = new ArrayList<>();
    int keptBlocks;
    final List<long[]> relocated = new ArrayList<>();
    int blockCrossings;
    final List<Finding> failures = new ArrayList<>();
    int failureCount;
    final List<Finding> errors = new ArrayList<>();
    int errorCount;
    final List<Finding> findings = new ArrayList<>();
    int findingCount;
    final List<Finding> notes = new ArrayList<>();
    final List<String> debugReports = new ArrayList<>();
    final Map<String, Integer> debugKinds = new LinkedHashMap<>();
    int debugReportCount;
    long compared;
    long agreed;
    final List<Mismatch> mismatches = new ArrayList<>();
    final Map<String, Integer> notReplayed = new LinkedHashMap<>();
    long replayed;
    Map<String, Long> stats = Map.of();
    long swiotlbPeakSlots;
    long swiotlbTotalSlots;
    long swiotlbFailures;
    String addressKind = "DMA address";

    ReplayReport()
    {
    }

    void failure(final int line, final String message)
    {
        failureCount++;
        if (failures.size() < MAX_LISTED)
        {
            failures.add(new Finding(line, message));
        }
    }

    void error(final int line, final String message)
    {
        errorCount++;
        if (errors.size() < MAX_LISTED)
        {
            errors.add(new Finding(line, message));
        }
    }

    void finding(final int line, final String message)
    {
        findingCount++;
        if (findings.size() < MAX_LISTED)
        {
            findings.add(new Finding(line, message));
        }
    }

    void compare(final int line, final String device, final long trace, final long replay)
    {
        compared++;
        if (trace == replay)
        {
            agreed++;
        }
        else if (mismatches.size() < MAX_LISTED)
        {
            mismatches.add(new Mismatch(line, device, trace, replay));
        }
    }

    // ------------------------------------------------------------------------------------------------ queries

    /** @return the input's name. */
    public String source()
    {
        return source;
    }

    /** @return malformed input lines (all of them are counted in {@link #malformedCount()}). */
    public List<TraceParser.Malformed> malformed()
    {
        return List.copyOf(malformed);
    }

    /** @return how many lines were malformed. */
    public int malformedCount()
    {
        return malformedCount;
    }

    /** @return events replayed. */
    public long replayed()
    {
        return replayed;
    }

    /** @return per-device results, in order of first appearance in the trace. */
    public List<DeviceResult> devices()
    {
        return List.copyOf(devices);
    }

    /** @return maps/allocations that failed in the replay (line-numbered). */
    public List<Finding> failures()
    {
        return List.copyOf(failures);
    }

    /** @return how many maps/allocations failed. */
    public int failureCount()
    {
        return failureCount;
    }

    /** @return events whose replay threw (caught; the replay went on). */
    public List<Finding> errors()
    {
        return List.copyOf(errors);
    }

    /** @return how many events threw. */
    public int errorCount()
    {
        return errorCount;
    }

    /** @return trace-level findings: unmatched unmaps, frees and syncs. */
    public List<Finding> findings()
    {
        return List.copyOf(findings);
    }

    /** @return how many trace-level findings. */
    public int findingCount()
    {
        return findingCount;
    }

    /** @return dma-debug reports (kernel text), including the leak reports made when devices were released. */
    public List<String> debugReports()
    {
        return List.copyOf(debugReports);
    }

    /** @return how many dma-debug reports. */
    public int debugReportCount()
    {
        return debugReportCount;
    }

    /** @return dma-debug report counts by kind. */
    public Map<String, Integer> debugKinds()
    {
        return Map.copyOf(debugKinds);
    }

    /** @return mappings whose address was compared with the trace's. */
    public long compared()
    {
        return compared;
    }

    /** @return compared mappings that got the trace's address. */
    public long agreed()
    {
        return agreed;
    }

    /** @return the first {@value #MAX_LISTED} disagreements. */
    public List<Mismatch> mismatches()
    {
        return List.copyOf(mismatches);
    }

    /** @return {trace block, simulated block} pairs of relocated 2 MiB blocks. */
    public List<long[]> relocated()
    {
        return List.copyOf(relocated);
    }

    /** @return peak swiotlb slots in use (2 KiB each). */
    public long swiotlbPeakSlots()
    {
        return swiotlbPeakSlots;
    }

    /** @return the engine's counters at the end. */
    public Map<String, Long> stats()
    {
        return stats;
    }

    // ------------------------------------------------------------------------------------------------ rendering

    /** @return a human-readable summary with the tables and the first findings of each kind. */
    public String toText()
    {
        final StringBuilder sb = new StringBuilder(4096);
        sb.append("dmasim replay ").append(source).append('\n');
        sb.append("  input: ").append(lines).append(" lines, ").append(eventCounts.values().stream()
            .mapToInt(Integer::intValue).sum()).append(" DMA/IOMMU events ").append(eventCounts).append('\n');
        if (!otherEvents.isEmpty())
        {
            sb.append("  other events skipped: ").append(otherEvents).append('\n');
        }
        sb.append("  malformed lines: ").append(malformedCount).append('\n');
        list(sb, malformed, 10);
        sb.append("  machine: ");
        machine.forEach((k, v) -> sb.append(k).append('=').append(v).append(' '));
        sb.setLength(sb.length() - 1);
        sb.append('\n');
        sb.append("  devices (trace name -> simulated device):\n");
        for (final DeviceResult d : devices)
        {
            sb.append("    ").append(d.traceName).append(" -> ").append(d.bdf)
                .append(d.traceName.equals(d.bdf) ? "" : " (synthetic BDF)").append(", ").append(d.mode).append('\n');
        }
        sb.append("  physical addresses: ").append(keptBlocks).append(" 2 MiB blocks kept (RAM in the simulated"
            + " machine), ").append(relocated.size()).append(" relocated");
        if (blockCrossings > 0)
        {
            sb.append(", ").append(blockCrossings).append(" ranges crossed into a block relocated elsewhere");
        }
        sb.append('\n');
        for (int i = 0; i < relocated.size() && i < 10; i++)
        {
            sb.append(String.format("    0x%x -> 0x%x%n", relocated.get(i)[0], relocated.get(i)[1]));
        }
        if (relocated.size() > 10)
        {
            sb.append("    ... ").append(relocated.size() - 10).append(" more\n");
        }
        sb.append("  replayed: ").append(replayed).append(" events");
        if (!notReplayed.isEmpty())
        {
            sb.append(", not replayed: ").append(notReplayed);
        }
        sb.append('\n');
        for (final Finding n : notes)
        {
            sb.append("  note: ").append(n).append('\n');
        }
        sb.append('\n');
        sb.append(String.format("  %-16s %-13s %7s %7s %7s %7s %7s %6s %11s %8s %11s %11s%n", "device", "bdf", "maps",
            "unmaps", "sgmaps", "sgunmap", "syncs", "fails", "peak bytes", "peak rng", "lowest", "highest"));
        for (final DeviceResult d : devices)
        {
            sb.append(String.format("  %-16s %-13s %7d %7d %7d %7d %7d %6d %11d %8d %11s %11s%n", clip(d.traceName, 16),
                d.bdf, d.maps + d.allocs, d.unmaps + d.frees, d.sgMaps, d.sgUnmaps, d.syncs, d.mapFailures, d.peakBytes,
                d.peakRanges, d.lowest == -1 ? "-" : "0x" + Long.toHexString(d.lowest),
                d.lowest == -1 ? "-" : "0x" + Long.toHexString(d.highest)));
        }
        sb.append(String.format("  (maps/unmaps include allocations/frees; %s footprint; live at end: %s)%n",
            addressKind, liveAtEnd()));
        sb.append("  swiotlb: peak ").append(swiotlbPeakSlots).append(" of ").append(swiotlbTotalSlots)
            .append(" slots (").append(swiotlbPeakSlots * 2).append(" KiB), ").append(swiotlbFailures)
            .append(" refused\n");
        if (compared > 0)
        {
            sb.append(String.format("  %s agreement with the trace: %d of %d identical%s%n", addressKind, agreed,
                compared, agreed == compared ? " (all)" : String.format(" (%.1f%%)", 100.0 * agreed / compared)));
            list(sb, mismatches, 10);
        }
        sb.append("  map failures: ").append(failureCount).append('\n');
        list(sb, failures, 10);
        sb.append("  trace findings (unmatched unmaps/frees/syncs): ").append(findingCount).append('\n');
        list(sb, findings, 10);
        sb.append("  dma-debug reports: ").append(debugReportCount);
        if (!machine.getOrDefault("debug", "off").equals("on"))
        {
            sb.append(" (dma-debug off; --debug turns it on)");
        }
        else if (!debugKinds.isEmpty())
        {
            sb.append(' ').append(debugKinds);
        }
        sb.append('\n');
        for (int i = 0; i < debugReports.size() && i < 10; i++)
        {
            sb.append("    ").append(debugReports.get(i).replace("\n", "\n    ")).append('\n');
        }
        if (debugReports.size() > 10)
        {
            sb.append("    ... ").append(debugReports.size() - 10).append(" more\n");
        }
        sb.append("  replay errors: ").append(errorCount).append('\n');
        list(sb, errors, 10);
        return sb.toString();
    }

    private String liveAtEnd()
    {
        final StringBuilder sb = new StringBuilder();
        for (final DeviceResult d : devices)
        {
            if (!sb.isEmpty())
            {
                sb.append(", ");
            }
            sb.append(d.bdf).append(' ').append(d.liveRanges).append(" ranges/").append(d.liveBytes).append(" bytes");
        }
        return sb.toString();
    }

    private static void list(final StringBuilder sb, final List<?> items, final int max)
    {
        for (int i = 0; i < items.size() && i < max; i++)
        {
            sb.append("    ").append(items.get(i)).append('\n');
        }
        if (items.size() > max)
        {
            sb.append("    ... ").append(items.size() - max).append(" more\n");
        }
    }

    private static String clip(final String s, final int n)
    {
        return s.length() <= n ? s : s.substring(0, n - 1) + "~";
    }

    /** @return the whole report as one JSON object (lists capped at {@value #MAX_LISTED}, counts complete). */
    public String toJson()
    {
        final Json j = new Json();
        j.open('{');
        j.key("source").str(source);
        j.key("lines").num(lines);
        j.key("events").open('{');
        eventCounts.forEach((k, v) -> j.key(k).num(v));
        j.close('}');
        j.key("otherEvents").open('{');
        otherEvents.forEach((k, v) -> j.key(k).num(v));
        j.close('}');
        j.key("malformedCount").num(malformedCount);
        j.key("malformed").open('[');
        for (final TraceParser.Malformed m : malformed)
        {
            j.open('{').key("line").num(m.line()).key("reason").str(m.reason()).key("text").str(m.text()).close('}');
        }
        j.close(']');
        j.key("machine").open('{');
        machine.forEach((k, v) -> j.key(k).str(v));
        j.close('}');
        j.key("devices").open('[');
        for (final DeviceResult d : devices)
        {
            j.open('{').key("traceName").str(d.traceName).key("bdf").str(d.bdf).key("mode").str(d.mode)
                .key("maps").num(d.maps).key("unmaps").num(d.unmaps).key("sgMaps").num(d.sgMaps)
                .key("sgUnmaps").num(d.sgUnmaps).key("syncs").num(d.syncs).key("allocs").num(d.allocs)
                .key("frees").num(d.frees).key("mapFailures").num(d.mapFailures).key("peakBytes").num(d.peakBytes)
                .key("peakRanges").num(d.peakRanges).key("lowest").num(d.lowest).key("highest").num(d.highest)
                .key("liveRangesAtEnd").num(d.liveRanges).key("liveBytesAtEnd").num(d.liveBytes).close('}');
        }
        j.close(']');
        j.key("physical").open('{').key("keptBlocks").num(keptBlocks).key("blockBytes").num(PhysRelocator.BLOCK)
            .key("crossings").num(blockCrossings).key("relocated").open('[');
        for (final long[] r : relocated)
        {
            j.open('{').key("trace").num(r[0]).key("simulated").num(r[1]).close('}');
        }
        j.close(']').close('}');
        j.key("replayed").num(replayed);
        j.key("notReplayed").open('{');
        notReplayed.forEach((k, v) -> j.key(k).num(v));
        j.close('}');
        j.key("agreement").open('{').key("addressKind").str(addressKind).key("compared").num(compared)
            .key("identical").num(agreed).key("mismatches").open('[');
        for (final Mismatch m : mismatches)
        {
            j.open('{').key("line").num(m.line()).key("device").str(m.device()).key("trace").num(m.traceAddress())
                .key("replay").num(m.replayAddress()).close('}');
        }
        j.close(']').close('}');
        j.key("swiotlb").open('{').key("peakSlots").num(swiotlbPeakSlots).key("totalSlots").num(swiotlbTotalSlots)
            .key("refused").num(swiotlbFailures).close('}');
        findings(j, "failures", failureCount, failures);
        findings(j, "findings", findingCount, findings);
        findings(j, "errors", errorCount, errors);
        findings(j, "notes", notes.size(), notes);
        j.key("dmaDebug").open('{').key("count").num(debugReportCount).key("kinds").open('{');
        debugKinds.forEach((k, v) -> j.key(k).num(v));
        j.close('}').key("reports").open('[');
        for (final String r : debugReports)
        {
            j.str(r);
        }
        j.close(']').close('}');
        j.key("stats").open('{');
        stats.forEach((k, v) -> j.key(k).num(v));
        j.close('}');
        j.close('}');
        return j.toString();
    }

    private static void findings(final Json j, final String name, final int count, final List<Finding> list)
    {
        j.key(name + "Count").num(count);
        j.key(name).open('[');
        for (final Finding f : list)
        {
            j.open('{').key("line").num(f.line()).key("message").str(f.message()).close('}');
        }
        j.close(']');
    }

    /** A minimal JSON writer (the engine has no JSON dependency). */
    private static final class Json
    {
        private final StringBuilder sb = new StringBuilder(8192);
        private boolean needComma;

        Json open(final char c)
        {
            comma();
            sb.append(c);
            needComma = false;
            return this;
        }

        Json close(final char c)
        {
            sb.append(c);
            needComma = true;
            return this;
        }

        Json key(final String k)
        {
            comma();
            quote(k);
            sb.append(':');
            needComma = false;
            return this;
        }

        Json str(final String v)
        {
            comma();
            if (v == null)
            {
                sb.append("null");
            }
            else
            {
                quote(v);
            }
            needComma = true;
            return this;
        }

        Json num(final long v)
        {
            comma();
            sb.append(v);
            needComma = true;
            return this;
        }

        private void comma()
        {
            if (needComma)
            {
                sb.append(',');
            }
        }

        private void quote(final String s)
        {
            sb.append('"');
            for (int i = 0; i < s.length(); i++)
            {
                final char c = s.charAt(i);
                switch (c)
                {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default ->
                    {
                        if (c < 0x20)
                        {
                            sb.append(String.format("\\u%04x", (int)c));
                        }
                        else
                        {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }

        @Override
        public String toString()
        {
            return sb.toString();
        }
    }
}
