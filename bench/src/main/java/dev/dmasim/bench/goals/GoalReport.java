package dev.dmasim.bench.goals;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Formats evaluated goals: one text line per goal, or JSON. Stateless. */
public final class GoalReport
{
    private GoalReport()
    {
    }

    /** @return one line: id, name, measured, target, MET/MISSED. */
    public static String line(final GoalResult g)
    {
        return String.format(Locale.ROOT, "%-13s %-62s %14s   target %-11s %s", g.id(), g.name(), g.shown(),
            g.target(), g.status());
    }

    /** @return the goals and the raw measurements as one JSON object. */
    public static String json(final List<GoalResult> goals, final Measurements m, final String machine)
    {
        return json(goals, List.of(), m, machine);
    }

    /** @return the goals, the context figures ({@link GoalEvaluator#context}) and the raw measurements as JSON. */
    public static String json(final List<GoalResult> goals, final List<GoalResult> context, final Measurements m,
        final String machine)
    {
        final StringBuilder sb = new StringBuilder(4096).append("{\n  \"machine\": ").append(str(machine))
            .append(",\n  \"goals\": [");
        results(sb, goals);
        sb.append("\n  ],\n  \"context\": [");
        results(sb, context);
        sb.append("\n  ],\n  \"benchmarks\": {");
        boolean first = true;
        for (final Map.Entry<String, Score> e : m.scores().entrySet())
        {
            final Score s = e.getValue();
            sb.append(first ? "\n" : ",\n").append("    ").append(str(e.getKey()))
                .append(": {\"score\": ").append(num(s.value()))
                .append(", \"error\": ").append(num(s.error()))
                .append(", \"unit\": ").append(str(s.unit()));
            for (final Map.Entry<String, Double> x : m.secondaries(e.getKey()).entrySet())
            {
                sb.append(", ").append(str(x.getKey())).append(": ").append(num(x.getValue()));
            }
            sb.append('}');
            first = false;
        }
        return sb.append("\n  }\n}").toString();
    }

    private static void results(final StringBuilder sb, final List<GoalResult> results)
    {
        for (int i = 0; i < results.size(); i++)
        {
            final GoalResult g = results.get(i);
            sb.append(i == 0 ? "\n" : ",\n").append("    {\"id\": ").append(str(g.id()))
                .append(", \"name\": ").append(str(g.name()))
                .append(", \"measured\": ").append(num(g.measured()))
                .append(", \"shown\": ").append(str(g.shown()))
                .append(", \"target\": ").append(str(g.target()))
                .append(", \"status\": ").append(str(g.status()))
                .append(", \"detail\": ").append(str(g.detail())).append('}');
        }
    }

    static String num(final double v)
    {
        return Double.isNaN(v) || Double.isInfinite(v) ? "null" : Double.toString(v);
    }

    static String str(final String s)
    {
        final StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            switch (c)
            {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                default ->
                {
                    if (c < 0x20)
                    {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
