package dev.dmasim.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code dmasim} command line (minimal; the cli branch owns the full version). */
@Command(name = "dmasim", mixinStandardHelpOptions = true, description = "Simulates the Linux DMA-mapping layer.",
    subcommands = { GoalsCommand.class })
public final class Main implements Runnable
{
    @Override
    public void run()
    {
        new CommandLine(this).usage(System.out);
    }

    public static void main(final String[] args)
    {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
