package dev.dmasim.bench.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code dmasim} command line. */
@Command(name = "dmasim", mixinStandardHelpOptions = true, subcommands = { StressCommand.class },
    description = "Simulates the Linux DMA-mapping layer on simulated hardware.")
public final class Main implements Runnable
{
    public static void main(final String[] args)
    {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run()
    {
        System.out.println("dmasim");
    }
}
