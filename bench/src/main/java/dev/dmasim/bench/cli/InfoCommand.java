package dev.dmasim.bench.cli;

import dev.dmasim.engine.DmaEngine;
import dev.dmasim.engine.swiotlb.Swiotlb;
import dev.dmasim.sim.iommu.IommuConfig;
import dev.dmasim.sim.mem.BuddyPageAllocator;
import dev.dmasim.sim.mem.PhysAddressSpace;
import dev.dmasim.sim.mem.PhysicalMemory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dmasim info}: the simulated machine a command would run on, and the JVM. */
@Command(name = "info", mixinStandardHelpOptions = true, sortOptions = false, usageHelpAutoWidth = true,
    description = {
        "Describe the simulated machine and the JVM.",
        "",
        "Describes the simulated machine that the other commands build from the same options: physical address "
            + "space (RAM and MMIO regions), buddy-allocator zones (total and free 4 KiB pages, free blocks by "
            + "order), CPUs, IOMMU (default mode, IOTLB geometry, invalidation cost), swiotlb pool (base, size, "
            + "slots, areas, force), dma-debug, and the JVM with its flags.",
        ""},
    footer = {"", "Examples:", "  dmasim info", "  dmasim info --iommu lazy --cpus 4 --swiotlb-mb 128 --cost smmuv3"})
public final class InfoCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Mixin
    MachineOptions machine;

    @Override
    public Integer call()
    {
        final PrintWriter o = spec.commandLine().getOut();
        try (DmaEngine engine = machine.build())
        {
            describe(engine, o);
        }
        o.flush();
        return CliErrors.OK;
    }

    /** Prints the description of {@code engine} and of this JVM on {@code o}. */
    static void describe(final DmaEngine engine, final PrintWriter o)
    {
        o.println("machine");
        final PhysicalMemory mem = engine.memory();
        if (mem instanceof PhysAddressSpace pas)
        {
            o.print(indent(pas.describe()));
        }
        else
        {
            for (final PhysicalMemory.MemRegion r : mem.regions())
            {
                o.printf(Locale.ROOT, "  %-4s %-12s [0x%016x, 0x%016x) %d bytes%n", r.kind(), r.name(), r.base(),
                    r.end(), r.size());
            }
        }
        o.println();
        o.println("zones (4 KiB pages)");
        if (engine.pages() instanceof BuddyPageAllocator buddy)
        {
            o.print(indent(buddy.describe()));
        }
        o.println();
        o.printf(Locale.ROOT, "cpus         %d simulated (host: %d available processors)%n", engine.cpu().cpus(),
            Runtime.getRuntime().availableProcessors());
        final IommuConfig ic = engine.iommu().config();
        o.printf(Locale.ROOT, "iommu        default mode %s; IOTLB %d sets x %d ways (%d entries); "
                + "invalidation cost %s (%d ns per sync); block mappings %s; fault ring %d records%n",
            engine.defaultMode().name().toLowerCase(Locale.ROOT), ic.iotlbSets(), ic.iotlbWays(),
            ic.iotlbSets() * ic.iotlbWays(), ic.invalidationCost().name(), ic.invalidationCost().nanos(),
            ic.blockMappings() ? "on" : "off", ic.faultRingRecords());
        final Swiotlb s = engine.swiotlb();
        if (s == null)
        {
            o.println("swiotlb      none (no bounce pool)");
        }
        else
        {
            o.printf(Locale.ROOT, "swiotlb      [0x%016x, 0x%016x) %d MiB, %d slots of %d bytes, %d areas of %d slots, "
                    + "force %s%n", s.start(), s.end(), (s.end() - s.start()) >> 20, s.totalSlots(),
                Swiotlb.IO_TLB_SIZE, s.areas(), s.areaSlots(), s.forceBounce() ? "on" : "off");
        }
        o.printf(Locale.ROOT, "dma-debug    %s%n", engine.debugEnabled() ? "on" : "off");
        o.println();
        o.printf(Locale.ROOT, "jvm          %s %s (%s), %s%n", System.getProperty("java.vm.name"),
            Runtime.version(), System.getProperty("java.vm.vendor"), System.getProperty("java.home"));
        o.printf(Locale.ROOT, "jvm heap     max %d MiB%n", Runtime.getRuntime().maxMemory() >> 20);
        o.printf(Locale.ROOT, "jvm flags    %s%n",
            String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
    }

    private static String indent(final String text)
    {
        final StringBuilder sb = new StringBuilder();
        for (final String line : text.split("\\R"))
        {
            sb.append("  ").append(line.stripLeading().isEmpty() ? "" : line).append(System.lineSeparator());
        }
        return sb.toString();
    }
}
