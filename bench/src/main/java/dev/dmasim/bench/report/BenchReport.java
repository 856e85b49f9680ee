package dev.dmasim.bench.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A report folder of map/unmap benchmark cells: {@code results.csv} (appended one row per finished cell, so a run
 * can be resumed), {@code results.json}, PNG plots ({@code latency-g<G>.png}: map and unmap latency per mode at the
 * smallest thread count; {@code throughput-g<G>.png}: Mops/s per mode against threads) and {@code index.html} that
 * shows the table and embeds the plots. Not thread-safe: one writer per folder.
 */
public final class BenchReport
{
    /** The CSV file name. */
    public static final String CSV = "results.csv";
    /** The JSON file name. */
    public static final String JSON = "results.json";
    /** The HTML index file name. */
    public static final String HTML = "index.html";

    private final Path dir;

    /** @param dir the report folder (created with its parents if missing). */
    public BenchReport(final Path dir) throws IOException
    {
        this.dir = dir;
        Files.createDirectories(dir);
    }

    /** @return the report folder. */
    public Path dir()
    {
        return dir;
    }

    /**
     * @return the rows of an existing {@code results.csv}, or none when there is no file.
     * @throws IllegalArgumentException if the file's header is not {@link BenchRecord#csvHeader()} or a row is bad.
     */
    public List<BenchRecord> readCsv() throws IOException
    {
        final Path csv = dir.resolve(CSV);
        final List<BenchRecord> rows = new ArrayList<>();
        if (!Files.exists(csv))
        {
            return rows;
        }
        final List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        if (lines.isEmpty())
        {
            return rows;
        }
        if (!Csv.parseLine(lines.getFirst()).equals(BenchRecord.csvHeader()))
        {
            throw new IllegalArgumentException(csv + " was not written by this version of dmasim (other columns)");
        }
        for (int i = 1; i < lines.size(); i++)
        {
            if (lines.get(i).isBlank())
            {
                continue;
            }
            try
            {
                rows.add(BenchRecord.fromCsv(Csv.parseLine(lines.get(i))));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException(csv + " line " + (i + 1) + ": " + ex.getMessage(), ex);
            }
        }
        return rows;
    }

    /** Appends one row to {@code results.csv} (writing the header first if the file is new) and forces it out. */
    public void append(final BenchRecord r) throws IOException
    {
        final Path csv = dir.resolve(CSV);
        final StringBuilder sb = new StringBuilder();
        if (!Files.exists(csv) || Files.size(csv) == 0)
        {
            sb.append(Csv.line(BenchRecord.csvHeader())).append('\n');
        }
        sb.append(Csv.line(r.csvFields())).append('\n');
        Files.writeString(csv, sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
            StandardOpenOption.SYNC);
    }

    /** Rewrites {@code results.csv} with exactly {@code rows}. */
    public void writeCsv(final List<BenchRecord> rows) throws IOException
    {
        final StringBuilder sb = new StringBuilder();
        sb.append(Csv.line(BenchRecord.csvHeader())).append('\n');
        for (final BenchRecord r : rows)
        {
            sb.append(Csv.line(r.csvFields())).append('\n');
        }
        Files.writeString(dir.resolve(CSV), sb, StandardCharsets.UTF_8);
    }

    /**
     * Writes {@code results.json}, the PNG plots and {@code index.html} for {@code rows} (the CSV is written by
     * {@link #append} or {@link #writeCsv}).
     *
     * @param title heading of the HTML page.
     * @param meta  what the run was (machine, JVM, options): shown in the page and stored in the JSON.
     * @return the files written, JSON first.
     */
    public List<Path> writeSummary(final String title, final Map<String, Object> meta, final List<BenchRecord> rows)
        throws IOException
    {
        final List<Path> written = new ArrayList<>();
        final Map<String, Object> json = new LinkedHashMap<>();
        json.put("title", title);
        json.put("meta", meta);
        final List<Object> results = new ArrayList<>();
        for (final BenchRecord r : rows)
        {
            results.add(r.toMap());
        }
        json.put("results", results);
        final Path jsonFile = dir.resolve(JSON);
        Files.writeString(jsonFile, Json.writePretty(json), StandardCharsets.UTF_8);
        written.add(jsonFile);
        final List<Path> plots = writePlots(rows);
        written.addAll(plots);
        final Path html = dir.resolve(HTML);
        Files.writeString(html, html(title, meta, rows, plots), StandardCharsets.UTF_8);
        written.add(html);
        return written;
    }

