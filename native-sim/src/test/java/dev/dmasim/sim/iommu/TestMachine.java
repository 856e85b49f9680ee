package dev.dmasim.sim.iommu;

import dev.dmasim.sim.mem.BuddyPageAllocator;
import dev.dmasim.sim.mem.PageAllocator;
import dev.dmasim.sim.mem.PhysAddressSpace;
import dev.dmasim.sim.mem.Zone;

import java.util.concurrent.atomic.AtomicLong;

/** A small simulated machine for tests: sparse RAM, a buddy allocator, optionally an allocation budget. */
public final class TestMachine implements AutoCloseable
{
    /** RAM size of {@link #small()}. */
    public static final long RAM = 64L << 20;

    public final PhysAddressSpace memory;
    public final PageAllocator pages;
    private final LimitedPages limited;

    private TestMachine(final long ramBytes)
    {
        memory = PhysAddressSpace.builder().ram(0, ramBytes, "ram").build();
        limited = new LimitedPages(BuddyPageAllocator.of(memory));
        pages = limited;
    }

    /** @return 64 MiB of RAM at physical 0. */
    public static TestMachine small()
    {
        return new TestMachine(RAM);
    }

    /** Page allocations after {@code n} more succeed fail with NO_PAGE; negative = unlimited. */
    public void allocationBudget(final long n)
    {
        limited.budget.set(n);
    }

    @Override
    public void close()
    {
        memory.close();
    }

    /** A PageAllocator decorator that can be made to run out. */
    private static final class LimitedPages implements PageAllocator
    {
        private final PageAllocator delegate;
        private final AtomicLong budget = new AtomicLong(-1);

        LimitedPages(final PageAllocator delegate)
        {
            this.delegate = delegate;
        }

        @Override
        public long allocPages(final int order, final Zone zone)
        {
            while (true)
            {
                final long b = budget.get();
                if (b < 0)
                {
                    break;
                }
                if (b == 0)
                {
                    return NO_PAGE;
                }
                if (budget.compareAndSet(b, b - 1))
                {
                    break;
                }
            }
            return delegate.allocPages(order, zone);
        }

        @Override
        public void freePages(final long phys, final int order)
        {
            delegate.freePages(phys, order);
        }

        @Override
        public long freePageCount(final Zone zone)
        {
            return delegate.freePageCount(zone);
        }

        @Override
        public long totalPageCount(final Zone zone)
        {
            return delegate.totalPageCount(zone);
        }
    }
}
