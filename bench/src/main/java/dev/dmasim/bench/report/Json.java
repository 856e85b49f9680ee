package dev.dmasim.bench.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal JSON writer and reader for reports, so the command line needs no JSON library.
 * <p>
 * Writing maps Java values to JSON: {@link Map} (keys as strings, in iteration order) to an object, {@link Iterable}
 * and arrays of primitives to arrays, {@link Number} to a number (NaN and infinities to {@code null}),
 * {@link CharSequence} and enums to strings, {@link Boolean} to a boolean, {@code null} to null, and records to objects
 * of their components. Reading gives back {@link LinkedHashMap}, {@link ArrayList}, {@link Double} (or {@link Long} for
 * integers that fit), {@link String}, {@link Boolean} and {@code null}. Stateless and thread-safe.
 */
public final class Json
{
    private Json()
    {
    }

    /** @return {@code value} as compact JSON. */
    public static String write(final Object value)
    {
        final StringBuilder sb = new StringBuilder(256);
        write(sb, value, -1, 0);
        return sb.toString();
    }

    /** @return {@code value} as JSON indented by two spaces per level (what the reports write). */
    public static String writePretty(final Object value)
    {
        final StringBuilder sb = new StringBuilder(1024);
        write(sb, value, 2, 0);
        return sb.append('\n').toString();
    }

