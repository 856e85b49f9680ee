package dev.dmasim.bench.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressTest
{
    @Test
    void shouldDrawInPlaceAndClear()
    {
        final StringWriter sw = new StringWriter();
        final Progress p = new Progress(new PrintWriter(sw), true);

        p.draw(0.5, "cell 1/2");
        p.draw(1.0, "x");
        p.clear();

        assertThat(sw.toString()).startsWith("\r[###############...............]  50% cell 1/2")
            .contains("\r[##############################] 100% x       ")
            .endsWith("\r");
        assertThat(sw.toString()).doesNotContain("\n");
    }

    @Test
    void shouldDrawNothingWhenNotLive()
    {
        final StringWriter sw = new StringWriter();
        final Progress p = new Progress(new PrintWriter(sw), false);

        p.draw(0.5, "cell");
        p.clear();

        assertThat(sw.toString()).isEmpty();
    }
}
