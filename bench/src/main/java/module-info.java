/** dmasim's command line, benchmarks and reports. */
module dev.dmasim.bench {
    requires transitive dev.dmasim.engine; // StressConfig/ModeResult expose engine and sim types
    requires info.picocli;
    requires HdrHistogram;
    requires jmh.core;
    exports dev.dmasim.bench.stress;
    requires xchart;
    requires async.profiler;
    requires java.management;
    requires jdk.jfr;
    exports dev.dmasim.bench.report;
    opens dev.dmasim.bench.cli to info.picocli;
}
