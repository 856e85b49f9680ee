/**
 * {@code dmasim goals}: runs the JMH subset the performance goals are measured on (Runner API), turns the
 * results into {@link dev.dmasim.bench.goals.Measurements}, evaluates every goal
 * ({@link dev.dmasim.bench.goals.GoalEvaluator}) and prints one line per goal ({@link dev.dmasim.bench.goals.GoalReport}).
 */
package dev.dmasim.bench.goals;
