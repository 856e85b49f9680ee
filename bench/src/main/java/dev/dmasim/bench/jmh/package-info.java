/**
 * dmasim's JMH benchmarks, grouped by question: {@code baseline} (what a plain implementation or the raw
 * operation costs), {@code throughput} (dmasim's paths, each compared with its baseline in the same run) and
 * {@code latency} (per-operation sample distributions). {@code dmasim goals} runs the subset that the
 * performance goals are measured on; docs/BENCHMARKS.md has the recipes and the figures.
 */
package dev.dmasim.bench.jmh;
