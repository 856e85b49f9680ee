package dev.dmasim.bench.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the {@code dmasim} command line in-process with captured standard output and error. */
final class Cli
{
    /** What a run printed and returned. */
    record Result(int code, String out, String err)
    {
        @Override
        public String toString()
        {
            return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private Cli()
    {
    }

    static Result run(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
        return new Result(code, out.toString(), err.toString());
    }
}
