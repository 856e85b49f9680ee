package dev.dmasim.engine.trace;

import dev.dmasim.engine.DmaAttrs;
import dev.dmasim.engine.DmaDirection;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses ftrace text: {@code /sys/kernel/tracing/trace} (or {@code trace_pipe}), {@code trace-cmd report}, or a
 * dmasim {@link TraceSink}. Every line is either a comment/header, an event of {@code include/trace/events/dma.h}
 * or {@code iommu.h} ({@link TraceEvent}), another event (counted by name, skipped), or malformed (kept with its
 * line number and the reason). Never throws on content. Stateless and thread-safe.
 *
 * <p>Accepted line prefix: {@code TASK-PID [(TGID)] [CPU] [FLAGS] SECONDS[.FRACTION]: [SYSTEM:]EVENT: PAYLOAD}.
 * Both the current {@code dma_map_sg} format ({@code nents=%d/%d ents=%d/%d[ [TRUNCATED]]}) and the older one
 * without the counts are read; an array cut by the end of a line, or a line ending in {@code [LINE TOO BIG]},
 * yields the entries that were printed and {@link TraceEvent#truncated()}.
 */
public final class TraceParser
{
    private static final Pattern PREFIX = Pattern.compile(
        "^\\s*(.+?)-(\\d+)\\s+(?:\\(\\s*(?:\\d+|-+)\\)\\s+)?\\[(\\d+)]\\s+(?:([^\\s:]{3,6})\\s+)?(\\d+)(?:\\.(\\d+))?:" +
        "\\s+(?:\\w+:)?(\\w+):(.*)$");
    private static final Pattern HEADER = Pattern.compile("^\\s*(?:version\\s*=|cpus=|CPU\\s*\\d+|trace-cmd\\b).*");
    private static final String LINE_TOO_BIG = "[LINE TOO BIG]";

    private TraceParser()
    {
    }

    /** A line that could not be parsed: 1-based number, the text, why. */
    public record Malformed(int line, String text, String reason)
    {
        @Override
        public String toString()
        {
            return "line " + line + ": " + reason + ": " + (text.length() > 160 ? text.substring(0, 160) + "..." : text);
        }
    }

    /** A parsed trace: its events in order, malformed lines, and how many lines of other events were skipped. */
    public record Parsed(List<TraceEvent> events, List<Malformed> malformed, Map<String, Integer> otherEvents,
        int lines)
    {
        /** @return events of {@code type}, in order. */
        public List<TraceEvent> of(final TraceEvent.Type type)
        {
            final List<TraceEvent> out = new ArrayList<>();
            for (final TraceEvent e : events)
            {
                if (e.type() == type)
                {
                    out.add(e);
                }
            }
            return out;
        }
    }

    /** Parses a file (UTF-8). */
    public static Parsed parse(final Path path) throws IOException
    {
        try (BufferedReader r = Files.newBufferedReader(path, StandardCharsets.UTF_8))
        {
            return parse(r);
        }
    }

    /** Parses text. */
    public static Parsed parse(final String text)
    {
        try
        {
            return parse(new BufferedReader(new StringReader(text)));
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex); // a StringReader does not fail
        }
    }

    /** Parses from {@code reader} (not closed). */
    public static Parsed parse(final BufferedReader reader) throws IOException
    {
        final List<TraceEvent> events = new ArrayList<>();
        final List<Malformed> malformed = new ArrayList<>();
        final Map<String, Integer> other = new HashMap<>();
        int n = 0;
        String line;
        while ((line = reader.readLine()) != null)
        {
            n++;
            final Object r = parseLine(n, line);
            if (r instanceof TraceEvent e)
            {
                events.add(e);
            }
            else if (r instanceof Malformed m)
            {
                malformed.add(m);
            }
            else if (r instanceof String name)
            {
                other.merge(name, 1, Integer::sum);
            }
        }
        return new Parsed(List.copyOf(events), List.copyOf(malformed), Map.copyOf(other), n);
    }

    /**
     * Parses one line. @return a {@link TraceEvent}; a {@link Malformed}; the event name (String) of an event this
     * parser does not model; or null for a comment, header or blank line.
     */
    public static Object parseLine(final int lineNo, final String line)
    {
        if (line.isBlank() || line.stripLeading().startsWith("#"))
        {
            return null;
        }
        final Matcher m = PREFIX.matcher(line);
        if (!m.matches())
        {
            return HEADER.matcher(line).matches() ? null : new Malformed(lineNo, line, "not an ftrace event line");
        }
        final String eventName = m.group(7);
        final TraceEvent.Type type = TraceEvent.Type.of(eventName);
        if (type == null)
        {
            return eventName;
        }
        final Prefix p;
        try
        {
            final String frac = m.group(6) == null ? "" : m.group(6);
            final String nanos = (frac + "000000000").substring(0, 9);
            p = new Prefix(m.group(1).strip(), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                Math.multiplyExact(Long.parseLong(m.group(5)), 1_000_000_000L) + Long.parseLong(nanos));
        }
        catch (final NumberFormatException | ArithmeticException ex)
        {
            return new Malformed(lineNo, line, "bad pid, cpu or timestamp");
        }
        String payload = m.group(8).strip();
        boolean cut = false;
        if (payload.endsWith(LINE_TOO_BIG))
        {
            payload = payload.substring(0, payload.length() - LINE_TOO_BIG.length()).strip();
            cut = true;
        }
        try
        {
            return switch (type)
            {
                case IOMMU_MAP, IOMMU_UNMAP -> iommu(lineNo, line, type, eventName, p, payload);
                case IOMMU_FAULT -> fault(lineNo, line, eventName, p, payload);
                default -> dma(lineNo, line, type, eventName, p, payload, cut);
            };
        }
        catch (final NumberFormatException ex)
        {
            return new Malformed(lineNo, line, eventName + ": bad number (" + ex.getMessage() + ")");
        }
        catch (final IllegalArgumentException ex)
        {
            return new Malformed(lineNo, line, eventName + ": " + ex.getMessage());
        }
        catch (final RuntimeException ex)
        {
            return new Malformed(lineNo, line, "unparsable " + eventName + " payload (" + ex + ")");
        }
    }

    private record Prefix(String task, int pid, int cpu, long nanos)
    {
    }

    // "IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu" / "... size=%zu unmapped_size=%zu"
    private static Object iommu(final int lineNo, final String line, final TraceEvent.Type type, final String name,
        final Prefix p, final String payload)
    {
        final String[] t = payload.split("\\s+");
        if (t.length < 5 || !"IOMMU:".equals(t[0]) || !t[1].startsWith("iova=") || !"-".equals(t[2]))
        {
            return new Malformed(lineNo, line, name + ": expected 'IOMMU: iova=0x... - 0x...'");
        }
        final Map<String, String> kv = keyValues(t, 4);
        final long iova = hexValue(t[1].substring(5));
        final long end = hexValue(t[3]);
        final long size = decValue(kv.get("size"));
        if (iova == -1 || end == -1 || size == -1 || Long.compareUnsigned(end, iova) < 0 || end - iova != size)
        {
            return new Malformed(lineNo, line, name + ": bad iova range or size");
        }
        long paddr = -1;
        long unmapped = -1;
        if (type == TraceEvent.Type.IOMMU_MAP)
        {
            paddr = hexValue(kv.get("paddr"));
            if (paddr == -1)
            {
                return new Malformed(lineNo, line, name + ": bad or missing paddr");
            }
        }
        else
        {
            unmapped = decValue(kv.get("unmapped_size"));
            if (unmapped == -1)
            {
                return new Malformed(lineNo, line, name + ": bad or missing unmapped_size");
            }
        }
        return new TraceEvent(lineNo, type, name, p.task, p.pid, p.cpu, p.nanos, null, null, -1, iova, size, paddr, -1,
            null, null, null, -1, -1, false, 0, unmapped);
    }

    // "IOMMU:%s %s iova=0x%016llx flags=0x%04x"
    private static Object fault(final int lineNo, final String line, final String name, final Prefix p,
        final String payload)
    {
        final String[] t = payload.split("\\s+");
        if (t.length < 4 || !t[0].startsWith("IOMMU:"))
        {
            return new Malformed(lineNo, line, name + ": expected 'IOMMU:driver device iova=...'");
        }
        final Map<String, String> kv = keyValues(t, 2);
        final long iova = hexValue(kv.get("iova"));
        if (iova == -1)
        {
            return new Malformed(lineNo, line, name + ": bad iova");
        }
        return new TraceEvent(lineNo, TraceEvent.Type.IOMMU_FAULT, name, p.task, p.pid, p.cpu, p.nanos, t[1], null, -1,
            iova, -1, -1, -1, null, null, null, -1, -1, false, 0, -1);
    }

    private static Object dma(final int lineNo, final String line, final TraceEvent.Type type, final String name,
        final Prefix p, final String payload, final boolean lineCut)
    {
        final String[] t = payload.split("\\s+");
        if (t.length < 2 || t[0].isEmpty() || t[0].indexOf('=') >= 0)
        {
            return new Malformed(lineNo, line, name + ": missing device name");
        }
        final String device = t[0];
        final Map<String, String> kv = keyValues(t, 1);
        boolean truncated = lineCut || kv.containsKey(TraceFormat.TRUNCATED_MARKER);
        final String dirText = kv.get("dir");
        final DmaDirection dir = dirText == null ? null : TraceFormat.parseDirection(dirText);
        final boolean allocLike = type == TraceEvent.Type.ALLOC || type == TraceEvent.Type.ALLOC_PAGES
            || type == TraceEvent.Type.FREE || type == TraceEvent.Type.FREE_PAGES;
        if (dir == null && !allocLike)
        {
            return new Malformed(lineNo, line, name + ": bad or missing dir");
        }
        long attrs = kv.containsKey("attrs") ? TraceFormat.parseAttrs(kv.get("attrs")) : 0;
        if (attrs == -1)
        {
            return new Malformed(lineNo, line, name + ": bad attrs '" + kv.get("attrs") + "'");
        }
        if ("dma_map_resource".equals(name) || "dma_unmap_resource".equals(name))
        {
            attrs |= DmaAttrs.MMIO;
        }
        long dma = -1;
        long size = -1;
        long phys = -1;
        long virt = -1;
        long[] dmaAddrs = null;
        long[] sizes = null;
        long[] physAddrs = null;
        int nents = -1;
        int ents = -1;
        int err = 0;
        switch (type)
        {
            case MAP, UNMAP, SYNC_SINGLE_FOR_CPU, SYNC_SINGLE_FOR_DEVICE, ALLOC, ALLOC_PAGES, FREE, FREE_PAGES,
                ALLOC_SGT, ALLOC_SGT_ERR, FREE_SGT ->
            {
                dma = requireHex(kv, "dma_addr");
                size = decValue(kv.get("size"));
                if (size == -1)
                {
                    return new Malformed(lineNo, line, name + ": bad or missing size");
                }
                if (type == TraceEvent.Type.MAP)
                {
                    phys = hexValue(kv.get("phys_addr"));
                    if (phys == -1)
                    {
                        return new Malformed(lineNo, line, name + ": bad or missing phys_addr");
                    }
                }
                if (kv.containsKey("virt_addr"))
                {
                    virt = hexValue(kv.get("virt_addr"));
                    if (virt != -1 && Long.compareUnsigned(virt, TraceFormat.PAGE_OFFSET) >= 0
                        && virt - TraceFormat.PAGE_OFFSET < (1L << 46))
                    {
                        phys = virt - TraceFormat.PAGE_OFFSET;
                    }
                }
                if (kv.containsKey("phys_addrs"))
                {
                    final Arr a = array(kv.get("phys_addrs"));
                    physAddrs = a.values;
                    truncated |= a.cut;
                }
            }
            case MAP_SG, SYNC_SG_FOR_CPU, SYNC_SG_FOR_DEVICE ->
            {
                final Arr d = requireArray(kv, "dma_addrs");
                final Arr s = requireArray(kv, "sizes");
                dmaAddrs = d.values;
                sizes = s.values;
                truncated |= d.cut || s.cut;
                if (type == TraceEvent.Type.MAP_SG)
                {
                    final Arr ph = requireArray(kv, "phys_addrs");
                    physAddrs = ph.values;
                    truncated |= ph.cut;
                    final int[] nc = counts(kv.get("nents"));
                    final int[] ec = counts(kv.get("ents"));
                    nents = nc != null ? nc[1] : physAddrs.length;
                    ents = ec != null ? ec[1] : dmaAddrs.length;
                    truncated |= (nc != null && nc[0] < nc[1]) || (ec != null && ec[0] < ec[1]);
                    if (nents < 1 || ents < 1 || ents > nents && !truncated)
                    {
                        return new Malformed(lineNo, line, name + ": bad nents/ents");
                    }
                }
                else
                {
                    nents = dmaAddrs.length;
                }
                if (dmaAddrs.length == 0)
                {
                    return new Malformed(lineNo, line, name + ": empty dma_addrs");
                }
                dma = dmaAddrs[0];
            }
            case MAP_SG_ERR ->
            {
                final Arr ph = requireArray(kv, "dma_addrs"); // the kernel prints the phys addresses under this name
                physAddrs = ph.values;
                truncated |= ph.cut;
                nents = physAddrs.length;
                final String e = kv.get("err");
                err = e == null ? 0 : Integer.parseInt(e);
            }
            case UNMAP_SG ->
            {
                final Arr ph = requireArray(kv, "phys_addrs");
                physAddrs = ph.values;
                truncated |= ph.cut;
                nents = physAddrs.length;
                if (nents == 0)
                {
                    return new Malformed(lineNo, line, name + ": empty phys_addrs");
                }
            }
            default -> throw new IllegalStateException("unexpected " + type);
        }
        if (physAddrs != null && physAddrs.length > 0 && phys == -1)
        {
            phys = physAddrs[0];
        }
        return new TraceEvent(lineNo, type, name, p.task, p.pid, p.cpu, p.nanos, device, dir, attrs, dma, size, phys,
            virt, dmaAddrs, sizes, physAddrs, nents, ents, truncated, err, -1);
    }

    private static Map<String, String> keyValues(final String[] tokens, final int from)
    {
        final Map<String, String> kv = new HashMap<>();
        for (int i = from; i < tokens.length; i++)
        {
            final String tok = tokens[i];
            final int eq = tok.indexOf('=');
            if (eq > 0)
            {
                kv.putIfAbsent(tok.substring(0, eq), tok.substring(eq + 1));
            }
            else if (tok.equals(TraceFormat.TRUNCATED_MARKER))
            {
                kv.put(tok, "");
            }
        }
        return kv;
    }

    private static long requireHex(final Map<String, String> kv, final String key)
    {
        final String v = kv.get(key);
        if (v == null || !TraceFormat.isNumber(v, true))
        {
            throw new IllegalArgumentException("bad or missing " + key);
        }
        return TraceFormat.parseNumber(v, true);
    }

    /** @return the hex value, or -1 when absent or not a number (callers treat all-ones as invalid here). */
    private static long hexValue(final String v)
    {
        return v == null ? -1 : TraceFormat.parseNumber(v, true);
    }

    private static long decValue(final String v)
    {
        if (v == null || !TraceFormat.isNumber(v, false) || v.startsWith("0x"))
        {
            return -1;
        }
        final long n = TraceFormat.parseNumber(v, false);
        return n < 0 ? -1 : n;
    }

    /** "a/b" → {a, b}; a bare "a" → {a, a}; null when absent. */
    private static int[] counts(final String v)
    {
        if (v == null)
        {
            return null;
        }
        final int slash = v.indexOf('/');
        final int a = Integer.parseInt(slash < 0 ? v : v.substring(0, slash));
        final int b = slash < 0 ? a : Integer.parseInt(v.substring(slash + 1));
        if (a < 0 || b < a)
        {
            throw new IllegalArgumentException("bad count " + v);
        }
        return new int[] { a, b };
    }

    private record Arr(long[] values, boolean cut)
    {
    }

    private static Arr requireArray(final Map<String, String> kv, final String key)
    {
        final String v = kv.get(key);
        if (v == null)
        {
            throw new IllegalArgumentException("missing " + key);
        }
        return array(v);
    }

    /**
     * {@code {0x1,0x2}}; an array without its closing brace (the line was cut) yields the complete elements and
     * {@code cut}; a trailing "..." also means cut.
     */
    private static Arr array(final String v)
    {
        if (!v.startsWith("{"))
        {
            throw new IllegalArgumentException("array expected, got '" + v + "'");
        }
        final boolean closed = v.endsWith("}");
        String body = v.substring(1, closed ? v.length() - 1 : v.length());
        boolean cut = !closed;
        if (body.endsWith("..."))
        {
            body = body.substring(0, body.length() - 3);
            cut = true;
        }
        if (body.isEmpty())
        {
            return new Arr(new long[0], cut);
        }
        final String[] parts = body.split(",", -1);
        final long[] out = new long[parts.length];
        int n = 0;
        for (int i = 0; i < parts.length; i++)
        {
            final String part = parts[i];
            if (!TraceFormat.isNumber(part, true))
            {
                if (cut && i == parts.length - 1)
                {
                    break; // a half-printed last element
                }
                throw new IllegalArgumentException("bad array element '" + part + "'");
            }
            out[n++] = TraceFormat.parseNumber(part, true);
        }
        return new Arr(n == out.length ? out : java.util.Arrays.copyOf(out, n), cut);
    }
}
