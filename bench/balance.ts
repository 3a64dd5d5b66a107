/**
 * Load balancing over endpoints of one model: p50, p99 and error rate of balance()'s strategies
 * (P2C over peak-EWMA, round-robin, random, weighted by capacity) under the same open-loop load
 * on the same endpoints, and what the choice itself costs.
 *
 * Endpoints are simulated in this process with timers (no HTTP, so the numbers show the choice,
 * not socket overhead): each serves 8 calls at a time with a mean service time of 10, 20, 50 or
 * 200 ms (uniform ±25 %; the test suite's 1/2/5/20 ms set scaled by ten, see SERVICE_MS),
 * queueing the rest, and a fifth (20 ms) fails 30 % of its calls. Calls
 * arrive as a Poisson stream at 70 % of the capacity of the four healthy endpoints, each with a 2 s budget; balance
 * retries a failure once on another endpoint and ejects outliers (the defaults) for every
 * strategy. The reference for latency is the fastest endpoint's own p99, measured alone in the
 * same run at 70 % of its own capacity. Rounds interleave the configurations; figures are the
 * median over rounds.
 *
 * Goals: P2C-EWMA p99 ≤ 0.5 × round-robin's; within 1.5 × the fastest endpoint's own p99; the
 * choice under 300 ns (the choice alone against picking by index).
 *
 *   pnpm bench balance            (about a minute)
 *   pnpm bench balance --smoke
 */
import {
  type BalanceCandidate,
  type BalanceStrategy,
  balance,
  costAware,
  p2cEwma,
  randomChoice,
  roundRobin,
  weighted,
} from '@ballast/client';
import { BallastError, defineModel, type InferOptions, type Model, pipeline, signalOf } from '@ballast/core';
import { CAPACITY, FAILING, SERVICE_MS, SLOTS, summarize } from './_balance-scenario.js';
import { nsPerCall, percentile, size, smoke, table } from './_harness.js';

const seconds = size(3, 0.5);
// Each round starts a fresh balancer; the calls of its first second (readings still empty, the
// first probes) are sent but not counted, for every configuration alike: a service's balancer runs
// for hours, and the figures are its steady state.
const warmupSeconds = size(1, 0.1);
const rounds = size(3, 1);
const capacity = CAPACITY;
const rate = 0.7 * capacity;

/** Endpoints each call was sent to, by call number (the input), in order: the tail breakdown. */
const attempts = new Map<number, string[]>();

/** A simulated model server: SLOTS calls at a time, FIFO queue, service time ±25 % around `ms`. */
function simulatedEndpoint(id: string, ms: number, failRatio: number): Model<number, string> {
  let busy = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    busy--;
    const next = queue.shift();
    if (next) next();
  };
  return defineModel({
    name: id,
    kind: 'client',
    infer: (call: number, options?: InferOptions) =>
      new Promise<string>((resolve, reject) => {
        attempts.get(call)?.push(id);
        const signal = signalOf(options);
        const serve = () => {
          if (signal?.aborted) {
            // The caller gave up while queued: the free slot goes to the next in line.
            reject(signal.reason);
            queue.shift()?.();
            return;
          }
          busy++;
          setTimeout(
            () => {
              release();
              if (Math.random() < failRatio) reject(new BallastError('UPSTREAM', `${id}: internal error`));
              else resolve(id);
            },
            ms * (0.75 + 0.5 * Math.random()),
          );
        };
        if (busy < SLOTS) serve();
        else queue.push(serve);
      }),
  });
}

function endpointName(i: number): string {
  return i === FAILING ? `${SERVICE_MS[i]}ms-failing` : `${SERVICE_MS[i]}ms`;
}

function endpoints() {
  return SERVICE_MS.map((ms, i) => ({
    id: endpointName(i),
    model: simulatedEndpoint(endpointName(i), ms, i === FAILING ? 0.3 : 0),
    weight: (SLOTS * 1000) / ms,
  }));
}

