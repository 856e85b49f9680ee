package dev.dmasim.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonTest
{
    @Test
    void shouldRoundTripNestedValues()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "quote \" backslash \\ newline \n tab \t ctl \u0001");
        m.put("i", 42L);
        m.put("neg", -7L);
        m.put("d", 1.5);
        m.put("b", true);
        m.put("n", null);
        m.put("l", List.of(1L, "two", List.of()));
        m.put("o", Map.of());

        for (final String text : List.of(Json.write(m), Json.writePretty(m)))
        {
            assertThat(Json.parse(text)).isEqualTo(m);
        }
    }

    @Test
    void shouldWriteRecordsAsObjectsAndNonFiniteAsNull()
    {
        record P(String name, double v, long[] xs)
        {
        }

        assertThat(Json.write(new P("a", Double.NaN, new long[] {1, 2}))).isEqualTo("{\"name\":\"a\",\"v\":null,\"xs\":[1,2]}");
        assertThat(Json.write(List.of(0.25, 3.0, 1e-9))).isEqualTo("[0.25,3,1e-09]");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2", "{1:2}", "-"})
    void shouldRejectMalformedJson(final String text)
    {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(IllegalArgumentException.class)
            .hasMessageStartingWith("JSON: ");
    }
}