    private List<Path> writePlots(final List<BenchRecord> rows) throws IOException
    {
        final List<Path> out = new ArrayList<>();
        final Set<Integer> granules = new TreeSet<>();
        for (final BenchRecord r : rows)
        {
            granules.add(r.granule());
        }
        final boolean manyDirs = distinct(rows, BenchRecord::dir) > 1;
        final boolean manyMapModes = distinct(rows, BenchRecord::mapMode) > 1;
        for (final int g : granules)
        {
            final List<BenchRecord> cells = new ArrayList<>();
            int minThreads = Integer.MAX_VALUE;
            for (final BenchRecord r : rows)
            {
                if (r.granule() == g)
                {
                    cells.add(r);
                    minThreads = Math.min(minThreads, r.threads());
                }
            }
            final String unit = g == 1 ? "1 page" : g + " pages";

            // Latency per variant at the smallest thread count.
            final Map<String, BenchRecord> lat = new LinkedHashMap<>();
            for (final BenchRecord r : cells)
            {
                if (r.threads() == minThreads && r.loops() > 0)
                {
                    lat.putIfAbsent(variant(r, manyDirs, manyMapModes), r);
                }
            }
            if (!lat.isEmpty())
            {
                final List<String> cats = new ArrayList<>(lat.keySet());
                final double[] mapP50 = new double[cats.size()];
                final double[] mapP90 = new double[cats.size()];
                final double[] unmapP50 = new double[cats.size()];
                final double[] unmapP90 = new double[cats.size()];
                for (int i = 0; i < cats.size(); i++)
                {
                    final BenchRecord r = lat.get(cats.get(i));
                    mapP50[i] = r.mapP50Ns();
                    mapP90[i] = r.mapP90Ns();
                    unmapP50[i] = r.unmapP50Ns();
                    unmapP90[i] = r.unmapP90Ns();
                }
                final Map<String, double[]> series = new LinkedHashMap<>();
                series.put("map p50", mapP50);
                series.put("map p90", mapP90);
                series.put("unmap p50", unmapP50);
                series.put("unmap p90", unmapP90);
                final Path f = dir.resolve("latency-g" + g + ".png");
                Charts.barChart(f, "map/unmap latency, granule " + unit + ", " + minThreads +
                    (minThreads == 1 ? " thread" : " threads"), "mode", "ns per call", cats, series);
                out.add(f);
            }

            // Throughput per variant against threads.
            final Map<String, Map<Integer, Double>> thr = new LinkedHashMap<>();
            for (final BenchRecord r : cells)
            {
                thr.computeIfAbsent(variant(r, manyDirs, manyMapModes), k -> new java.util.TreeMap<>())
                    .put(r.threads(), r.mops());
            }
            final Map<String, double[][]> lines = new LinkedHashMap<>();
            for (final Map.Entry<String, Map<Integer, Double>> e : thr.entrySet())
            {
                final double[] xs = new double[e.getValue().size()];
                final double[] ys = new double[xs.length];
                int i = 0;
                for (final Map.Entry<Integer, Double> p : e.getValue().entrySet())
                {
                    xs[i] = p.getKey();
                    ys[i++] = p.getValue();
                }
                lines.put(e.getKey(), new double[][] { xs, ys });
            }
            final Path f = dir.resolve("throughput-g" + g + ".png");
            Charts.lineChart(f, "map+unmap throughput, granule " + unit, "threads", "Mops/s (all threads)", lines);
            out.add(f);
        }
        return out;
    }

    private static String variant(final BenchRecord r, final boolean manyDirs, final boolean manyMapModes)
    {
        return r.mode() + (manyDirs ? " " + r.dir() : "") + (manyMapModes ? " " + r.mapMode() : "");
    }

    private static int distinct(final List<BenchRecord> rows, final java.util.function.Function<BenchRecord, ?> f)
    {
        final Set<Object> s = new LinkedHashSet<>();
        for (final BenchRecord r : rows)
        {
            s.add(f.apply(r));
        }
        return s.size();
    }