/**
 * Open-loop Poisson arrivals at `callsPerSecond` for `durationS`; latencies of every call, and
 * where the slowest 1 % went: the share of those calls by the endpoints they were sent to
 * (`20ms-failing > 10ms` is a failure retried on the 10 ms endpoint).
 */
async function openLoop(model: Model<number, string>, callsPerSecond: number, durationS: number, warmupS = warmupSeconds) {
  const latencies: number[] = [];
  const paths: string[] = [];
  let errors = 0;
  let call = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  let nextAt = 0;
  while (nextAt < (warmupS + durationS) * 1000) {
    const now = performance.now() - started;
    while (nextAt <= now) {
      const t0 = performance.now();
      const id = call++;
      const counted = nextAt >= warmupS * 1000;
      const sentTo: string[] = [];
      attempts.set(id, sentTo);
      const done = (failed: boolean) => {
        attempts.delete(id);
        if (!counted) return;
        if (failed) errors++;
        latencies.push(performance.now() - t0);
        paths.push(sentTo.join(' > ') + (failed ? ' (failed)' : ''));
      };
      pending.push(
        model.infer(id, { timeoutMs: 2000 }).then(
          () => done(false),
          () => done(true),
        ),
      );
      nextAt += (-Math.log(1 - Math.random()) * 1000) / callsPerSecond;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  return summarize(latencies, paths, errors);
}

console.log(
  `${SERVICE_MS.length} simulated endpoints (${SERVICE_MS.join(', ')} ms, ${SLOTS} slots each; the last fails 30 %), ` +
    `healthy capacity ${Math.round(capacity)} calls/s, load ${Math.round(rate)} calls/s (70 %) for ${rounds} interleaved rounds of ${seconds} s per strategy (after ${warmupSeconds} s not counted)${smoke ? ' (smoke)' : ''}\n`,
);

const strategies = {
  'p2c-ewma': p2cEwma,
  'round-robin': roundRobin,
  random: randomChoice,
  weighted,
  'cost-aware (50 ms objective)': () => costAware({ latencyObjectiveMs: 50 }),
};
const fastestName = `fastest endpoint alone (${SERVICE_MS[0]} ms, 70 % of its capacity)`;
type Result = Awaited<ReturnType<typeof openLoop>>;
const runs = new Map<string, Result[]>();
// Rounds interleave the configurations, so a burst of load from elsewhere on the machine hits
// them alike; each figure is the median of its rounds.
for (let round = 0; round < rounds; round++) {
  // The reference: the fastest endpoint alone, at 70 % of its own capacity.
  const alone = await openLoop(
    pipeline(simulatedEndpoint('alone', SERVICE_MS[0] as number, 0)),
    (0.7 * SLOTS * 1000) / (SERVICE_MS[0] as number),
    seconds,
  );
  runs.set(fastestName, [...(runs.get(fastestName) ?? []), alone]);
  for (const [name, strategy] of Object.entries(strategies)) {
    const model = balance({ name: 'bench', endpoints: endpoints(), strategy: strategy() });
    runs.set(name, [...(runs.get(name) ?? []), await openLoop(pipeline(model), rate, seconds)]);
  }
}
const median = (values: number[]) => percentile(values, 50);
const results: Record<string, Result> = {};
for (const [name, list] of runs) {
  const tail = new Map<string, number>();
  for (const r of list) for (const [path, count] of r.tail) tail.set(path, (tail.get(path) ?? 0) + count);
  results[name] = {
    calls: list.reduce((sum, r) => sum + r.calls, 0),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    errorRate: median(list.map((r) => r.errorRate)),
    tail,
    tailCalls: list.reduce((sum, r) => sum + r.tailCalls, 0),
  };
}
const fastest = results[fastestName] as Result;

const p2c = results['p2c-ewma'] as (typeof results)[string];
const rr = results['round-robin'] as (typeof results)[string];
table(
  ['strategy', 'calls', 'p50 ms', 'p99 ms', 'errors %', 'p99 / p2c'],
  Object.entries(results).map(([name, r]) => [name, String(r.calls), r.p50, r.p99, 100 * r.errorRate, r.p99 / p2c.p99]),
);
console.log('\nwhere the slowest 1 % of calls went (all rounds; endpoints in the order tried):');
for (const [name, r] of Object.entries(results)) {
  if (name === fastestName) continue;
  const parts = [...r.tail].sort((x, y) => y[1] - x[1]).map(([path, count]) => `${path} ${((100 * count) / r.tailCalls).toFixed(0)} %`);
  console.log(`  ${name}: ${parts.join(', ')}`);
}
console.log(`\np2c-ewma p99 / round-robin p99: ${(p2c.p99 / rr.p99).toFixed(3)} (goal ≤ 0.5)`);
console.log(`p2c-ewma p99 / fastest endpoint's own p99: ${(p2c.p99 / fastest.p99).toFixed(2)} (goal ≤ 1.5)`);

// The choice alone: strategy.choose() over the balancer's own 5 endpoints (captured from a real
// call, latencies known) in a tight loop, against picking by index in the same loop.
{
  let captured: readonly BalanceCandidate[] = [];
  const inner = p2cEwma();
  const capture: BalanceStrategy = {
    name: 'capture',
    choose(candidates, now, random) {
      captured = candidates;
      return inner.choose(candidates, now, random);
    },
  };
  // No probe falls due during the loop (the endpoints idle there): the choice measured is the
  // common one, comparing loads, with the probe check included.
  const set = balance({
    name: 'choice',
    endpoints: endpoints(),
    strategy: capture,
    slowStartMs: 0,
    outlier: false,
    probeIntervalMs: 3_600_000,
  });
  for (let i = 0; i < 200; i++) await set.infer(1).catch(() => undefined);
  const iterations = size(2_000_000, 20_000);
  const loops = size(7, 1);
  const loop = (choose: (now: number) => BalanceCandidate): number => {
    let best = Number.POSITIVE_INFINITY;
    let sink = 0;
    for (let r = 0; r < loops; r++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) sink += choose(performance.now()).outstanding;
      best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
    }
    if (sink < 0) console.log(sink);
    return best;
  };
  let position = 0;
  const byIndex = loop(() => captured[position++ % captured.length] as BalanceCandidate);
  const rows: (string | number)[][] = [['by index + clock read (baseline)', byIndex, 0]];
  for (const [name, make] of Object.entries(strategies)) {
    const strategy = make();
    const ns = loop((now) => strategy.choose(captured, now, Math.random));
    rows.push([name, ns, ns - byIndex]);
  }
  console.log(`\nthe choice alone over ${captured.length} endpoints, best of ${loops} rounds of ${iterations.toLocaleString('en-US')}\n`);
  table(['strategy', 'ns/choice', 'over baseline (ns)'], rows);
  const p2cRow = rows[1] as (string | number)[];
  console.log(`\np2c-ewma choice: ${(p2cRow[2] as number).toFixed(0)} ns over the baseline (goal < 300 ns)`);

  // The whole balanced call (choice, bookkeeping, await) over an endpoint that answers at once.
  const instant = defineModel({ name: 'instant', infer: async (x: number) => x });
  const direct = await nsPerCall(() => instant.infer(1), size(200_000, 2_000), loops);
  const balanced = balance({ name: 'overhead', endpoints: [0, 1, 2, 3, 4].map((i) => ({ id: `i${i}`, model: instant })), slowStartMs: 0 });
  const through = await nsPerCall(() => balanced.infer(1), size(200_000, 2_000), loops);
  console.log(
    `whole balanced call over an instant endpoint: ${(through - direct).toFixed(0)} ns over calling it directly (${direct.toFixed(0)} ns)`,
  );
}
