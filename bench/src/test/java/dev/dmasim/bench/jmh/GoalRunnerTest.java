package dev.dmasim.bench.jmh;

import dev.dmasim.bench.goals.GoalEvaluator;
import dev.dmasim.bench.goals.GoalReport;
import dev.dmasim.bench.goals.GoalResult;
import dev.dmasim.bench.goals.GoalRunner;
import dev.dmasim.bench.goals.Measurements;
import dev.dmasim.bench.goals.Score;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.util.Collection;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One tiny benchmark through JMH's Runner API (in-process, one 100 ms iteration), then the goals' result parsing
 * and line formatting on it. No assertion on timing.
 */
class GoalRunnerTest
{
    @Test
    void shouldParseARunnerResultIntoMeasurementsAndFormatAGoalLine() throws Exception
    {
        // A 100 ms in-process run measures nothing that matters: it must not fail because another JMH run
        // (a developer's benchmark) holds JMH's machine-wide /tmp/jmh.lock.
        System.setProperty("jmh.ignoreLock", "true");
        final Collection<RunResult> results = new Runner(new OptionsBuilder()
            .include("\\.QueueBaselineBench\\.arrayBlockingQueueOfferPoll$")
            .forks(0)
            .warmupIterations(0)
            .measurementIterations(1).measurementTime(TimeValue.milliseconds(100))
            .addProfiler(GCProfiler.class)
            .verbosity(VerboseMode.SILENT)
            .build()).run();
        assertThat(results).hasSize(1);

        final Measurements m = new Measurements();
        GoalRunner.collect(results, m);
        final String key = "QueueBaselineBench.arrayBlockingQueueOfferPoll";
        assertThat(m.scores()).containsOnlyKeys(key);
        final Score s = m.score(key);
        assertThat(s.unit()).isEqualTo("ns/op");
        assertThat(s.value()).isPositive();
        assertThat(s.nsPerOp()).isEqualTo(s.value());
        assertThat(m.secondaries(key)).containsKey("gc.alloc.rate.norm");

        // A goal computed from it: reuse the direct-map slot for the parsed score.
        final Measurements g = new Measurements().put(GoalEvaluator.DIRECT, s, m.secondaries(key));
        final GoalResult direct = GoalEvaluator.evaluate(g).stream()
            .filter(r -> r.id().equals("7.direct")).findFirst().orElseThrow();
        assertThat(direct.status()).isIn("MET", "MISSED");
        assertThat(GoalReport.line(direct)).matches("7\\.direct +dma-direct map\\+unmap, 1 thread +[0-9.]+ ns +"
            + "target <= 15 ns +(MET|MISSED)");
    }
}
