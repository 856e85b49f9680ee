package dev.dmasim.engine.iova;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Node visits per allocation under adversarial fragmentation stay within c * log2(n), where the kernel's walk
 * visits every one of the n ranges. Asserts on visit counts, never on time.
 */
class IovaSearchComplexityTest
{
    private static final long GRANULE = 4096;
    private static final long BASE = 1L << 24; // above 4 GiB: the 64-bit zone
    private static final long HOLE = 64;       // the only hole that fits, below every trap
    private static final double C = 8.0;

    /** Trap patterns: every range leaves holes that look usable to a plain max-gap search, or are just too small. */
    enum Pattern
    {
        /** every other pfn allocated: 1-pfn holes; request 2 pfns aligned. */
        EVERY_OTHER(2, 2, true),
        /** ranges at 4i and 4i+3: 2-pfn holes never 2-aligned; request 2 pfns aligned. */
        MISALIGNED_PAIRS(4, 2, true),
        /** ranges at 4i: 3-pfn holes; request 3 pfns aligned to 4 (a non-power-of-two size). */
        THREE_IN_FOUR(4, 3, true),
        /** every other pfn allocated; request 2 pfns unaligned. */
        UNALIGNED(2, 2, false);

        final int period;
        final long request;
        final boolean aligned;

        Pattern(final int period, final long request, final boolean aligned)
        {
            this.period = period;
            this.request = request;
            this.aligned = aligned;
        }
    }

    @Test
    void shouldVisitLogarithmicallyManyNodesWhateverTheFragmentation()
    {
        final int[] sizes = { 1, 1_000, 100_000, 1_000_000 };
        final StringBuilder report = new StringBuilder("visits per allocation (search+insert):");
        for (final Pattern pattern : Pattern.values())
        {
            report.append("\n  ").append(pattern).append(':');
            for (final int n : sizes)
            {
                if (n == 1_000_000 && pattern != Pattern.MISALIGNED_PAIRS && pattern != Pattern.EVERY_OTHER)
                {
                    continue; // keep the test short: the two hardest traps at 10^6
                }
                final IovaDomain domain = new IovaDomain(GRANULE, 1, 2);
                final long top = build(domain, pattern, n);
                final long before = domain.nodeVisits();
                final long pfn = domain.allocIova(pattern.request, top, pattern.aligned);
                final long visits = domain.nodeVisits() - before;
                report.append(String.format(" n=%d:%d", n, visits));
                assertThat(pfn).as("%s n=%d lands in the only hole", pattern, n)
                    .isBetween(BASE - HOLE, BASE - pattern.request);
                final double bound = C * Math.log(Math.max(n, 16)) / Math.log(2);
                assertThat((double)visits).as("%s n=%d visits <= %.1f * log2(n)", pattern, n, C).isLessThanOrEqualTo(bound);
                if (n == 1_000_000)
                {
                    final double bytes = domain.bytesPerLiveIova();
                    report.append(String.format(" (%.1f bytes/live IOVA)", bytes));
                    assertThat(bytes).isLessThan(2.0 * IovaDomain.treeBytesPerNode());
                }
            }
        }
        System.out.println(report);
    }

    /** Fills [BASE, BASE + period * n) with the pattern's ranges and reserves everything below the hole. */
    private static long build(final IovaDomain domain, final Pattern pattern, final int n)
    {
        assertThat(domain.reserveIova(1, BASE - HOLE - 1)).isTrue();
        long pfn = BASE;
        long last = BASE;
        int ranges = 0;
        while (ranges < n)
        {
            assertThat(domain.reserveIova(pfn, pfn)).isTrue();
            last = pfn;
            ranges++;
            if (pattern == Pattern.MISALIGNED_PAIRS && ranges < n)
            {
                assertThat(domain.reserveIova(pfn + 3, pfn + 3)).isTrue();
                last = pfn + 3;
                ranges++;
            }
            pfn += pattern.period;
        }
        assertThat(domain.liveRanges()).isEqualTo(n + 1);
        return last; // the limit: the highest range itself, so no hole above the traps is usable
    }
}
