package dev.dmasim.bench.report;

import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 CSV lines: a field is quoted when it holds a comma, a quote or a line break, and quotes are doubled.
 * One record per line (fields with line breaks are written quoted but {@link #parseLine} reads one line only).
 * Stateless and thread-safe.
 */
public final class Csv
{
    private Csv()
    {
    }

    /** @return the fields joined as one CSV line, without the line terminator. */
    public static String line(final List<?> fields)
    {
        final StringBuilder sb = new StringBuilder(128);
        for (int i = 0; i < fields.size(); i++)
        {
            if (i > 0)
            {
                sb.append(',');
            }
            final Object f = fields.get(i);
            final String s = f == null ? "" : f.toString();
            if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0)
            {
                sb.append('"').append(s.replace("\"", "\"\"")).append('"');
            }
            else
            {
                sb.append(s);
            }
        }
        return sb.toString();
    }

    /** @return the fields of one CSV line. @throws IllegalArgumentException on an unterminated quoted field. */
    public static List<String> parseLine(final String line)
    {
        final List<String> out = new ArrayList<>();
        final StringBuilder f = new StringBuilder();
        boolean quoted = false;
        int i = 0;
        while (i < line.length())
        {
            final char c = line.charAt(i++);
            if (quoted)
            {
                if (c == '"')
                {
                    if (i < line.length() && line.charAt(i) == '"')
                    {
                        f.append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    f.append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                out.add(f.toString());
                f.setLength(0);
            }
            else
            {
                f.append(c);
            }
        }
        if (quoted)
        {
            throw new IllegalArgumentException("CSV: unterminated quoted field in: " + line);
        }
        out.add(f.toString());
        return out;
    }
}
