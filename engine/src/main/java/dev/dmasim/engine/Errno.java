package dev.dmasim.engine;

/** The Linux errno values the DMA API returns (negated, as the kernel returns them: {@code -Errno.EIO}). */
public final class Errno
{
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int EOPNOTSUPP = 95;
    public static final int EREMOTEIO = 121;

    private Errno()
    {
    }

    /** @return the symbolic name of {@code errno} (sign ignored), e.g. {@code "EIO"}. */
    public static String name(final int errno)
    {
        return switch (Math.abs(errno))
        {
            case 0 -> "0";
            case EIO -> "EIO";
            case ENOMEM -> "ENOMEM";
            case EEXIST -> "EEXIST";
            case EINVAL -> "EINVAL";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case EREMOTEIO -> "EREMOTEIO";
            default -> "errno " + Math.abs(errno);
        };
    }
}
