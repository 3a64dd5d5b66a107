/**
 * P2C-EWMA's tail on the balance bench's endpoints, on a virtual clock: the same five endpoints
 * (8 calls at a time each, 10, 20, 50 and 200 ms ±25 %, a fifth 20 ms one failing 30 % of its
 * calls), the same Poisson load at 70 % of the healthy endpoints' capacity, the same defaults
 * (outlier ejection, one retry on another endpoint), but no timers: time moves from one event to
 * the next, so the figures show the balancer's choices alone, not how late the machine's timers
 * fire (bench/balance.ts measures on real timers, where a busy machine adds milliseconds to every
 * latency). The reference is the fastest endpoint alone at 70 % of its own capacity on the same
 * virtual clock, as in bench/balance.ts. A third row gives a yardstick: a strategy that knows every
 * endpoint's true service time and slots and takes the lowest expected latency over all of them.
 * A fourth row gives the lower bound no strategy can beat on this set (`lowerBoundP99`: every call
 * served at once, the fastest endpoints filled first up to 100 % of their capacity), so the goal
 * can be read against what is possible. Seeded, so a run repeats exactly.
 *
 * Goal (as in bench/balance.ts): P2C-EWMA p99 within 1.5 × the fastest endpoint's own p99.
 *
 *   pnpm bench balance-virtual-clock     (a few seconds)
 *   pnpm bench balance-virtual-clock --smoke
 */
import { type BalanceCandidate, type BalanceStrategy, balance } from '@ballast/client';
import { BallastError, defineModel, type Model } from '@ballast/core';
import { CAPACITY, FAILING, SERVICE_MS, SLOTS, summarize } from './_balance-scenario.js';
import { percentile, size, smoke, table } from './_harness.js';

const seconds = size(30, 2);
const seeds = size(3, 1);
const capacity = CAPACITY;

/** Park–Miller: a seeded random source in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return (state - 1) / 2147483646;
  };
}

/** Pending completions, ordered by time (a binary heap). */
class Events {
  private readonly heap: { at: number; run: () => void }[] = [];
  get size(): number {
    return this.heap.length;
  }
  get nextAt(): number {
    return this.heap[0]?.at ?? Number.POSITIVE_INFINITY;
  }
  push(at: number, run: () => void): void {
    const heap = this.heap;
    heap.push({ at, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as { at: number }).at <= at) break;
      [heap[parent], heap[i]] = [heap[i] as { at: number; run: () => void }, heap[parent] as { at: number; run: () => void }];
      i = parent;
    }
  }
  pop(): { at: number; run: () => void } {
    const heap = this.heap;
    const top = heap[0] as { at: number; run: () => void };
    const last = heap.pop() as { at: number; run: () => void };
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && (heap[left] as { at: number }).at < (heap[smallest] as { at: number }).at) smallest = left;
        if (right < heap.length && (heap[right] as { at: number }).at < (heap[smallest] as { at: number }).at) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i] as { at: number; run: () => void }, heap[smallest] as { at: number; run: () => void }];
        i = smallest;
      }
    }
    return top;
  }
}

/**
 * What a balancer could do if it knew every endpoint's true mean service time and slots: the
 * endpoint where one more call can expect the lowest latency, over all of them. Not a strategy
 * to ship (nothing knows these numbers in production), but the yardstick for how close to the
 * fastest endpoint's own p99 a non-clairvoyant balancer can come on this set.
 */
function knownServiceTimes(): BalanceStrategy {
  const expected = (candidate: BalanceCandidate) => {
    const ms = Number.parseFloat(candidate.id);
    return ms * Math.max(1, (candidate.outstanding + 1) / SLOTS);
  };
  return {
    name: 'known-service-times',
    choose(candidates) {
      let best = candidates[0] as BalanceCandidate;
      for (const candidate of candidates) if (expected(candidate) < expected(best)) best = candidate;
      return best;
    },
  };
}

/**
 * The p99 that no strategy can beat on this set, ms. A call's latency is at least its service
 * time, service times do not depend on where a call goes, and in the long run an endpoint serves
 * at most its capacity (slots ÷ mean service time). So the share of calls slower than t is at
 * least Σ share_i · P(S_i > t), and the shares that make it smallest for every t fill the
 * endpoints fastest first, each up to 100 % of its capacity (the service times are stochastically
 * ordered by their means, so the greedy assignment is the least at every t). No queueing at all,
 * which no real assignment at 100 % utilisation gets. The p99 is the t where that share is 1 %,
 * found by bisection on the service-time distributions (uniform over mean ±25 %, as simulated).
 * The failing endpoint is left out: it is as fast as the second endpoint, which has room for
 * all the load the fastest leaves, so adding it changes nothing.
 */
function lowerBoundP99(rate: number): number {
  const healthy = SERVICE_MS.filter((_, i) => i !== FAILING).sort((a, b) => a - b);
  const shares: { ms: number; share: number }[] = [];
  let left = rate;
  for (const ms of healthy) {
    const take = Math.min(left, (SLOTS * 1000) / ms);
    if (take > 0) shares.push({ ms, share: take / rate });
    left -= take;
  }
  const slower = (t: number) =>
    shares.reduce((sum, { ms, share }) => sum + share * Math.min(1, Math.max(0, (1.25 * ms - t) / (0.5 * ms))), 0);
  let low = 0;
  let high = 1.25 * Math.max(...healthy);
  for (let i = 0; i < 100; i++) {
    const mid = (low + high) / 2;
    if (slower(mid) > 0.01) low = mid;
    else high = mid;
  }
  return high;
}

