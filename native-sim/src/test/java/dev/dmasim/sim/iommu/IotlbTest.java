package dev.dmasim.sim.iommu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IotlbTest
{
    private static long word(final long physPage)
    {
        return PteDescriptor.leaf(physPage << 12, PteDescriptor.READ, 3);
    }

    @Test
    void shouldHitAfterFillAndCountHitsAndMisses()
    {
        final Iotlb tlb = new Iotlb(16, 2);
        assertThat(tlb.lookup(1, 100)).isEqualTo(Iotlb.MISS);
        tlb.fill(1, 100, word(7));
        assertThat(tlb.lookup(1, 100)).isEqualTo(word(7));
        assertThat(tlb.lookup(2, 100)).as("other domain").isEqualTo(Iotlb.MISS);
        assertThat(tlb.lookup(1, 101)).as("other page").isEqualTo(Iotlb.MISS);
        assertThat(tlb.hits()).isEqualTo(1);
        assertThat(tlb.misses()).isEqualTo(3);
        tlb.fill(1, 100, word(8));
        assertThat(tlb.peek(1, 100)).as("same tag replaced in place").isEqualTo(word(8));
        assertThat(tlb.occupancy()).isEqualTo(1);
    }

    @Test
    void shouldEvictRoundRobinWithinASet()
    {
        final int sets = 16;
        final Iotlb tlb = new Iotlb(sets, 2);
        // pfn and pfn + sets fall into the same set of one domain
        tlb.fill(3, 5, word(1));
        tlb.fill(3, 5 + sets, word(2));
        tlb.fill(3, 5 + 2 * sets, word(3)); // evicts way 0 (pfn 5)
        assertThat(tlb.peek(3, 5)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(3, 5 + sets)).isEqualTo(word(2));
        tlb.fill(3, 5 + 3 * sets, word(4)); // evicts way 1
        assertThat(tlb.peek(3, 5 + sets)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(3, 5 + 2 * sets)).isEqualTo(word(3));
        assertThat(tlb.peek(3, 5 + 3 * sets)).isEqualTo(word(4));
    }

    @Test
    void shouldInvalidateRangeDomainAndAllAndCountThem()
    {
        final Iotlb tlb = new Iotlb(64, 4);
        for (long p = 0; p < 32; p++)
        {
            tlb.fill(1, 1000 + p, word(p));
            tlb.fill(2, 1000 + p, word(p));
        }
        assertThat(tlb.invalidateRange(1, 1010L << 12, 4L << 12)).isEqualTo(4);
        assertThat(tlb.peek(1, 1009)).isNotEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(1, 1010)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(1, 1013)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(1, 1014)).isNotEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(2, 1010)).as("other domain untouched").isNotEqualTo(Iotlb.MISS);
        // a sub-page range rounds out to the page
        assertThat(tlb.invalidateRange(1, (1020L << 12) + 100, 1)).isEqualTo(1);
        // a huge range takes the full-scan path
        assertThat(tlb.invalidateRange(2, 0, 1L << 40)).isEqualTo(32);
        assertThat(tlb.occupancy()).isEqualTo(32 - 5);
        assertThat(tlb.invalidateDomain(1)).isEqualTo(27);
        tlb.fill(5, 1, word(1));
        tlb.fill(6, 1, word(1));
        assertThat(tlb.invalidateAll()).isEqualTo(2);
        assertThat(tlb.occupancy()).isZero();
        assertThat(tlb.invalidationCommands()).isEqualTo(5);
        assertThat(tlb.entriesInvalidated()).isEqualTo(4 + 1 + 32 + 27 + 2);
    }

    @Test
    void shouldKeepStaleEntriesTranslatingAndCountStaleHits()
    {
        final Iotlb tlb = new Iotlb(64, 4);
        tlb.fill(1, 50, word(9));
        tlb.fill(1, 51, word(10));
        assertThat(tlb.markStale(1, 50L << 12, 4096)).isEqualTo(1);
        final long v = tlb.lookup(1, 50);
        assertThat(v).isNotEqualTo(Iotlb.MISS);
        assertThat(PteDescriptor.outputAddress(v)).as("stale entry still translates").isEqualTo(9L << 12);
        assertThat(v & PteDescriptor.STALE).isNotZero();
        assertThat(tlb.lookup(1, 51) & PteDescriptor.STALE).isZero();
        assertThat(tlb.staleHits()).isEqualTo(1);
        assertThat(tlb.invalidationCommands()).as("marking stale is not an invalidation").isZero();
        // after invalidation a new translation of the same page is fresh, not stale
        tlb.invalidateRange(1, 50L << 12, 4096);
        tlb.fill(1, 50, word(11));
        assertThat(tlb.lookup(1, 50)).isEqualTo(word(11));
        assertThat(tlb.staleHits()).isEqualTo(1);
    }

    @Test
    void shouldAbandonAFillWhenTheSetChangedSinceTheToken()
    {
        final Iotlb tlb = new Iotlb(16, 2);
        final long token = tlb.fillToken(1, 7);
        tlb.invalidateRange(1, 7L << 12, 4096); // the unmap/invalidate that raced with the walk
        assertThat(tlb.fillIfUnchanged(1, 7, word(1), token)).isFalse();
        assertThat(tlb.peek(1, 7)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.fillsAbandoned()).isEqualTo(1);
        final long fresh = tlb.fillToken(1, 7);
        assertThat(tlb.fillIfUnchanged(1, 7, word(1), fresh)).isTrue();
        assertThat(tlb.peek(1, 7)).isEqualTo(word(1));
    }

    /** The range path (2+ pages): one generation step abandons a pre-range fill; cached pages are still marked. */
    @Test
    void shouldAbandonAFillAndMarkCachedPagesWhenARangeIsMarkedOrInvalidated()
    {
        final Iotlb tlb = new Iotlb(16, 2);
        tlb.fill(1, 7, word(1));
        tlb.fill(1, 8, word(2));
        final long token = tlb.fillToken(1, 9); // a walk of page 9 starts
        assertThat(tlb.markStale(1, 7L << 12, 3 * 4096)).isEqualTo(2);
        assertThat(tlb.peek(1, 7) & PteDescriptor.STALE).isNotZero();
        assertThat(tlb.peek(1, 8) & PteDescriptor.STALE).isNotZero();
        assertThat(tlb.fillIfUnchanged(1, 9, word(3), token)).as("walk predates the range marking").isFalse();
        assertThat(tlb.peek(1, 9)).isEqualTo(Iotlb.MISS);
        final long fresh = tlb.fillToken(1, 9);
        assertThat(tlb.fillIfUnchanged(1, 9, word(3), fresh)).isTrue();
        final long tokenAgain = tlb.fillToken(1, 10);
        assertThat(tlb.invalidateRange(1, 8L << 12, 3 * 4096)).isEqualTo(2); // pages 8 and 9
        assertThat(tlb.peek(1, 8)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(1, 9)).isEqualTo(Iotlb.MISS);
        assertThat(tlb.peek(1, 7) & PteDescriptor.STALE).as("outside the range: untouched").isNotZero();
        assertThat(tlb.fillIfUnchanged(1, 10, word(4), tokenAgain)).isFalse();
        assertThat(tlb.fillsAbandoned()).isEqualTo(2);
        assertThat(tlb.invalidationCommands()).isEqualTo(1);
    }

    /** Evictions and invalidations keep each set's tag filter exact enough: a range never misses a cached page. */
    @Test
    void rangeMarkingShouldFindEveryCachedPageAfterEvictions()
    {
        final Iotlb tlb = new Iotlb(4, 2);
        final SplittableRandom rnd = new SplittableRandom(5);
        for (int op = 0; op < 20_000; op++)
        {
            final long pfn = rnd.nextInt(64);
            switch (rnd.nextInt(3))
            {
                case 0 -> tlb.fill(1, pfn, word(pfn + 100));
                case 1 -> tlb.invalidateRange(1, pfn << 12, (1 + rnd.nextInt(3)) * 4096L);
                default ->
                {
                    final int n = 2 + rnd.nextInt(4);
                    long cached = 0;
                    for (long p = pfn; p < pfn + n; p++)
                    {
                        final long v = tlb.peek(1, p);
                        cached += v != Iotlb.MISS && (v & PteDescriptor.STALE) == 0 ? 1 : 0;
                    }
                    final long before = cached;
                    tlb.markStale(1, pfn << 12, n * 4096L);
                    for (long p = pfn; p < pfn + n; p++)
                    {
                        final long v = tlb.peek(1, p);
                        assertThat(v == Iotlb.MISS || (v & PteDescriptor.STALE) != 0)
                            .as("op %d: page %d left fresh by a range marking (%d were fresh)", op, p, before)
                            .isTrue();
                    }
                }
            }
        }
    }

    @Test
    void shouldRejectBadGeometry()
    {
        assertThatThrownBy(() -> new Iotlb(3, 2)).hasMessageContaining("power of two");
        assertThatThrownBy(() -> new Iotlb(16, 0)).hasMessageContaining("ways");
        assertThatThrownBy(() -> new Iotlb(16, 2).fill(1, 1, -5)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Seqlock stress, bounded by iterations: one thread fills (value derived from the pfn) and invalidates, the other
     * looks up. A torn read would pair one page's tag with another page's value, which the reader detects. A tiny
     * IOTLB (1 set, 2 ways) keeps every write in the reader's set.
     */
    @ParameterizedTest
    @ValueSource(longs = { 11, 2027 })
    void shouldNeverReturnATranslationForTheWrongPageUnderConcurrentFillAndInvalidate(final long seed)
        throws InterruptedException
    {
        final Iotlb tlb = new Iotlb(1, 2);
        final int iterations = 300_000;
        final AtomicReference<String> failure = new AtomicReference<>();
        // both start together and the reader runs until the writer is done, so the two really overlap even when
        // the scheduler starts one long after the other on a loaded machine
        final CyclicBarrier start = new CyclicBarrier(2);
        final AtomicBoolean writerDone = new AtomicBoolean();
        final AtomicLong lookups = new AtomicLong();
        final Thread writer = new Thread(() ->
        {
            final SplittableRandom rnd = new SplittableRandom(seed);
            await(start);
            for (int i = 0; i < iterations && failure.get() == null; i++)
            {
                final long pfn = rnd.nextInt(8);
                switch (rnd.nextInt(4))
                {
                    case 0 -> tlb.invalidateRange(1, pfn << 12, 4096);
                    case 1 -> tlb.markStale(1, pfn << 12, 4096);
                    default -> tlb.fill(1, pfn, word(pfn * 1_000_003L + 17));
                }
            }
            writerDone.set(true);
        });
        final Thread reader = new Thread(() ->
        {
            final SplittableRandom rnd = new SplittableRandom(~seed);
            long hits = 0;
            await(start);
            for (int i = 0; (i < iterations || !writerDone.get()) && failure.get() == null; i++)
            {
                lookups.incrementAndGet();
                final long pfn = rnd.nextInt(8);
                final long v = tlb.lookup(1, pfn);
                if (v != Iotlb.MISS)
                {
                    hits++;
                    if (PteDescriptor.outputAddress(v) != (pfn * 1_000_003L + 17) << 12)
                    {
                        failure.set("seed=" + seed + " iteration " + i + ": pfn " + pfn + " got " +
                            PteDescriptor.toString(v));
                    }
                }
            }
            if (hits == 0)
            {
                failure.compareAndSet(null, "seed=" + seed + ": reader never hit; the test exercised nothing");
            }
        });
        writer.start();
        reader.start();
        writer.join(20_000);
        reader.join(20_000);
        assertThat(failure.get()).isNull();
        assertThat(tlb.hits() + tlb.misses()).isEqualTo(lookups.get());
    }

    private static void await(final CyclicBarrier barrier)
    {
        try
        {
            barrier.await(20, TimeUnit.SECONDS);
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
