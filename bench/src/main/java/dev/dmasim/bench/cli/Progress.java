package dev.dmasim.bench.cli;

import java.io.Console;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * A one-line progress bar on standard error, redrawn in place with {@code \r}, shown only when the JVM runs in a
 * terminal ({@link System#console()} is a terminal) so that CI logs and captured output stay clean. Not thread-safe:
 * one controlling thread draws.
 */
public final class Progress
{
    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final boolean live;
    private int lastLength;

    /** @param err where to draw; @param live true to draw (see {@link #isTerminal()}). */
    public Progress(final PrintWriter err, final boolean live)
    {
        this.err = err;
        this.live = live;
    }

    /** @return true if standard input/output are a terminal, so a live bar can be drawn on standard error. */
    public static boolean isTerminal()
    {
        final Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** @return true if this bar draws. */
    public boolean live()
    {
        return live;
    }

    /** Redraws the bar at {@code fraction} (0..1) followed by {@code label}. */
    public void draw(final double fraction, final String label)
    {
        if (!live)
        {
            return;
        }
        final double f = Math.max(0.0, Math.min(1.0, fraction));
        final int filled = (int)Math.round(f * WIDTH);
        final String line = String.format(Locale.ROOT, "\r[%s%s] %3d%% %s", "#".repeat(filled),
            ".".repeat(WIDTH - filled), Math.round(f * 100), label);
        final int pad = Math.max(0, lastLength - line.length());
        err.print(line + " ".repeat(pad));
        err.flush();
        lastLength = line.length();
    }

    /** Erases the bar, leaving the cursor at the start of an empty line. */
    public void clear()
    {
        if (live && lastLength > 0)
        {
            err.print("\r" + " ".repeat(lastLength) + "\r");
            err.flush();
            lastLength = 0;
        }
    }
}