/** Lets every promise reaction run (the balancer books an answer, or retries, before time moves on). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(seed: number, mode: 'alone' | 'p2c-ewma' | 'known') {
  const alone = mode === 'alone';
  const random = seeded(seed);
  const clock = { now: 0 };
  const events = new Events();
  const served = new Map<number, string>();
  /** A simulated model server on the virtual clock: SLOTS calls at a time, FIFO queue. */
  const endpoint = (id: string, ms: number, failRatio: number): Model<number, string> => {
    let busy = 0;
    const queue: (() => void)[] = [];
    return defineModel({
      name: id,
      kind: 'client',
      infer: (call: number) =>
        new Promise<string>((resolve, reject) => {
          served.set(call, id);
          const serve = () => {
            busy++;
            events.push(clock.now + ms * (0.75 + 0.5 * random()), () => {
              busy--;
              queue.shift()?.();
              if (random() < failRatio) reject(new BallastError('UPSTREAM', `${id}: internal error`));
              else resolve(id);
            });
          };
          if (busy < SLOTS) serve();
          else queue.push(serve);
        }),
    });
  };
  const name = (i: number) => (i === FAILING ? `${SERVICE_MS[i]}ms-failing` : `${SERVICE_MS[i]}ms`);
  const model: Model<number, string> = alone
    ? endpoint('alone', SERVICE_MS[0] as number, 0)
    : balance({
        name: 'virtual',
        endpoints: SERVICE_MS.map((ms, i) => ({
          id: name(i),
          model: endpoint(name(i), ms, i === FAILING ? 0.3 : 0),
          weight: (SLOTS * 1000) / ms,
        })),
        clock: () => clock.now,
        random,
        ...(mode === 'known' ? { strategy: knownServiceTimes() } : {}),
      });
  const rate = alone ? (0.7 * SLOTS * 1000) / (SERVICE_MS[0] as number) : 0.7 * capacity;
  const latencies: number[] = [];
  const where: string[] = [];
  let errors = 0;
  let call = 0;
  let nextArrival = 0;
  const end = seconds * 1000;
  while (nextArrival < end || events.size > 0) {
    if (nextArrival < end && nextArrival <= events.nextAt) {
      clock.now = nextArrival;
      const sent = clock.now;
      const id = call++;
      const done = (failed: boolean) => {
        if (failed) errors++;
        latencies.push(clock.now - sent);
        where.push(served.get(id) ?? '?');
        served.delete(id);
      };
      model.infer(id).then(
        () => done(false),
        () => done(true),
      );
      nextArrival += (-Math.log(1 - random()) * 1000) / rate;
    } else {
      const event = events.pop();
      clock.now = event.at;
      event.run();
    }
    await settle();
  }
  return summarize(latencies, where, errors);
}

console.log(
  `virtual clock: ${SERVICE_MS.length} simulated endpoints (${SERVICE_MS.join(', ')} ms, ${SLOTS} slots each; the last fails 30 %), ` +
    `load ${Math.round(0.7 * capacity)} calls/s (70 % of the healthy capacity) for ${seconds} s, ${seeds} seed(s)${smoke ? ' (smoke)' : ''}\n`,
);
const rows: (string | number)[][] = [];
const ratios: number[] = [];
const knownRatios: number[] = [];
const boundRatios: number[] = [];
const bound = lowerBoundP99(0.7 * capacity);
for (let seed = 1; seed <= seeds; seed++) {
  const reference = await run(seed, 'alone');
  const p2c = await run(seed, 'p2c-ewma');
  const known = await run(seed, 'known');
  ratios.push(p2c.p99 / reference.p99);
  knownRatios.push(known.p99 / reference.p99);
  boundRatios.push(bound / reference.p99);
  const tail = (r: typeof p2c) =>
    [...r.tail]
      .sort((x, y) => y[1] - x[1])
      .map(([id, count]) => `${id} ${((100 * count) / r.tailCalls).toFixed(0)} %`)
      .join(', ');
  rows.push([`seed ${seed}: fastest endpoint alone`, reference.p50, reference.p99, 100 * reference.errorRate, 1, '']);
  rows.push([`seed ${seed}: p2c-ewma`, p2c.p50, p2c.p99, 100 * p2c.errorRate, p2c.p99 / reference.p99, tail(p2c)]);
  rows.push([`seed ${seed}: service times known`, known.p50, known.p99, 100 * known.errorRate, known.p99 / reference.p99, tail(known)]);
  rows.push([`seed ${seed}: lower bound (no queue, fastest first)`, '', bound, '', bound / reference.p99, '']);
}
table(['run', 'p50 ms', 'p99 ms', 'errors %', 'p99 / fastest alone', 'slowest 1 % served by (last attempt)'], rows);
console.log(
  `\np2c-ewma p99 / fastest endpoint's own p99 (virtual clock, median of ${seeds}): ${percentile(ratios, 50).toFixed(2)} (goal ≤ 1.5); ` +
    `with service times known: ${percentile(knownRatios, 50).toFixed(2)}; ` +
    `lower bound for any strategy: ${percentile(boundRatios, 50).toFixed(2)}`,
);
