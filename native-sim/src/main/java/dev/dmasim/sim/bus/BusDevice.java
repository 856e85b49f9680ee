package dev.dmasim.sim.bus;

import dev.dmasim.sim.iommu.DomainType;
import dev.dmasim.sim.iommu.IommuDomain;
import dev.dmasim.sim.iommu.PteDescriptor;
import dev.dmasim.sim.mem.MemTx;
import dev.dmasim.sim.mem.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.Objects;

/**
 * A bus master (a PCI function doing DMA): requester id, address width, coherent and untrusted attributes, and the
 * IOMMU domain it is attached to. The device side of DMA: {@link #dmaRead}, {@link #dmaWrite}, {@link #translate}.
 * Units: bus addresses, offsets and lengths are bytes.
 * <p>
 * What a bus address means depends on the attached domain:
 * <ul>
 *   <li>none ({@code null}: no IOMMU) or {@link DomainType#IDENTITY}: bus address == physical address;</li>
 *   <li>{@link DomainType#DMA} / {@link DomainType#DMA_FQ}: translated page by page (IOTLB, then page-table walk);</li>
 *   <li>{@link DomainType#BLOCKED}: every access faults with {@link MemTx#TRANSLATION_FAULT}.</li>
 * </ul>
 * A burst whose first or last byte is above the device's address width is not emitted at all
 * ({@link MemTx#ADDRESS_SIZE_FAULT}, not recorded in the fault ring: the IOMMU never sees it). A translated burst
 * stops at the first faulting page; the bytes before it have been transferred, and the fault is recorded in the
 * IOMMU's fault ring with this device's requester id. Results are {@link MemTx} codes, never exceptions; programming
 * errors (offset/length outside the segment, a bad access kind) throw.
 * <p>
 * <b>Thread safety.</b> Any number of threads may DMA through one device concurrently; bytes of overlapping
 * transfers race as on hardware. {@link #attach} may run concurrently with transfers: each page translation uses
 * the domain read once per call (a volatile read).
 * <p>
 * <b>Data path and observer.</b> Transfers reach memory through the device's data path: the address space itself,
 * or, for a coherent device on a machine with a CPU cache model, a snooping view of it
 * ({@code dev.dmasim.sim.cache.CoherentView}). An optional {@link DmaObserver} ({@link #observer(DmaObserver)}) is
 * told about each transfer piece after it completed; with none set a transfer costs one extra volatile read.
 * <p>
 * <b>Allocation.</b> None per call on any path (IOTLB hit, miss, or fault); {@link #translate} fills a caller-owned
 * {@link TlbEntry}.
 */
public final class BusDevice
{
    private static final long PAGE_SIZE = 4096;
    private static final long PAGE_MASK = PAGE_SIZE - 1;

    private final PhysicalMemory memory;
    private final PhysicalMemory dataPath;
    private final String bdf;
    private final int segment;
    private final int requesterId;
    private final int addressBits;
    private final boolean coherent;
    private final boolean untrusted;
    private volatile IommuDomain domain;
    private volatile DmaObserver observer;

    /**
     * @param memory      the physical address space the device's transfers reach.
     * @param bdf         PCI address {@code SSSS:BB:DD.F} (hex segment, bus, device ≤ 1f; function 0..7).
     * @param addressBits bus address width the device can emit, 1..64.
     * @param coherent    DMA is cache-coherent (informational here; coherence is the data path's, see below).
     * @param untrusted   an external-facing device (informational here; the DMA layer forces strict mode).
     * @throws IllegalArgumentException for a malformed BDF or width, naming the value.
     */
    public BusDevice(
        final PhysicalMemory memory, final String bdf, final int addressBits, final boolean coherent,
        final boolean untrusted)
    {
        this(memory, memory, bdf, addressBits, coherent, untrusted);
    }

    /**
     * As {@link #BusDevice(PhysicalMemory, String, int, boolean, boolean)}, with the transfers going through
     * {@code dataPath} (e.g. a snooping view of {@code memory} for a coherent device); {@code memory} stays the
     * address space the IOMMU domains must belong to.
     */
    public BusDevice(
        final PhysicalMemory memory, final PhysicalMemory dataPath, final String bdf, final int addressBits,
        final boolean coherent, final boolean untrusted)
    {
        if (memory == null || dataPath == null)
        {
            throw new IllegalArgumentException("memory and data path must not be null");
        }
        if (addressBits < 1 || addressBits > 64)
        {
            throw new IllegalArgumentException("device " + bdf + ": address width must be 1..64 bits, got " + addressBits);
        }
        final long parsed = parseBdf(bdf);
        this.memory = memory;
        this.dataPath = dataPath;
        this.bdf = bdf.toLowerCase(Locale.ROOT);
        this.segment = (int)(parsed >>> 16);
        this.requesterId = (int)(parsed & 0xffff);
        this.addressBits = addressBits;
        this.coherent = coherent;
        this.untrusted = untrusted;
    }

