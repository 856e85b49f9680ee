package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.MemTx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IommuTest
{
    private static final long K4 = 4096;

    private final TestMachine m = TestMachine.small();

    @AfterEach
    void close()
    {
        m.close();
    }

    @Test
    void shouldAllocateDomainsWithUniqueIdsAndTablesOnlyForPagingTypes()
    {
        final Iommu iommu = new Iommu(m.memory, m.pages, null);
        final IommuDomain a = iommu.allocDomain(DomainType.DMA);
        final IommuDomain b = iommu.allocDomain(DomainType.DMA_FQ);
        final IommuDomain c = iommu.allocDomain(DomainType.IDENTITY);
        final IommuDomain d = iommu.allocDomain(DomainType.BLOCKED);
        assertThat(new int[] { a.id(), b.id(), c.id(), d.id() }).doesNotHaveDuplicates();
        assertThat(a.pageTable()).isNotNull();
        assertThat(b.pageTable()).isNotNull();
        assertThat(c.pageTable()).isNull();
        assertThat(d.pageTable()).isNull();
        assertThat(c.iovaToPhys(0x1234)).isEqualTo(0x1234);
        assertThat(d.iovaToPhys(0x1234)).isEqualTo(-1L);
        assertThat(iommu.stats().domains()).isEqualTo(4);
        assertThat(iommu.stats().tablePages()).isEqualTo(2);
        iommu.freeDomain(a);
        assertThat(iommu.allocDomain(DomainType.DMA).id()).as("ids are not reused").isGreaterThan(d.id());
        assertThatThrownBy(() -> new Iommu(m.memory, m.pages, null).invalidateDomain(b))
            .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void shouldReturnNullWhenNoPageIsLeftForTheRootTable()
    {
        final Iommu iommu = new Iommu(m.memory, m.pages, IommuConfig.defaults());
        m.allocationBudget(0);
        assertThat(iommu.allocDomain(DomainType.DMA)).isNull();
        assertThat(iommu.allocDomain(DomainType.IDENTITY)).isNotNull();
    }

    @Test
    void shouldChargeTheCostModelOncePerInvalidationCommand()
    {
        final Iommu iommu = new Iommu(m.memory, m.pages,
            IommuConfig.defaults().withInvalidationCost(InvalidationCost.ofNanos(300_000)).withIotlb(16, 2));
        final IommuDomain d = iommu.allocDomain(DomainType.DMA);
        final long start = System.nanoTime();
        iommu.invalidateRange(d, 0, K4);
        iommu.invalidateDomain(d);
        iommu.invalidateAll();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(900_000);
        assertThat(iommu.stats().invalidationCommands()).isEqualTo(3);
        assertThat(iommu.iotlb().sets()).isEqualTo(16);
    }

    /**
     * Strict-mode lifetime under concurrency (bounded): the CPU thread maps IOVA page P to a new physical page each
     * round, then unmaps and invalidates it, and publishes the round as dead. A device thread that read "dead = k"
     * before translating must never get the physical page of round k or older: no walk that raced with the unmap may
     * leave its translation in the IOTLB (the fill-token protocol).
     */
    @ParameterizedTest
    @ValueSource(ints = { 1, 8 })
    void shouldNeverTranslateThroughAnInvalidatedMappingAfterTheInvalidationReturned(final int ways)
        throws InterruptedException
    {
        final Iommu iommu = new Iommu(m.memory, m.pages, IommuConfig.defaults().withIotlb(1, ways));
        final IommuDomain d = iommu.allocDomain(DomainType.DMA);
        final long iova = 0x40_0000L;
        final int rounds = 20_000;
        final AtomicLong dead = new AtomicLong(-1);
        final AtomicBoolean done = new AtomicBoolean();
        final AtomicBoolean deviceRunning = new AtomicBoolean();
        final AtomicLong live = new AtomicLong();
        final AtomicReference<String> failure = new AtomicReference<>();
        final Thread cpu = new Thread(() ->
        {
            while (!deviceRunning.get())
            {
                Thread.onSpinWait();
            }
            for (long i = 0; i < rounds && failure.get() == null; i++)
            {
                final long phys = (i + 1) * K4; // a distinct physical page per round; only translated, never accessed
                if (d.map(iova, phys, K4, IommuProt.READ) != 0)
                {
                    failure.set("round " + i + ": map failed");
                }
                for (int spin = 0; spin < 20; spin++)
                {
                    Thread.onSpinWait(); // keep the mapping live a little while
                }
                if (d.unmap(iova, K4) != K4)
                {
                    failure.set("round " + i + ": unmap failed");
                }
                iommu.invalidateRange(d, iova, K4);
                dead.set(i);
            }
            done.set(true);
        });
        final Thread device = new Thread(() ->
        {
            long ok = 0;
            deviceRunning.set(true);
            while (!done.get() && failure.get() == null)
            {
                final long k = dead.get();
                final long v = d.translate(iova + 8, 1, 0x0300);
                if (v >= 0)
                {
                    ok++;
                    final long round = (PteDescriptor.outputAddress(v) >>> 12) - 1;
                    if (round <= k)
                    {
                        failure.set("translated through round " + round + " after round " + k + " was invalidated");
                    }
                }
                else if (v != -MemTx.TRANSLATION_FAULT)
                {
                    failure.set("unexpected fault " + MemTx.name((int)-v));
                }
            }
            live.set(ok);
        });
        cpu.start();
        device.start();
        cpu.join(25_000);
        device.join(25_000);
        assertThat(failure.get()).isNull();
        if (live.get() == 0)
        {
            System.err.println("note: the device thread never caught a live mapping (scheduling): only faults seen");
        }
    }
}
