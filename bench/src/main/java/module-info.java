/** dmasim's command line, benchmarks and reports. */
module dev.dmasim.bench {
    requires dev.dmasim.engine;
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
