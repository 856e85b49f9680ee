package dev.dmasim.engine;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

/**
 * jcstress test of {@link Device}'s RAM-check cache: a plain field holding the last RAM run a map hit, an immutable
 * record (base and end in final fields), written by whichever thread maps. A reader must see a whole run or null,
 * never the base of one run with the end of another: on the default machine (RAM at [0, 2 GiB) and [4, 6 GiB),
 * a BAR and holes between) such a torn run would be [0, 6 GiB) and would let a map across the PCI hole through.
 * <p>
 * All states share one engine and one device: the cache lives as long as the device, and every state's three
 * calls are independent of what came before (the runs are fixed), so sharing only adds races.
 */
public final class DeviceRamHintStress
{
    static final DmaEngine ENGINE = DmaEngine.builder().swiotlb(SwiotlbConfig.disabled()).build();
    static final Device DEV = ENGINE.attach(DeviceConfig.pci("0000:03:00.0").dmaBits(64));
    /** In low RAM, in high RAM, and straddling the end of low RAM (not RAM: must be refused). */
    static final long LOW = 1L << 30;
    static final long HIGH = 5L << 30;
    static final long ACROSS = (2L << 30) - 2048;

    private DeviceRamHintStress()
    {
    }

    /** Maps and unmaps one page; 1 if mapped 1:1. */
    static int mapUnmap(final long phys)
    {
        final long dma = DEV.mapPhys(phys, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        DEV.unmapPhys(dma, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
        return dma == phys ? 1 : 0;
    }

    /** @return 1 if a map across the end of low RAM is refused, as it must be whatever the cache holds. */
    static int acrossRefused()
    {
        try
        {
            DEV.mapPhys(ACROSS, 4096, DmaDirection.TO_DEVICE, DmaAttrs.NONE);
            return 0;
        }
        catch (final IllegalArgumentException expected)
        {
            return 1;
        }
    }

    /**
     * Two threads map in low and in high RAM (each leaves its run in the cache), then each maps a range across the
     * end of low RAM (jcstress needs a CPU per actor: two actors on this machine). Result: (low mapped, high
     * mapped, straddling maps refused).
     */
    @JCStressTest
    @Description("Device RAM-check cache: racing updates never let a range across a hole pass as RAM")
    @Outcome(id = "1, 1, 2", expect = ACCEPTABLE, desc = "both maps succeeded, both straddling ranges were refused")
    @Outcome(id = ".*, .*, [01]", expect = FORBIDDEN, desc = "a range that is not RAM passed the check (a torn run)")
    @Outcome(expect = FORBIDDEN, desc = "any other result")
    @State
    public static class RacingRuns
    {
        int refusedLow;
        int refusedHigh;

        /** Leaves the low run in the cache, then checks the straddling range. */
        @Actor
        public void low(final III_Result r)
        {
            r.r1 = mapUnmap(LOW);
            refusedLow = acrossRefused();
        }

        /** Leaves the high run in the cache, then checks the straddling range. */
        @Actor
        public void high(final III_Result r)
        {
            r.r2 = mapUnmap(HIGH);
            refusedHigh = acrossRefused();
        }

        /** Adds up the refusals. */
        @Arbiter
        public void arbiter(final III_Result r)
        {
            r.r3 = refusedLow + refusedHigh;
        }
    }
}