    /**
     * Parses {@code SSSS:BB:DD.F}.
     *
     * @return {@code segment << 16 | bus << 8 | device << 3 | function}.
     * @throws IllegalArgumentException naming the text and the expected form.
     */
    public static long parseBdf(final String bdf)
    {
        if (bdf == null || bdf.length() != 12 || bdf.charAt(4) != ':' || bdf.charAt(7) != ':' || bdf.charAt(10) != '.')
        {
            throw badBdf(bdf);
        }
        final int seg = hex(bdf, 0, 4);
        final int bus = hex(bdf, 5, 7);
        final int dev = hex(bdf, 8, 10);
        final int fn = bdf.charAt(11) - '0';
        if (seg < 0 || bus < 0 || dev < 0 || dev > 0x1f || fn < 0 || fn > 7)
        {
            throw badBdf(bdf);
        }
        return (long)seg << 16 | bus << 8 | dev << 3 | fn;
    }

    /** @return the PCI address, lower-case, e.g. {@code 0000:03:00.0}. */
    public String bdf()
    {
        return bdf;
    }

    /** @return the 16-bit requester id {@code bus << 8 | device << 3 | function}. */
    public int requesterId()
    {
        return requesterId;
    }

    /** @return the PCI segment (domain) number. */
    public int segment()
    {
        return segment;
    }

    /** @return the bus address width in bits. */
    public int addressBits()
    {
        return addressBits;
    }

    /** @return true if the device's DMA is cache-coherent. */
    public boolean coherent()
    {
        return coherent;
    }

    /** @return true if the device is untrusted (external-facing). */
    public boolean untrusted()
    {
        return untrusted;
    }

    /** Sets (or, with null, removes) the observer told about every transfer piece. */
    public void observer(final DmaObserver o)
    {
        observer = o;
    }

    /** @return the transfer observer, or null. */
    public DmaObserver observer()
    {
        return observer;
    }

    /** @return the attached domain, or null when the device is not behind an IOMMU. */
    public IommuDomain domain()
    {
        return domain;
    }

    /**
     * Attaches the device to {@code newDomain} ({@code null}: no IOMMU, bus address == physical address).
     *
     * @throws IllegalArgumentException if the domain was freed or its IOMMU uses another physical address space.
     */
    public void attach(final IommuDomain newDomain)
    {
        if (newDomain != null)
        {
            if (newDomain.isFreed())
            {
                throw new IllegalArgumentException("device " + bdf + ": cannot attach to freed " + newDomain);
            }
            if (newDomain.iommu().memory() != memory)
            {
                throw new IllegalArgumentException(
                    "device " + bdf + ": " + newDomain + " belongs to an IOMMU over another address space");
            }
        }
        domain = newDomain;
    }

    /** Reads {@code dst.byteSize()} bytes at {@code busAddr} into {@code dst}; see {@link #dmaRead(long, MemorySegment, long, long)}. */
    public int dmaRead(final long busAddr, final MemorySegment dst)
    {
        return transfer(busAddr, dst, 0, dst.byteSize(), Access.READ);
    }

    /**
     * The device reads {@code len} bytes of memory at bus address {@code busAddr} into {@code dst} at {@code off}.
     *
     * @return {@link MemTx#OK}, {@link MemTx#ADDRESS_SIZE_FAULT}, {@link MemTx#TRANSLATION_FAULT},
     * {@link MemTx#PERMISSION_FAULT} (page not readable), or what the memory returned ({@link MemTx#DECODE_ERROR}).
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is not inside {@code dst}.
     */
    public int dmaRead(final long busAddr, final MemorySegment dst, final long off, final long len)
    {
        return transfer(busAddr, dst, off, len, Access.READ);
    }

    /** Writes all of {@code src} at {@code busAddr}; see {@link #dmaWrite(long, MemorySegment, long, long)}. */
    public int dmaWrite(final long busAddr, final MemorySegment src)
    {
        return transfer(busAddr, src, 0, src.byteSize(), Access.WRITE);
    }

    /**
     * The device writes {@code len} bytes of {@code src} from {@code off} to memory at bus address {@code busAddr}.
     *
     * @return as {@link #dmaRead(long, MemorySegment, long, long)}, with PERMISSION_FAULT for a page not writable.
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is not inside {@code src}.
     */
    public int dmaWrite(final long busAddr, final MemorySegment src, final long off, final long len)
    {
        return transfer(busAddr, src, off, len, Access.WRITE);
    }

