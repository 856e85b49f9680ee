package dev.dmasim.sim.iommu;

/** Receives one fault record from {@link FaultRing#poll}; primitives only, so polling allocates nothing. */
@FunctionalInterface
public interface FaultHandler
{
    /**
     * @param requesterId 16-bit PCI requester id (bus &lt;&lt; 8 | device &lt;&lt; 3 | function).
     * @param busAddress  the faulting bus address (IOVA), bytes.
     * @param access      {@code dev.dmasim.sim.bus.Access} bits: 1 read, 2 write.
     * @param reason      a {@code dev.dmasim.sim.mem.MemTx} code (TRANSLATION_FAULT, PERMISSION_FAULT).
     * @param domainId    the domain the device was attached to.
     * @param timestampNs {@link System#nanoTime()} when the fault was recorded.
     */
    void onFault(int requesterId, long busAddress, int access, int reason, int domainId, long timestampNs);
}
