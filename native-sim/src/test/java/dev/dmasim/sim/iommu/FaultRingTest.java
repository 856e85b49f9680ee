package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class FaultRingTest
{
    @Test
    void shouldDeliverRecordsInOrderWithEveryField()
    {
        final FaultRing ring = new FaultRing(16);
        final long before = System.nanoTime();
        assertThat(ring.record(0x0300, 0xdead_b000L, 2, MemTx.PERMISSION_FAULT, 7)).isTrue();
        assertThat(ring.record(0x0301, 0x1000L, 1, MemTx.TRANSLATION_FAULT, 8)).isTrue();
        final List<long[]> got = new ArrayList<>();
        assertThat(ring.poll((rid, addr, access, reason, dom, ts) ->
            got.add(new long[] { rid, addr, access, reason, dom, ts }), 10)).isEqualTo(2);
        assertThat(got.get(0)).startsWith(0x0300, 0xdead_b000L, 2, MemTx.PERMISSION_FAULT, 7);
        assertThat(got.get(1)).startsWith(0x0301, 0x1000L, 1, MemTx.TRANSLATION_FAULT, 8);
        assertThat(got.get(0)[5]).isBetween(before, System.nanoTime());
        assertThat(ring.count()).isEqualTo(2);
        assertThat(ring.pending()).isZero();
    }

    @Test
    void shouldDropAndCountWhenFullAndRecoverAfterPoll()
    {
        final FaultRing ring = new FaultRing(20);
        final int capacity = ring.capacityRecords();
        assertThat(capacity).isGreaterThanOrEqualTo(20);
        int accepted = 0;
        for (int i = 0; i < capacity + 10; i++)
        {
            if (ring.record(1, i * 4096L, 1, MemTx.TRANSLATION_FAULT, 1))
            {
                accepted++;
            }
        }
        assertThat(accepted).isEqualTo(capacity);
        assertThat(ring.dropped()).isEqualTo(10);
        assertThat(ring.count()).isEqualTo(capacity);
        final long[] next = { 0 };
        assertThat(ring.poll((rid, addr, access, reason, dom, ts) ->
        {
            assertThat(addr).isEqualTo(next[0] * 4096L);
            next[0]++;
        }, 5)).isEqualTo(5);
        assertThat(ring.record(1, 1, 1, MemTx.TRANSLATION_FAULT, 1)).isTrue();
        assertThat(ring.poll((rid, addr, access, reason, dom, ts) -> { }, Integer.MAX_VALUE))
            .isEqualTo(capacity - 5 + 1);
    }
}
