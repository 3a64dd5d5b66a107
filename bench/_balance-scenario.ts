/**
 * The scenario both balance benchmarks run (bench/balance.ts on real timers,
 * bench/balance-virtual-clock.ts on a virtual clock), and how a run is summed up.
 */
import { percentile } from './_harness.js';

/** Calls each simulated endpoint serves at a time; the rest queue. */
export const SLOTS = 8;
/**
 * Mean service times (±25 %): the test suite's 1, 2, 5 and 20 ms endpoints, ten times slower
 * (Node timers fire on a 1 ms grid and late under load, so a simulated 1 ms service time would
 * measure the timer, not the balancer), and a fifth 20 ms endpoint that fails.
 */
export const SERVICE_MS = [10, 20, 50, 200, 20];
/** Index of the endpoint failing 30 % of its calls. */
export const FAILING = 4;
/**
 * The set's capacity in calls/s, counting the four healthy endpoints: the failing one is ejected
 * most of the time (by every strategy), so its capacity cannot be counted on.
 */
export const CAPACITY = SERVICE_MS.reduce((sum, ms, i) => (i === FAILING ? sum : sum + (SLOTS * 1000) / ms), 0);

/** A run summed up: p50, p99, error rate, and where its slowest 1 % went (`tail`, by label). */
export interface RunSummary {
  calls: number;
  p50: number;
  p99: number;
  errorRate: number;
  tail: Map<string, number>;
  tailCalls: number;
}

/** Sums up a run from each call's latency and label (the endpoints it went to). */
export function summarize(latencies: readonly number[], labels: readonly string[], errors: number): RunSummary {
  const p99 = percentile(latencies, 99);
  const tail = new Map<string, number>();
  let tailCalls = 0;
  for (let i = 0; i < latencies.length; i++) {
    if ((latencies[i] as number) < p99) continue;
    tailCalls++;
    tail.set(labels[i] as string, (tail.get(labels[i] as string) ?? 0) + 1);
  }
  return { calls: latencies.length, p50: percentile(latencies, 50), p99, errorRate: errors / latencies.length, tail, tailCalls };
}
