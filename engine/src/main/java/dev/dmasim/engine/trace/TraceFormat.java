package dev.dmasim.engine.trace;

import dev.dmasim.engine.DmaDirection;

/**
 * The printing helpers of the kernel's trace output, as {@code include/trace/events/dma.h} uses them, and their
 * inverses for the parser. Stateless and thread-safe.
 *
 * <ul>
 *   <li>{@code decode_dma_data_direction}: {@code __print_symbolic}, e.g. {@code TO_DEVICE}; an unknown value
 *       prints as {@code 0x%lx}.</li>
 *   <li>{@code decode_dma_attrs}: {@code __print_flags(attrs, "|", ...)}: names joined by {@code |}, left-over
 *       bits as {@code 0x%lx}, nothing at all for 0.</li>
 *   <li>{@code __print_array}: {@code {0x%llx,0x%llx}} for u64 and {@code {0x%x}} for u32 elements.</li>
 * </ul>
 */
public final class TraceFormat
{
    /** {@code DMA_TRACE_MAX_ENTRIES}: how many sg entries {@code dma_map_sg} records. */
    public static final int DMA_TRACE_MAX_ENTRIES = 128;

    /** The marker {@code dma_map_sg} prints when an array was cut at {@link #DMA_TRACE_MAX_ENTRIES}. */
    public static final String TRUNCATED_MARKER = "[TRUNCATED]";

    /** x86-64 {@code page_offset_base} without KASLR: the direct map, where {@code %p} of a buffer points. */
    public static final long PAGE_OFFSET = 0xffff_8880_0000_0000L;

    /** {@code decode_dma_attrs}' table: bit, then name, in the header's order. */
    private static final long[] ATTR_BITS = {
        1L << 1, 1L << 2, 1L << 4, 1L << 5, 1L << 6, 1L << 7, 1L << 8, 1L << 9, 1L << 10, 1L << 11, 1L << 12,
        1L << 13, 1L << 14 };
    private static final String[] ATTR_NAMES = {
        "WEAK_ORDERING", "WRITE_COMBINE", "NO_KERNEL_MAPPING", "SKIP_CPU_SYNC", "FORCE_CONTIGUOUS",
        "ALLOC_SINGLE_PAGES", "NO_WARN", "PRIVILEGED", "MMIO", "CACHELINES_OVERLAP", "REQUIRE_COHERENT", "CC_SHARED",
        "ALLOC_CC_SHARED" };

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private TraceFormat()
    {
    }

    /** {@code decode_dma_data_direction}. */
    public static String direction(final DmaDirection dir)
    {
        return dir == null ? "0x3" : switch (dir)
        {
            case BIDIRECTIONAL -> "BIDIRECTIONAL";
            case TO_DEVICE -> "TO_DEVICE";
            case FROM_DEVICE -> "FROM_DEVICE";
            case NONE -> "NONE";
        };
    }

    /** Inverse of {@link #direction}; also accepts {@code DMA_}-prefixed names and {@code 0x%lx}. @return null if unknown. */
    public static DmaDirection parseDirection(final String text)
    {
        final String t = text.startsWith("DMA_") ? text.substring(4) : text;
        switch (t)
        {
            case "BIDIRECTIONAL":
                return DmaDirection.BIDIRECTIONAL;
            case "TO_DEVICE":
                return DmaDirection.TO_DEVICE;
            case "FROM_DEVICE":
                return DmaDirection.FROM_DEVICE;
            case "NONE":
                return DmaDirection.NONE;
            default:
                final long v = parseNumber(t, true);
                return v >= 0 && v <= 3 ? DmaDirection.of((int)v) : null;
        }
    }

    /** {@code decode_dma_attrs} into {@code sb}. */
    public static StringBuilder attrs(final StringBuilder sb, final long attrs)
    {
        long left = attrs;
        boolean first = true;
        for (int i = 0; i < ATTR_BITS.length && left != 0; i++)
        {
            if ((left & ATTR_BITS[i]) != ATTR_BITS[i])
            {
                continue;
            }
            left &= ~ATTR_BITS[i];
            if (!first)
            {
                sb.append('|');
            }
            first = false;
            sb.append(ATTR_NAMES[i]);
        }
        if (left != 0)
        {
            if (!first)
            {
                sb.append('|');
            }
            sb.append("0x").append(Long.toHexString(left));
        }
        return sb;
    }

