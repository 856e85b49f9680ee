package dev.dmasim.bench.cli;

/** Entry point of the {@code dmasim} command line. */
public final class Main
{
    private Main()
    {
    }

    public static void main(final String[] args)
    {
        System.out.println("dmasim");
    }
}
