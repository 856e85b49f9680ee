package dev.dmasim.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

import java.io.PrintWriter;

/**
 * How {@code dmasim} reports failures: bad usage is one line {@code dmasim CMD: message} plus
 * {@code Try 'dmasim CMD --help'} on standard error and exit code {@link #USAGE} (2); an unexpected failure while
 * running is one line {@code dmasim CMD: error: message} and exit code {@link #FAILED} (1).
 */
public final class CliErrors implements IParameterExceptionHandler, IExecutionExceptionHandler
{
    /** Exit code: success. */
    public static final int OK = 0;
    /** Exit code: a run or verification failed. */
    public static final int FAILED = 1;
    /** Exit code: bad usage. */
    public static final int USAGE = 2;

    @Override
    public int handleParseException(final ParameterException ex, final String[] args)
    {
        final CommandLine cmd = ex.getCommandLine();
        usage(cmd, ex.getMessage());
        return USAGE;
    }

    @Override
    public int handleExecutionException(final Exception ex, final CommandLine cmd, final ParseResult parseResult)
    {
        if (ex instanceof ParameterException pe)
        {
            usage(pe.getCommandLine(), pe.getMessage());
            return USAGE;
        }
        final PrintWriter err = cmd.getErr();
        String msg = ex.getMessage();
        if (msg == null || msg.isBlank())
        {
            msg = ex.toString();
        }
        err.println(cmd.getCommandSpec().qualifiedName() + ": error: " + msg.strip());
        if (Boolean.getBoolean("dmasim.trace"))
        {
            ex.printStackTrace(err);
        }
        err.flush();
        return FAILED;
    }

    /** Prints the two usage-error lines for {@code cmd} on its error stream. */
    public static void usage(final CommandLine cmd, final String message)
    {
        final PrintWriter err = cmd.getErr();
        final String name = cmd.getCommandSpec().qualifiedName();
        err.println(name + ": " + firstLine(message));
        err.println("Try '" + name + " --help'");
        err.flush();
    }

    private static String firstLine(final String s)
    {
        if (s == null)
        {
            return "bad usage";
        }
        final String t = s.strip();
        final int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl).strip();
    }
}
