/** Per-operation latency distributions (JMH SampleTime): map and unmap timed separately. */
package dev.dmasim.bench.jmh.latency;
