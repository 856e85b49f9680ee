package dev.dmasim.bench.report;

import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.Map;

/** Record components by name, in declaration order: how reports turn result records into JSON and CSV. */
final class Reflect
{
    private Reflect()
    {
    }

    static Map<String, Object> componentsOf(final Record r)
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        for (final RecordComponent c : r.getClass().getRecordComponents())
        {
            try
            {
                m.put(c.getName(), c.getAccessor().invoke(r));
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new IllegalStateException("cannot read " + r.getClass().getSimpleName() + "." + c.getName(), ex);
            }
        }
        return m;
    }
}