    private static void write(final StringBuilder sb, final Object value, final int indent, final int level)
    {
        if (value == null)
        {
            sb.append("null");
        }
        else if (value instanceof Map<?, ?> map)
        {
            sb.append('{');
            boolean first = true;
            for (final Map.Entry<?, ?> e : map.entrySet())
            {
                if (!first)
                {
                    sb.append(',');
                }
                first = false;
                newline(sb, indent, level + 1);
                quote(sb, String.valueOf(e.getKey()));
                sb.append(indent >= 0 ? ": " : ":");
                write(sb, e.getValue(), indent, level + 1);
            }
            if (!first)
            {
                newline(sb, indent, level);
            }
            sb.append('}');
        }
        else if (value instanceof Record r)
        {
            write(sb, Reflect.componentsOf(r), indent, level);
        }
        else if (value instanceof Iterable<?> it)
        {
            sb.append('[');
            boolean first = true;
            for (final Object o : it)
            {
                if (!first)
                {
                    sb.append(indent >= 0 ? ", " : ",");
                }
                first = false;
                write(sb, o, indent, level + 1);
            }
            sb.append(']');
        }
        else if (value instanceof long[] a)
        {
            final List<Long> l = new ArrayList<>(a.length);
            for (final long x : a)
            {
                l.add(x);
            }
            write(sb, l, indent, level);
        }
        else if (value instanceof double[] a)
        {
            final List<Double> l = new ArrayList<>(a.length);
            for (final double x : a)
            {
                l.add(x);
            }
            write(sb, l, indent, level);
        }
        else if (value instanceof Double || value instanceof Float)
        {
            final double d = ((Number)value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d))
            {
                sb.append("null");
            }
            else if (d == Math.rint(d) && Math.abs(d) < 1e15)
            {
                sb.append((long)d);
            }
            else
            {
                sb.append(String.format(Locale.ROOT, "%.6g", d).replaceFirst("\\.?0+(e|$)", "$1"));
            }
        }
        else if (value instanceof Number || value instanceof Boolean)
        {
            sb.append(value);
        }
        else
        {
            quote(sb, value instanceof Enum<?> e ? e.name() : value.toString());
        }
    }

    private static void newline(final StringBuilder sb, final int indent, final int level)
    {
        if (indent >= 0)
        {
            sb.append('\n').repeat(' ', indent * level);
        }
    }

    /** Appends {@code s} as a JSON string literal (quotes, escapes) to {@code sb}. */
    public static void quote(final StringBuilder sb, final String s)
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
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
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

    /**
     * Parses one JSON value (RFC 8259), surrounded by optional white space.
     *
     * @throws IllegalArgumentException naming the offset of the first syntax error.
     */
    public static Object parse(final String text)
    {
        final Parser p = new Parser(text);
        final Object v = p.value();
        p.skipWs();
        if (p.pos != text.length())
        {
            throw p.error("trailing characters");
        }
        return v;
    }

    private static final class Parser
    {
        private final String s;
        private int pos;

        Parser(final String s)
        {
            this.s = s;
        }

        IllegalArgumentException error(final String what)
        {
            return new IllegalArgumentException("JSON: " + what + " at offset " + pos);
        }

        void skipWs()
        {
            while (pos < s.length() && " \t\r\n".indexOf(s.charAt(pos)) >= 0)
            {
                pos++;
            }
        }

        Object value()
        {
            skipWs();
            if (pos >= s.length())
            {
                throw error("unexpected end");
            }
            final char c = s.charAt(pos);
            return switch (c)
            {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        Object literal(final String word, final Object v)
        {
            if (!s.startsWith(word, pos))
            {
                throw error("unexpected character '" + s.charAt(pos) + "'");
            }
            pos += word.length();
            return v;
        }

        Map<String, Object> object()
        {
            final Map<String, Object> m = new LinkedHashMap<>();
            pos++;
            skipWs();
            if (pos < s.length() && s.charAt(pos) == '}')
            {
                pos++;
                return m;
            }
            while (true)
            {
                skipWs();
                if (pos >= s.length() || s.charAt(pos) != '"')
                {
                    throw error("expected a string key");
                }
                final String key = string();
                skipWs();
                expect(':');
                m.put(key, value());
                skipWs();
                if (pos < s.length() && s.charAt(pos) == ',')
                {
                    pos++;
                    continue;
                }
                expect('}');
                return m;
            }
        }

        List<Object> array()
        {
            final List<Object> l = new ArrayList<>();
            pos++;
            skipWs();
            if (pos < s.length() && s.charAt(pos) == ']')
            {
                pos++;
                return l;
            }
            while (true)
            {
                l.add(value());
                skipWs();
                if (pos < s.length() && s.charAt(pos) == ',')
                {
                    pos++;
                    continue;
                }
                expect(']');
                return l;
            }
        }

        void expect(final char c)
        {
            if (pos >= s.length() || s.charAt(pos) != c)
            {
                throw error("expected '" + c + "'");
            }
            pos++;
        }

        String string()
        {
            pos++;
            final StringBuilder sb = new StringBuilder();
            while (true)
            {
                if (pos >= s.length())
                {
                    throw error("unterminated string");
                }
                final char c = s.charAt(pos++);
                if (c == '"')
                {
                    return sb.toString();
                }
                if (c < 0x20)
                {
                    throw error("control character in string");
                }
                if (c != '\\')
                {
                    sb.append(c);
                    continue;
                }
                if (pos >= s.length())
                {
                    throw error("unterminated escape");
                }
                final char e = s.charAt(pos++);
                switch (e)
                {
                    case '"', '\\', '/' -> sb.append(e);
                    case 'b' -> sb.append('\b');
                    case 'f' -> sb.append('\f');
                    case 'n' -> sb.append('\n');
                    case 'r' -> sb.append('\r');
                    case 't' -> sb.append('\t');
                    case 'u' ->
                    {
                        if (pos + 4 > s.length())
                        {
                            throw error("short \\u escape");
                        }
                        sb.append((char)Integer.parseInt(s.substring(pos, pos + 4), 16));
                        pos += 4;
                    }
                    default -> throw error("bad escape '\\" + e + "'");
                }
            }
        }

        Object number()
        {
            final int start = pos;
            if (pos < s.length() && s.charAt(pos) == '-')
            {
                pos++;
            }
            boolean integral = true;
            while (pos < s.length())
            {
                final char c = s.charAt(pos);
                if (c >= '0' && c <= '9')
                {
                    pos++;
                }
                else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')
                {
                    integral = false;
                    pos++;
                }
                else
                {
                    break;
                }
            }
            final String t = s.substring(start, pos);
            if (t.isEmpty() || t.equals("-"))
            {
                throw error("unexpected character '" + (pos < s.length() ? s.charAt(pos) : '?') + "'");
            }
            try
            {
                if (integral && t.length() < 19)
                {
                    return Long.parseLong(t);
                }
                return Double.parseDouble(t);
            }
            catch (final NumberFormatException ex)
            {
                pos = start;
                throw error("bad number '" + t + "'");
            }
        }
    }
}
