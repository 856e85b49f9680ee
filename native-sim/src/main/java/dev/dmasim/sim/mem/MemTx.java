package dev.dmasim.sim.mem;

/**
 * Memory-transaction result codes, returned as {@code int} by every CPU-side and device-side access
 * (QEMU's {@code MemTxResult}). {@link #OK} is 0; any other value is an error. Faults are values, never
 * exceptions, so the hot path allocates nothing.
 */
public final class MemTx
{
    /** The access completed. */
    public static final int OK = 0;
    /** No region decodes (part of) the address: a hole in the physical address space. */
    public static final int DECODE_ERROR = 1;
    /** The IOMMU has no valid translation for the bus address. */
    public static final int TRANSLATION_FAULT = 2;
    /** The IOMMU translation does not permit the access (e.g. a device write to a READ-only page). */
    public static final int PERMISSION_FAULT = 3;
    /** The bus address does not fit the device's address width: the device cannot emit it. */
    public static final int ADDRESS_SIZE_FAULT = 4;
    /** An MMIO handler refused the access. */
    public static final int DEVICE_ERROR = 5;

    private static final String[] NAMES =
        { "OK", "DECODE_ERROR", "TRANSLATION_FAULT", "PERMISSION_FAULT", "ADDRESS_SIZE_FAULT", "DEVICE_ERROR" };

    private MemTx()
    {
    }

    /** @return the constant's name, or {@code "MemTx(n)"} for an unknown code. */
    public static String name(final int code)
    {
        return code >= 0 && code < NAMES.length ? NAMES[code] : "MemTx(" + code + ")";
    }
}
