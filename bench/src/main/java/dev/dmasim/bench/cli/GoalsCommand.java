package dev.dmasim.bench.cli;

import dev.dmasim.bench.goals.GoalEvaluator;
import dev.dmasim.bench.goals.GoalReport;
import dev.dmasim.bench.goals.GoalResult;
import dev.dmasim.bench.goals.GoalRunner;
import dev.dmasim.bench.goals.Measurements;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code dmasim goals}: runs the JMH subset the performance goals are measured on and prints one line per goal
 * (name, measured, target, MET/MISSED). Exit code 0 when every goal is met, 1 when one is missed.
 */
@Command(name = "goals", mixinStandardHelpOptions = true,
    description = { "Measure dmasim's performance goals with JMH and print MET/MISSED per goal.", "",
        "Runs the JMH benchmarks behind dmasim's performance goals (forks 1, GC profiler on) and prints",
        "one line per goal: name, measured, target, MET/MISSED. About 5 minutes; --quick about 1 minute." })
public final class GoalsCommand implements Callable<Integer>
{
    @Option(names = "--quick", description = "a ~1-minute smoke run (short iterations; figures are indicative only)")
    boolean quick;

    @Option(names = "--json", description = "print the goals and every benchmark score as JSON instead of lines")
    boolean json;

    @Option(names = { "-o", "--output" }, paramLabel = "FILE", description = "also write the JSON report to FILE")
    Path output;

    @Option(names = { "-v", "--verbose" }, description = "show JMH's own progress output")
    boolean verbose;

    @Override
    public Integer call() throws Exception
    {
        final PrintStream out = System.out;
        if (!json)
        {
            out.println("dmasim goals: running " + (quick ? "a quick smoke run (~1 min)" : "the goal benchmarks (~5 min)")
                + " on " + machine());
        }
        final Measurements m = GoalRunner.run(quick ? GoalRunner.Plan.quick() : GoalRunner.Plan.full(), quick, verbose);
        final List<GoalResult> goals = GoalEvaluator.evaluate(m);
        final List<GoalResult> context = GoalEvaluator.context(m);
        final String report = GoalReport.json(goals, context, m, machine());
        if (json)
        {
            out.println(report);
        }
        else
        {
            for (final GoalResult g : goals)
            {
                out.println(GoalReport.line(g));
            }
            final long met = goals.stream().filter(GoalResult::met).count();
            out.println(met + " of " + goals.size() + " goals met");
            out.println("context (not goals):");
            for (final GoalResult g : context)
            {
                out.println(GoalReport.line(g));
            }
        }
        if (output != null)
        {
            writeReport(output, report);
        }
        return goals.stream().allMatch(GoalResult::met) ? 0 : 1;
    }

    private static void writeReport(final Path file, final String report) throws IOException
    {
        final Path parent = file.toAbsolutePath().getParent();
        if (parent != null)
        {
            Files.createDirectories(parent);
        }
        Files.writeString(file, report + "\n", StandardCharsets.UTF_8);
    }

    private static String machine()
    {
        return Runtime.getRuntime().availableProcessors() + " CPUs, " + System.getProperty("java.vm.name") + " "
            + System.getProperty("java.vm.version") + ", " + System.getProperty("os.name") + " "
            + System.getProperty("os.arch");
    }
}
