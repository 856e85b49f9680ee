package dev.dmasim.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code dmasim} command line. */
@Command(name = "dmasim", mixinStandardHelpOptions = true,
    subcommands = {
        ExampleCommand.class,
    })
public final class Main implements Runnable
{
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(final String[] args)
    {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run()
    {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