    /**
     * @return the results as a fixed-width text table: mode, threads, granule, direction, map mode, map and unmap
     * p50/mean in ns, Mops/s and map errors.
     */
    public static String table(final List<BenchRecord> rows)
    {
        final StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-12s %7s %7s %-13s %-6s %9s %9s %9s %9s %8s %7s%n", "mode", "threads",
            "granule", "dir", "map", "map p50", "map mean", "unmap p50", "unmap mean", "Mops/s", "errors"));
        sb.append(String.format(Locale.ROOT, "%-12s %7s %7s %-13s %-6s %9s %9s %9s %9s %8s %7s%n", "", "", "pages", "",
            "", "ns", "ns", "ns", "ns", "", ""));
        for (final BenchRecord r : rows)
        {
            sb.append(String.format(Locale.ROOT, "%-12s %7d %7d %-13s %-6s %9d %9.1f %9d %9.1f %8.3f %7d%n", r.mode(),
                r.threads(), r.granule(), r.dir(), r.mapMode(), r.mapP50Ns(), r.mapMeanNs(), r.unmapP50Ns(),
                r.unmapMeanNs(), r.mops(), r.mapErrors()));
        }
        return sb.toString();
    }

    private static String html(final String title, final Map<String, Object> meta, final List<BenchRecord> rows,
        final List<Path> plots)
    {
        final StringBuilder sb = new StringBuilder(4096);
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
            .append(esc(title)).append("</title>\n<style>\n")
            .append("body{font-family:sans-serif;margin:2em;color:#222}\n")
            .append("table{border-collapse:collapse;font-size:14px}\n")
            .append("th,td{border:1px solid #ccc;padding:3px 8px}\n")
            .append("td.n{text-align:right;font-variant-numeric:tabular-nums}\n")
            .append("th{background:#f2f2f2}\nimg{max-width:100%;margin:1em 0;border:1px solid #eee}\n")
            .append("</style>\n</head>\n<body>\n<h1>").append(esc(title)).append("</h1>\n");
        sb.append("<table>\n");
        for (final Map.Entry<String, Object> e : meta.entrySet())
        {
            sb.append("<tr><th>").append(esc(e.getKey())).append("</th><td>").append(esc(String.valueOf(e.getValue())))
                .append("</td></tr>\n");
        }
        sb.append("</table>\n<h2>Results</h2>\n<p>Latencies are nanoseconds per call; Mops/s counts map+unmap pairs "
            + "per second over all threads. Every figure is in <a href=\"" + JSON + "\">" + JSON + "</a> and <a href=\""
            + CSV + "\">" + CSV + "</a>.</p>\n<table>\n<tr>");
        for (final String h : List.of("mode", "threads", "granule", "dir", "map", "map p50", "map mean", "map p99",
            "unmap p50", "unmap mean", "unmap p99", "Mops/s", "errors"))
        {
            sb.append("<th>").append(esc(h)).append("</th>");
        }
        sb.append("</tr>\n");
        for (final BenchRecord r : rows)
        {
            sb.append("<tr><td>").append(esc(r.mode())).append("</td>");
            num(sb, Integer.toString(r.threads()));
            num(sb, Integer.toString(r.granule()));
            sb.append("<td>").append(esc(r.dir())).append("</td><td>").append(esc(r.mapMode())).append("</td>");
            num(sb, Long.toString(r.mapP50Ns()));
            num(sb, String.format(Locale.ROOT, "%.1f", r.mapMeanNs()));
            num(sb, Long.toString(r.mapP99Ns()));
            num(sb, Long.toString(r.unmapP50Ns()));
            num(sb, String.format(Locale.ROOT, "%.1f", r.unmapMeanNs()));
            num(sb, Long.toString(r.unmapP99Ns()));
            num(sb, String.format(Locale.ROOT, "%.3f", r.mops()));
            num(sb, Long.toString(r.mapErrors()));
            sb.append("</tr>\n");
        }
        sb.append("</table>\n<h2>Plots</h2>\n");
        for (final Path p : plots)
        {
            final String name = p.getFileName().toString();
            sb.append("<p><img src=\"").append(esc(name)).append("\" alt=\"").append(esc(name)).append("\"></p>\n");
        }
        sb.append("</body>\n</html>\n");
        return sb.toString();
    }

    private static void num(final StringBuilder sb, final String v)
    {
        sb.append("<td class=\"n\">").append(esc(v)).append("</td>");
    }

    /** @return {@code s} with the HTML special characters escaped. */
    public static String esc(final String s)
    {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