    /**
     * Translates {@code busAddr} for {@code access} as the device's transfers would (IOTLB lookup, walk and fill on
     * a miss, permission check, fault recorded) and fills {@code out} with the range it lies in: the 4 KiB page
     * when untranslated, the leaf (page or block) when translated. {@code out} is untouched on a fault.
     *
     * @param access {@link Access#READ}, {@link Access#WRITE} or {@link Access#READ_WRITE}.
     * @return {@link MemTx#OK} or the fault code.
     */
    public int translate(final long busAddr, final int access, final TlbEntry out)
    {
        if (access < Access.READ || access > Access.READ_WRITE)
        {
            throw new IllegalArgumentException("device " + bdf + ": bad access kind " + access);
        }
        if (!fits(busAddr, 1))
        {
            return MemTx.ADDRESS_SIZE_FAULT;
        }
        final IommuDomain d = domain;
        if (d == null || d.type() == DomainType.IDENTITY)
        {
            out.set(busAddr & ~PAGE_MASK, busAddr & ~PAGE_MASK, PAGE_MASK, Access.READ_WRITE);
            return MemTx.OK;
        }
        final long v = d.translate(busAddr, access, requesterId);
        if (v < 0)
        {
            return (int)-v;
        }
        final long mask = PteDescriptor.leafSize(v) - 1;
        final long physBase = PteDescriptor.outputAddress(v) - ((busAddr & mask) & ~PAGE_MASK);
        final int perm = ((v & PteDescriptor.READ) != 0 ? Access.READ : 0) |
            ((v & PteDescriptor.WRITE) != 0 ? Access.WRITE : 0);
        out.set(busAddr & ~mask, physBase, mask, perm);
        return MemTx.OK;
    }

    private int transfer(final long busAddr, final MemorySegment seg, final long off, final long len, final int access)
    {
        Objects.checkFromIndexSize(off, len, seg.byteSize());
        if (len == 0)
        {
            return MemTx.OK;
        }
        if (!fits(busAddr, len))
        {
            return MemTx.ADDRESS_SIZE_FAULT;
        }
        final boolean write = access == Access.WRITE;
        final IommuDomain d = domain;
        final DmaObserver obs = observer;
        final PhysicalMemory mem = dataPath;
        if (d == null || d.type() == DomainType.IDENTITY)
        {
            final int rc = write ? mem.write(busAddr, seg, off, len) : mem.read(busAddr, seg, off, len);
            if (obs != null)
            {
                obs.onDeviceAccess(this, busAddr, busAddr, len, access, rc, false);
            }
            return rc;
        }
        final int rid = requesterId;
        long done = 0;
        while (done < len)
        {
            final long addr = busAddr + done;
            final long v = d.translate(addr, access, rid);
            if (v < 0)
            {
                if (obs != null)
                {
                    obs.onDeviceAccess(this, addr, -1L, len - done, access, (int)-v, false);
                }
                return (int)-v;
            }
            final long chunk = Math.min(len - done, PAGE_SIZE - (addr & PAGE_MASK));
            final long phys = PteDescriptor.outputAddress(v) | (addr & PAGE_MASK);
            final int rc = write ? mem.write(phys, seg, off + done, chunk) : mem.read(phys, seg, off + done, chunk);
            if (obs != null)
            {
                obs.onDeviceAccess(this, addr, phys, chunk, access, rc, (v & PteDescriptor.STALE) != 0);
            }
            if (rc != MemTx.OK)
            {
                return rc;
            }
            done += chunk;
        }
        return MemTx.OK;
    }

    /** @return true if every byte of {@code [busAddr, busAddr+len)} (len &gt; 0) is below the address width. */
    private boolean fits(final long busAddr, final long len)
    {
        final long last = busAddr + (len - 1);
        if (Long.compareUnsigned(last, busAddr) < 0)
        {
            return false; // wraps past 2^64
        }
        return addressBits == 64 || (last >>> addressBits) == 0;
    }

    private static int hex(final String s, final int from, final int to)
    {
        int v = 0;
        for (int i = from; i < to; i++)
        {
            final int digit = Character.digit(s.charAt(i), 16);
            if (digit < 0)
            {
                return -1;
            }
            v = v << 4 | digit;
        }
        return v;
    }

    private static IllegalArgumentException badBdf(final String bdf)
    {
        return new IllegalArgumentException(
            "bad PCI requester id '" + bdf + "': expected SSSS:BB:DD.F (hex segment, bus, device <= 1f; function 0-7)," +
            " e.g. 0000:03:00.0");
    }

    @Override
    public String toString()
    {
        return "BusDevice[" + bdf + ", " + addressBits + "-bit" + (coherent ? ", coherent" : "") +
            (untrusted ? ", untrusted" : "") + ", domain=" + domain + "]";
    }
}
