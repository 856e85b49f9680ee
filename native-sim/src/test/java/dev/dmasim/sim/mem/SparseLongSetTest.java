package dev.dmasim.sim.mem;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

class SparseLongSetTest
{
    /** Random add/remove/contains/first against a TreeSet, keys from several magnitudes (dense and sparse). */
    @ParameterizedTest
    @ValueSource(longs = { 1, 17, 4242 })
    void shouldMatchTreeSet(final long seed)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final SparseLongSet set = new SparseLongSet();
        final TreeSet<Long> model = new TreeSet<>();
        for (int step = 0; step < 40_000; step++)
        {
            final long key = switch (rnd.nextInt(4))
            {
                case 0 -> rnd.nextLong(200);
                case 1 -> rnd.nextLong(1L << 20);
                case 2 -> rnd.nextLong(Long.MAX_VALUE);
                default -> model.isEmpty() ? 5 : model.first();
            };
            final String where = "seed " + seed + " step " + step + " key " + key;
            if (rnd.nextInt(100) < 55)
            {
                assertThat(set.add(key)).as(where).isEqualTo(model.add(key));
            }
            else
            {
                assertThat(set.remove(key)).as(where).isEqualTo(model.remove(key));
            }
            assertThat(set.contains(key)).as(where).isEqualTo(model.contains(key));
            assertThat(set.size()).as(where).isEqualTo(model.size());
            assertThat(set.first()).as(where).isEqualTo(model.isEmpty() ? -1 : model.first());
        }
        final List<Long> visited = new ArrayList<>();
        set.forEach(visited::add);
        assertThat(visited).as("seed %d", seed).containsExactlyElementsOf(model);
        for (final long k : new ArrayList<>(model))
        {
            assertThat(set.remove(k)).isTrue();
        }
        assertThat(set.isEmpty()).isTrue();
        assertThat(set.first()).isEqualTo(-1);
        assertThat(set.contains(0)).isFalse();
    }

    @Test
    void shouldHandleExtremeKeys()
    {
        final SparseLongSet set = new SparseLongSet();
        assertThat(set.add(Long.MAX_VALUE)).isTrue();
        assertThat(set.add(0)).isTrue();
        assertThat(set.first()).isEqualTo(0);
        assertThat(set.remove(0)).isTrue();
        assertThat(set.first()).isEqualTo(Long.MAX_VALUE);
        assertThat(set.contains(-1)).isFalse();
        assertThat(set.remove(Long.MAX_VALUE)).isTrue();
        assertThat(set.isEmpty()).isTrue();
    }
}
