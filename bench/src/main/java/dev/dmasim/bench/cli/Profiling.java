package dev.dmasim.bench.cli;

import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;
import one.profiler.AsyncProfiler;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code --profile async|jfr} of the benchmark commands: profiles the whole run in this JVM.
 * <ul>
 * <li>{@code async}: async-profiler through its Java API (the library bundled in the async-profiler jar is extracted
 * by {@link AsyncProfiler#getInstance()}), CPU samples every 1 ms, written as a flame graph HTML. When the kernel
 * refuses perf events ({@code perf_event_paranoid}, containers), it falls back to {@code event=itimer} and says so.</li>
 * <li>{@code jfr}: a JDK Flight Recorder recording with the JDK's "profile" settings, dumped to a {@code .jfr} file
 * and summarised as the 10 hottest methods (top frames of {@code jdk.ExecutionSample} events).</li>
 * </ul>
 * Not thread-safe: start and stop from the command's thread.
 */
public abstract class Profiling
{
    /** The profilers {@code --profile} accepts. */
    public enum Kind
    {
        /** async-profiler, flame graph HTML. */
        async,
        /** JDK Flight Recorder, .jfr file and hot methods. */
        jfr
    }

    /** The file the profile is written to. */
    protected final Path file;

    Profiling(final Path file)
    {
        this.file = file;
    }

    /**
     * Starts profiling; the profile will be written into {@code dir} (created if missing) as {@code base.html}
     * (async) or {@code base.jfr} (jfr).
     *
     * @param out where to say what happens.
     * @throws IllegalStateException if the profiler cannot be started at all.
     */
    public static Profiling start(final Kind kind, final Path dir, final String base, final PrintWriter out)
        throws IOException
    {
        Files.createDirectories(dir);
        return switch (kind)
        {
            case async -> Async.start(dir.resolve(base + ".html"), out);
            case jfr -> Jfr.start(dir.resolve(base + ".jfr"));
        };
    }

    /** Stops profiling, writes the file and prints where it went (and, for JFR, the hot methods) on {@code out}. */
    public abstract void stop(PrintWriter out) throws IOException;

    /** @return the profile file. */
    public Path file()
    {
        return file;
    }

    private static final class Async extends Profiling
    {
        private final AsyncProfiler profiler;

        private Async(final Path file, final AsyncProfiler profiler)
        {
            super(file);
            this.profiler = profiler;
        }

        static Async start(final Path file, final PrintWriter out) throws IOException
        {
            final AsyncProfiler profiler;
            try
            {
                profiler = AsyncProfiler.getInstance();
            }
            catch (final Throwable t)
            {
                throw new IllegalStateException("async-profiler cannot be loaded on this platform (" + t + "); " +
                    "try --profile jfr", t);
            }
            try
            {
                profiler.execute("start,event=cpu,interval=1ms");
            }
            catch (final IllegalStateException ex)
            {
                out.println("profile: perf events refused (" + ex.getMessage().strip() + "): sampling with " +
                    "event=itimer instead");
                profiler.execute("start,event=itimer,interval=1ms");
            }
            return new Async(file, profiler);
        }

        @Override
        public void stop(final PrintWriter out) throws IOException
        {
            profiler.execute("stop,file=" + file.toAbsolutePath());
            out.println("profile: async-profiler flame graph written to " + file);
        }
    }

    private static final class Jfr extends Profiling
    {
        private final Recording recording;

        private Jfr(final Path file, final Recording recording)
        {
            super(file);
            this.recording = recording;
        }

        static Jfr start(final Path file) throws IOException
        {
            final Configuration config;
            try
            {
                config = Configuration.getConfiguration("profile");
            }
            catch (final ParseException ex)
            {
                throw new IOException("the JDK's JFR 'profile' settings cannot be read", ex);
            }
            final Recording r = new Recording(config);
            r.setName("dmasim");
            r.setToDisk(true);
            r.start();
            return new Jfr(file, r);
        }

        @Override
        public void stop(final PrintWriter out) throws IOException
        {
            recording.stop();
            recording.dump(file);
            recording.close();
            out.println("profile: JFR recording written to " + file +
                " (open it in JDK Mission Control, or: jfr view hot-methods " + file + ")");
            final List<Map.Entry<String, Long>> top = hotMethods(file, 10);
            long total = 0;
            for (final Map.Entry<String, Long> e : hotMethods(file, Integer.MAX_VALUE))
            {
                total += e.getValue();
            }
            out.printf(Locale.ROOT, "hot methods (top frames of %d execution samples):%n", total);
            for (final Map.Entry<String, Long> e : top)
            {
                out.printf(Locale.ROOT, "  %5.1f%% %7d  %s%n", 100.0 * e.getValue() / Math.max(1, total), e.getValue(),
                    e.getKey());
            }
        }
    }

    /** @return the {@code limit} methods most often on top of {@code jdk.ExecutionSample} stacks, most first. */
    static List<Map.Entry<String, Long>> hotMethods(final Path jfrFile, final int limit) throws IOException
    {
        final Map<String, Long> counts = new HashMap<>();
        for (final RecordedEvent e : RecordingFile.readAllEvents(jfrFile))
        {
            if (!e.getEventType().getName().equals("jdk.ExecutionSample"))
            {
                continue;
            }
            final RecordedStackTrace st = e.getStackTrace();
            if (st == null || st.getFrames().isEmpty())
            {
                continue;
            }
            final RecordedFrame f = st.getFrames().getFirst();
            final RecordedMethod m = f.getMethod();
            final String name = m == null ? "(unknown)" : m.getType().getName() + "." + m.getName();
            counts.merge(name, 1L, Long::sum);
        }
        final List<Map.Entry<String, Long>> list = new ArrayList<>(counts.entrySet());
        list.sort(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
        return list.subList(0, Math.min(limit, list.size()));
    }
}
