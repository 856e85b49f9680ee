package dev.dmasim.engine.trace;

import dev.dmasim.engine.IommuMode;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Seeded mutations of valid lines (dmasim's own trace and the real kernel sample): the parser never throws, the
 * replay never throws, and every replay error carries the line number of its event. The seed is in every message;
 * rerun with -Ddmasim.fuzz.seed=N.
 */
class TraceFuzzTest
{
    private static final int LINES = 3000;

    @Test
    void mutatedTracesNeverThrowOutOfReplay() throws Exception
    {
        final long seed = Long.getLong("dmasim.fuzz.seed", System.nanoTime());
        final SplittableRandom rnd = new SplittableRandom(seed);
        final List<String> valid = new ArrayList<>();
        for (final String l : TraceRoundTripTest.workload(IommuMode.STRICT).split("\n"))
        {
            if (!l.startsWith("#"))
            {
                valid.add(l);
            }
        }
        final List<String> kernel = Files.readAllLines(
            KernelTraceReplayReportTest.sample("linux-6.1-nvme-vtd-strict-1cpu.trace"));
        valid.addAll(kernel.subList(12, 400));
        for (final IommuMode mode : new IommuMode[] { IommuMode.NONE, IommuMode.STRICT })
        {
            final StringBuilder sb = new StringBuilder(LINES * 120);
            for (int i = 0; i < LINES; i++)
            {
                final String line = valid.get(rnd.nextInt(valid.size()));
                sb.append(rnd.nextInt(4) == 0 ? line : mutate(line, rnd)).append('\n');
            }
            final String text = sb.toString();
            final TraceParser.Parsed parsed;
            try
            {
                parsed = TraceParser.parse(text);
            }
            catch (final RuntimeException ex)
            {
                throw new AssertionError("parser threw, seed " + seed, ex);
            }
            assertThat(parsed.events().size() + parsed.malformed().size()).as("seed %d", seed).isPositive();
            final ReplayReport r;
            try
            {
                r = TraceReplay.replay("fuzz", parsed, TraceReplay.Options.defaults().iommu(mode).cpus(2).debug(true));
            }
            catch (final RuntimeException | AssertionError ex)
            {
                throw new AssertionError("replay threw, seed " + seed + ", mode " + mode, ex);
            }
            assertThat(r.errors()).as("seed %d: errors carry line numbers", seed)
                .allSatisfy(f -> assertThat(f.line()).isBetween(0, LINES));
            assertThat(r.toJson()).as("seed %d", seed).startsWith("{");
            assertThat(r.toText()).as("seed %d", seed).contains("replayed");
        }
    }

    private static String mutate(final String line, final SplittableRandom rnd)
    {
        final StringBuilder sb = new StringBuilder(line);
        final int edits = 1 + rnd.nextInt(3);
        for (int k = 0; k < edits && !sb.isEmpty(); k++)
        {
            final int at = rnd.nextInt(sb.length());
            switch (rnd.nextInt(9))
            {
                case 0 -> sb.deleteCharAt(at);
                case 1 -> sb.insert(at, "0123456789abcdefx ={},-:|[]".charAt(rnd.nextInt(27)));
                case 2 -> sb.setLength(at);                                          // cut the line
                case 3 -> sb.setCharAt(at, Character.isDigit(sb.charAt(at)) ? 'f' : '9');
                case 4 -> sb.insert(at, "ffffffffffffffff");                          // huge numbers
                case 5 -> sb.insert(at, " size=0 ");
                case 6 -> sb.replace(at, Math.min(sb.length(), at + 8), "");
                case 7 ->
                {
                    final int from = rnd.nextInt(sb.length());
                    sb.insert(at, sb.substring(from, Math.min(sb.length(), from + 20))); // duplicate a piece
                }
                default -> sb.insert(at, "-" + rnd.nextLong());
            }
        }
        return sb.toString();
    }
}
