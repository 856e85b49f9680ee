package dev.dmasim.bench.report;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * PNG charts drawn with XChart, headless (no display needed: {@code java.awt.headless} is set before AWT loads).
 * Reusable by every command that writes a report. Stateless; each call draws one file.
 */
public final class Charts
{
    /** Width of every chart, pixels. */
    public static final int WIDTH = 800;
    /** Height of every chart, pixels. */
    public static final int HEIGHT = 480;

    static
    {
        headless();
    }

    private Charts()
    {
    }

    /** Makes AWT headless if it has not been initialised yet (call before anything touches AWT). */
    public static void headless()
    {
        if (System.getProperty("java.awt.headless") == null)
        {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /**
     * A grouped bar chart: one group per category, one bar per series.
     *
     * @param file       the PNG to write (parent folders must exist).
     * @param categories the x-axis groups, e.g. IOMMU modes.
     * @param series     series name to one value per category (NaN draws no bar).
     */
    public static void barChart(final Path file, final String title, final String xTitle, final String yTitle,
        final List<String> categories, final Map<String, double[]> series) throws IOException
    {
        final CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setLabelsVisible(false);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setDecimalPattern("#,##0.#");
        for (final Map.Entry<String, double[]> e : series.entrySet())
        {
            final double[] v = e.getValue();
            if (v.length != categories.size())
            {
                throw new IllegalArgumentException("series " + e.getKey() + " has " + v.length + " values for " +
                    categories.size() + " categories");
            }
            final double[] safe = new double[v.length];
            for (int i = 0; i < v.length; i++)
            {
                safe[i] = Double.isFinite(v[i]) ? v[i] : 0.0;
            }
            chart.addSeries(e.getKey(), categories, toList(safe));
        }
        save(chart, file);
    }

    /**
     * A line chart with markers.
     *
     * @param file   the PNG to write (parent folders must exist).
     * @param series series name to {@code {xs, ys}} (equal lengths, xs ascending).
     */
    public static void lineChart(final Path file, final String title, final String xTitle, final String yTitle,
        final Map<String, double[][]> series) throws IOException
    {
        final XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setMarkerSize(8);
        chart.getStyler().setDecimalPattern("#,##0.##");
        for (final Map.Entry<String, double[][]> e : series.entrySet())
        {
            chart.addSeries(e.getKey(), e.getValue()[0], e.getValue()[1]);
        }
        save(chart, file);
    }

    private static List<Double> toList(final double[] v)
    {
        final Double[] boxed = new Double[v.length];
        for (int i = 0; i < v.length; i++)
        {
            boxed[i] = v[i];
        }
        return List.of(boxed);
    }

    private static void save(final Chart<?, ?> chart, final Path file) throws IOException
    {
        try (OutputStream out = Files.newOutputStream(file))
        {
            // the 1 x 1 grid form: the single-chart stream overload is deprecated in XChart 4
            BitmapEncoder.saveBitmap(List.of(chart), 1, 1, out, BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
