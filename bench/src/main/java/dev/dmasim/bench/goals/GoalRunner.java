package dev.dmasim.bench.goals;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs the goals' benchmarks through JMH's {@link Runner} (one fork each, the GC profiler on) and collects the
 * results into {@link Measurements}. Two runs: the timed benchmarks (all ratios come from this one run), then
 * the single-shot worst-case allocation with its own iteration count.
 */
public final class GoalRunner
{
    /** Regexes of the timed benchmarks the goals read. */
    public static final String[] TIMED = {
        "\\.IovaBaselineBench\\.", "\\.IovaRcacheBench\\.", "\\.CopyBaselineBench\\.", "\\.SwiotlbBench\\.",
        "\\.SwiotlbAreasBench\\.", "\\.SgBench\\.", "\\.LazyStrictBench\\.", "\\.DirectMapBench\\.",
        "\\.IommuMapBench\\.", "\\.TranslateBench\\.", "\\.IovaTreeBench\\.",
    };
    /** Regex of the single-shot benchmark. */
    public static final String SINGLE_SHOT = "\\.IovaWorstCaseBench\\.";

    /** How long to run: warmup and measurement iterations and their length, single-shot iterations. */
    public record Plan(int warmups, TimeValue warmupTime, int iterations, TimeValue iterationTime, int singleShots)
    {
        /** About 5 minutes on 2 cores. */
        public static Plan full()
        {
            return new Plan(3, TimeValue.seconds(1), 5, TimeValue.seconds(1), 200);
        }

        /** About a minute: a smoke run, figures only indicative. */
        public static Plan quick()
        {
            return new Plan(1, TimeValue.milliseconds(200), 1, TimeValue.milliseconds(300), 30);
        }
    }

    private GoalRunner()
    {
    }

    /**
     * Runs everything the goals need.
     *
     * @param plan    iteration counts and lengths.
     * @param quick   run the tree benchmark at 10^6 live ranges only.
     * @param verbose JMH's own output on standard output.
     */
    public static Measurements run(final Plan plan, final boolean quick, final boolean verbose) throws RunnerException
    {
        final Measurements m = new Measurements();
        final ChainedOptionsBuilder timed = base(plan, verbose)
            .warmupIterations(plan.warmups()).warmupTime(plan.warmupTime())
            .measurementIterations(plan.iterations()).measurementTime(plan.iterationTime());
        for (final String regex : TIMED)
        {
            timed.include(regex);
        }
        if (quick)
        {
            timed.param("live", "1000000");
        }
        collect(new Runner(timed.build()).run(), m);
        final ChainedOptionsBuilder ss = base(plan, verbose).include(SINGLE_SHOT)
            .warmupIterations(plan.singleShots()).measurementIterations(plan.singleShots());
        collect(new Runner(ss.build()).run(), m);
        return m;
    }

    private static ChainedOptionsBuilder base(final Plan plan, final boolean verbose)
    {
        return new OptionsBuilder().forks(1).addProfiler(GCProfiler.class).shouldFailOnError(true)
            .verbosity(verbose ? VerboseMode.NORMAL : VerboseMode.SILENT);
    }

    /** Adds every result of a JMH run to {@code m}. */
    public static void collect(final Collection<RunResult> results, final Measurements m)
    {
        for (final RunResult r : results)
        {
            final BenchmarkParams p = r.getParams();
            final String bench = p.getBenchmark();
            final int dot = bench.lastIndexOf('.');
            final String cls = bench.substring(bench.lastIndexOf('.', dot - 1) + 1, dot);
            final String label = bench.substring(dot + 1);
            final Map<String, String> params = new TreeMap<>();
            for (final String k : p.getParamsKeys())
            {
                params.put(k, p.getParam(k));
            }
            final Result<?> primary = r.getPrimaryResult();
            final Map<String, Double> secondaries = new TreeMap<>();
            r.getSecondaryResults().forEach((k, v) -> secondaries.put(k.replace("\u00b7", ""), v.getScore()));
            m.put(Measurements.key(cls, label, params),
                new Score(primary.getScore(), primary.getScoreError(), primary.getScoreUnit()), secondaries);
        }
    }
}