    /** Inverse of {@link #attrs}: empty is 0. @return the bits, or -1 if a part is neither a name nor a number. */
    public static long parseAttrs(final String text)
    {
        if (text.isEmpty())
        {
            return 0;
        }
        long bits = 0;
        int from = 0;
        while (from <= text.length())
        {
            int bar = text.indexOf('|', from);
            if (bar < 0)
            {
                bar = text.length();
            }
            final String part = text.substring(from, bar);
            long bit = -1;
            for (int i = 0; i < ATTR_NAMES.length; i++)
            {
                if (ATTR_NAMES[i].equals(part) || ("DMA_ATTR_" + ATTR_NAMES[i]).equals(part))
                {
                    bit = ATTR_BITS[i];
                    break;
                }
            }
            if (bit < 0)
            {
                bit = parseNumber(part, true);
                if (bit < 0)
                {
                    return -1;
                }
            }
            bits |= bit;
            from = bar + 1;
        }
        return bits;
    }

    /** {@code %llx}: lower-case hex, no prefix. */
    public static StringBuilder hex(final StringBuilder sb, final long v)
    {
        if (v == 0)
        {
            return sb.append('0');
        }
        final int digits = (64 - Long.numberOfLeadingZeros(v) + 3) >>> 2;
        for (int i = digits - 1; i >= 0; i--)
        {
            sb.append(HEX[(int)(v >>> (i << 2)) & 0xf]);
        }
        return sb;
    }

    /** {@code 0x%016llx}. */
    public static StringBuilder hex16(final StringBuilder sb, final long v)
    {
        sb.append("0x");
        return zeroPaddedHex(sb, v, 16);
    }

    /** {@code %0<width>llx}. */
    public static StringBuilder zeroPaddedHex(final StringBuilder sb, final long v, final int width)
    {
        final int digits = v == 0 ? 1 : (64 - Long.numberOfLeadingZeros(v) + 3) >>> 2;
        for (int i = digits; i < width; i++)
        {
            sb.append('0');
        }
        return hex(sb, v);
    }

    /** {@code %zu} of a size_t held in a long (unsigned). */
    public static StringBuilder unsigned(final StringBuilder sb, final long v)
    {
        return v >= 0 ? sb.append(v) : sb.append(Long.toUnsignedString(v));
    }

    /**
     * Parses a hex ({@code 0x} optional when {@code hex}) or decimal unsigned number. @return the value, or -1 when
     * the text is not a number (so all-ones, {@code DMA_MAPPING_ERROR}, must be checked by the caller with
     * {@link #isNumber}).
     */
    public static long parseNumber(final String text, final boolean hex)
    {
        if (!isNumber(text, hex))
        {
            return -1;
        }
        final boolean prefixed = text.startsWith("0x") || text.startsWith("0X");
        try
        {
            return hex || prefixed
                ? Long.parseUnsignedLong(prefixed ? text.substring(2) : text, 16)
                : Long.parseUnsignedLong(text, 10);
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }

    /** @return true if {@code text} is a number {@link #parseNumber} accepts (at most 64 bits). */
    public static boolean isNumber(final String text, final boolean hex)
    {
        final boolean prefixed = text.startsWith("0x") || text.startsWith("0X");
        final int from = prefixed ? 2 : 0;
        final int n = text.length() - from;
        if (n <= 0)
        {
            return false;
        }
        final boolean asHex = hex || prefixed;
        int significant = 0;
        boolean leading = true;
        for (int i = from; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            final boolean ok = (c >= '0' && c <= '9') || (asHex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
            if (!ok)
            {
                return false;
            }
            if (leading && c == '0')
            {
                continue;
            }
            leading = false;
            significant++;
        }
        return asHex ? significant <= 16 : significant <= 20;
    }

    /** {@code __print_array} of u64 elements {@code [0, count)} of {@code values}. */
    public static StringBuilder array(final StringBuilder sb, final long[] values, final int count)
    {
        sb.append('{');
        for (int i = 0; i < count; i++)
        {
            if (i > 0)
            {
                sb.append(',');
            }
            hex(sb.append("0x"), values[i]);
        }
        return sb.append('}');
    }
}
