package dev.dmasim.bench.jmh;

import dev.dmasim.bench.goals.GoalEvaluator;
import dev.dmasim.bench.goals.GoalReport;
import dev.dmasim.bench.goals.GoalResult;
import dev.dmasim.bench.goals.Measurements;
import dev.dmasim.bench.goals.Score;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.dmasim.bench.goals.GoalEvaluator.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The goal arithmetic, on made-up measurements: ratios, unit conversions, thresholds, missing benchmarks. */
class GoalEvaluatorTest
{
    private static final Map<String, Double> ZERO_GC = Map.of("gc.alloc.rate.norm", 0.01);

    private static Score ns(final double v)
    {
        return new Score(v, 0.1, "ns/op");
    }

    private static Score opsPerUs(final double v)
    {
        return new Score(v, 0.1, "ops/us");
    }

    /** Every benchmark at a value that meets its goal. */
    private static Measurements allMet()
    {
        final Measurements m = new Measurements();
        m.put(BASELINE_IOVA, ns(100), Map.of("gc.alloc.rate.norm", 88.0)); // the baseline may allocate
        m.put(RCACHE_1T, opsPerUs(100), ZERO_GC);                         // 10 ns per pair
        m.put(RCACHE_2T, opsPerUs(195), ZERO_GC);                         // 1.95x
        final double[] raw = { 15, 40, 1200 };
        final double[] bounce = { 24, 52, 1300 };
        for (int i = 0; i < SIZES.length; i++)
        {
            m.put(raw(SIZES[i]), ns(raw[i]), ZERO_GC);
            m.put(swiotlb(SIZES[i]), ns(bounce[i]), ZERO_GC);
        }
        m.put(areas("percpu"), opsPerUs(20), ZERO_GC);
        m.put(areas("global"), opsPerUs(10), ZERO_GC);
        m.put(sg("lazy"), ns(400), ZERO_GC);
        m.put(single("lazy"), ns(2000), ZERO_GC);
        m.put(sg("strict"), ns(900), ZERO_GC);
        m.put(single("strict"), ns(9000), ZERO_GC);
        m.put(lazyStrict("lazy"), ns(120), Map.of("gc.alloc.rate.norm", 0.0, "iotlbInvalidations", 100.0,
            "unmaps", 25_500.0));
        m.put(lazyStrict("strict"), ns(700), Map.of("gc.alloc.rate.norm", 0.0, "iotlbInvalidations", 5000.0,
            "unmaps", 5000.0));
        m.put(DIRECT, ns(12), ZERO_GC);
        m.put(IOMMU_LAZY, ns(120), ZERO_GC);
        m.put(TRANSLATE, ns(9), ZERO_GC);
        m.put(tree(1_000), ns(50), ZERO_GC);
        m.put(tree(100_000), ns(70), ZERO_GC);
        m.put(tree(1_000_000), ns(90), ZERO_GC);
        m.put(WORST, new Score(2.5, 0.3, "us/op"), Map.of());
        return m;
    }

    private static GoalResult goal(final List<GoalResult> goals, final String id)
    {
        return goals.stream().filter(g -> g.id().equals(id)).findFirst().orElseThrow();
    }

    @Test
    void shouldMeetEveryGoalWhenEveryFigureIsWithinItsTarget()
    {
        final List<GoalResult> goals = GoalEvaluator.evaluate(allMet());
        assertThat(goals).extracting(GoalResult::id).containsExactly("1", "2", "3.1500B", "3.4KiB", "3.64KiB", "4",
            "5.lazy", "5.strict", "6", "6.strict-inv", "6.lazy-inv", "7.direct", "7.iommu", "7.translate", "8",
            "9.pair", "9.2threads", "9.tree", "9.worst");
        assertThat(goals).allSatisfy(g -> assertThat(g.status()).as(g.id()).isEqualTo("MET"));
        assertThat(goal(goals, "1").measured()).isCloseTo(10.0, within(1e-9));       // 100 ns vs 10 ns
        assertThat(goal(goals, "2").measured()).isCloseTo(1.95, within(1e-9));
        assertThat(goal(goals, "3.1500B").measured()).isCloseTo(15.0 / 24, within(1e-9));
        assertThat(goal(goals, "5.strict").measured()).isCloseTo(10.0, within(1e-9));
        assertThat(goal(goals, "6.lazy-inv").shown()).isEqualTo("1/255");
        assertThat(goal(goals, "9.pair").measured()).isCloseTo(10.0, within(1e-9));   // 1000 / 100 ops/us
        assertThat(goal(goals, "9.worst").measured()).isCloseTo(2.5, within(1e-9));   // us
        assertThat(goal(goals, "8").detail()).doesNotContain(BASELINE_IOVA);
    }

