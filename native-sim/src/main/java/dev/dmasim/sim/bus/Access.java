package dev.dmasim.sim.bus;

/** Device access kinds, as {@code int} bits (QEMU's {@code IOMMUAccessFlags}); also the permission bits of a {@link TlbEntry}. */
public final class Access
{
    /** No access (a {@link TlbEntry} permission of NONE means no translation). */
    public static final int NONE = 0;
    /** The device reads memory (a DMA to the device, e.g. a NIC transmit). */
    public static final int READ = 1;
    /** The device writes memory. */
    public static final int WRITE = 2;
    /** Both. */
    public static final int READ_WRITE = READ | WRITE;

    private Access()
    {
    }

    /** @return "READ", "WRITE", "READ_WRITE" or "NONE". */
    public static String name(final int access)
    {
        return switch (access)
        {
            case NONE -> "NONE";
            case READ -> "READ";
            case WRITE -> "WRITE";
            case READ_WRITE -> "READ_WRITE";
            default -> "Access(" + access + ")";
        };
    }
}
