package dev.dmasim.bench.stress;

/** Hex dumps of expected and actual bytes around a mismatch, for violation reports. Stateless. */
final class Hex
{
    private static final int ROW = 16;

    private Hex()
    {
    }

    /**
     * @return two aligned dumps ("expected", "actual") of up to 3 rows around byte {@code at} of a
     * {@code len}-byte comparison, offsets relative to the compared range, the first differing byte bracketed.
     */
    static String around(final byte[] exp, final int expOff, final byte[] act, final int actOff, final int len,
        final int at)
    {
        final int from = Math.max(0, (at & -ROW) - ROW);
        final int to = Math.min(len, from + 3 * ROW);
        final StringBuilder sb = new StringBuilder();
        for (int row = from; row < to; row += ROW)
        {
            line(sb, "expected", exp, expOff, row, Math.min(to, row + ROW), at);
            line(sb, "actual  ", act, actOff, row, Math.min(to, row + ROW), at);
        }
        return sb.toString().stripTrailing();
    }

    private static void line(final StringBuilder sb, final String label, final byte[] data, final int base,
        final int from, final int to, final int at)
    {
        sb.append("  ").append(label).append(String.format(" +0x%05x:", from));
        for (int i = from; i < to; i++)
        {
            sb.append(i == at ? '[' : (i == at + 1 ? ']' : ' ')).append(String.format("%02x", data[base + i] & 0xFF));
        }
        if (to == at + 1)
        {
            sb.append(']');
        }
        sb.append('\n');
    }
}