    @Test
    void shouldMissExactlyTheGoalsWhoseFiguresAreOutside()
    {
        final Measurements m = allMet();
        m.put(RCACHE_1T, opsPerUs(50), ZERO_GC);                  // 20 ns: misses 9.pair, 1 still 5x
        m.put(swiotlb(65536), ns(1400), ZERO_GC);                 // 1200/1400 = 0.857 < 0.90
        m.put(lazyStrict("lazy"), ns(300), Map.of("iotlbInvalidations", 300.0, "unmaps", 30_000.0)); // 1/100
        m.put(TRANSLATE, ns(9), Map.of("gc.alloc.rate.norm", 24.0));
        final List<GoalResult> goals = GoalEvaluator.evaluate(m);
        assertThat(goals.stream().filter(g -> !g.met()).map(GoalResult::id))
            .containsExactlyInAnyOrder("3.64KiB", "6", "6.lazy-inv", "8", "9.pair"); // 2 threads: 195 vs 50 ops/us
        assertThat(goal(goals, "8").detail()).contains(TRANSLATE);
        assertThat(goal(goals, "1").met()).isTrue();
    }

    @Test
    void shouldReportNotRunWhenABenchmarkIsMissing()
    {
        final List<GoalResult> goals = GoalEvaluator.evaluate(new Measurements());
        assertThat(goals).allSatisfy(g ->
        {
            assertThat(g.status()).isEqualTo("NOT RUN");
            assertThat(g.met()).isFalse();
            assertThat(g.shown()).isEqualTo("n/a");
        });
    }

    @Test
    void shouldConvertUnits()
    {
        assertThat(new Score(2, 0, "us/op").nsPerOp()).isEqualTo(2000.0);
        assertThat(new Score(4, 0, "ops/us").nsPerOp()).isEqualTo(250.0);
        assertThat(new Score(250, 0, "ns/op").opsPerUs()).isEqualTo(4.0);
        assertThat(new Score(1e6, 0, "ops/s").nsPerOp()).isEqualTo(1000.0);
    }

    @Test
    void shouldFormatOneLinePerGoalAndValidJsonStrings()
    {
        final List<GoalResult> goals = GoalEvaluator.evaluate(allMet());
        final String line = GoalReport.line(goal(goals, "7.direct"));
        assertThat(line).startsWith("7.direct").contains("12.0 ns").contains("target <= 15 ns").endsWith("MET")
            .doesNotContain("\n");
        final String json = GoalReport.json(goals, allMet(), "2 \"CPUs\"");
        assertThat(json).contains("\"machine\": \"2 \\\"CPUs\\\"\"").contains("\"id\": \"9.worst\"")
            .contains("\"status\": \"MET\"").contains("\"IovaRcacheBench.rcacheAllocFree2T\": {\"score\": 195.0");
    }

    @Test
    void shouldGiveTheSlotWalkContextWithoutCountingItAsAGoal()
    {
        final Measurements m = allMet();
        m.put(rawWalk(1500), ns(180), ZERO_GC);
        m.put(rawWalk(4096), ns(200), ZERO_GC);          // no 64 KiB walk measured
        m.put(swiotlb(1500), ns(240), ZERO_GC);
        final List<GoalResult> context = GoalEvaluator.context(m);
        assertThat(context).extracting(GoalResult::id).containsExactly("3.1500B.walk", "3.4KiB.walk", "3.64KiB.walk");
        assertThat(context.get(0).measured()).isCloseTo(0.75, within(1e-9));        // 180 / 240
        assertThat(context.get(0).status()).isEqualTo("INFO");
        assertThat(context.get(1).measured()).isCloseTo(200.0 / 52, within(1e-9));
        assertThat(context.get(2).status()).isEqualTo("NOT RUN");
        assertThat(GoalEvaluator.evaluate(m)).noneMatch(GoalResult::info);
        assertThat(GoalReport.json(GoalEvaluator.evaluate(m), context, m, "x"))
            .contains("\"context\": [").contains("\"id\": \"3.1500B.walk\"").contains("\"status\": \"INFO\"");
    }
}
