/**
 * What resilience costs per call: ns/call over a bare async call, measured in one run, for
 *   (a) a Ballast client with retry + circuit breaker + deadline + bulkhead (the path that reaches the model),
 *   (b) cockatiel wrap(retry, circuitBreaker, timeout),
 *   (c) an opossum circuit breaker with its timeout,
 *   (d) a Ballast cache hit for a 16-float input,
 * plus, for reference, (a) with a result cache that misses and cockatiel without its timeout.
 * Goals: (a) at or below (c); (a) at least 10x below (b); (d) under 1 us.
 *
 *   pnpm bench client-overhead
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { createClient, resultCache } from '@ballast/client';
import { defineModel, pipeline } from '@ballast/core';
import { ConsecutiveBreaker, circuitBreaker, handleAll, retry, TimeoutStrategy, timeout, wrap } from 'cockatiel';
import { nsPerCall, size, table } from './_harness.js';

// opossum ships no types and the bench workspace has no @types package: describe the members used.
interface OpossumBreaker {
  fire(...args: unknown[]): Promise<unknown>;
  shutdown(): void;
}
type OpossumConstructor = new (action: (...args: never[]) => Promise<unknown>, options: Record<string, unknown>) => OpossumBreaker;
const require = createRequire(import.meta.url);
const CircuitBreaker = require('opossum') as OpossumConstructor;

const iterations = size(200_000, 2_000);
const rounds = size(7, 1);

async function work(x: number): Promise<number> {
  return x + 1;
}
async function score(input: Float32Array): Promise<number> {
  return input[0] as number;
}

// (a) Ballast: the same policies as the peers, deadline 1 s per call.
const ballast = createClient({
  model: defineModel({ name: 'bare', infer: work }),
  timeoutMs: 1_000,
  retry: { maxAttempts: 2 },
  breaker: { consecutiveFailures: 5 },
  bulkhead: { maxConcurrent: 1_000 },
});
let unique = 0;
const ballastWithCache = createClient({
  model: defineModel({ name: 'bare', infer: work }),
  timeoutMs: 1_000,
  retry: { maxAttempts: 2 },
  breaker: { consecutiveFailures: 5 },
  bulkhead: { maxConcurrent: 1_000 },
  cache: { max: 1_000 },
});

// (b) cockatiel with the same policies.
const cockatiel = wrap(
  retry(handleAll, { maxAttempts: 1 }),
  circuitBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) }),
  timeout(1_000, TimeoutStrategy.Aggressive),
);
const cockatielNoTimeout = wrap(
  retry(handleAll, { maxAttempts: 1 }),
  circuitBreaker(handleAll, { halfOpenAfter: 5_000, breaker: new ConsecutiveBreaker(5) }),
);

// (c) opossum: a breaker with its timeout.
const opossum = new CircuitBreaker(work, { timeout: 1_000, errorThresholdPercentage: 50, resetTimeout: 5_000 });

// (d) cache hits: the same 16 floats every call.
const input = new Float32Array(16).map((_, i) => i / 16);
const cachedClient = createClient({ model: defineModel({ name: 'scorer', infer: score }), cache: { max: 1_000 } });
const cachedPipeline = pipeline(defineModel({ name: 'scorer', infer: score }), resultCache({ max: 1_000 }));

let sink = 0;
// Rounds interleave the variants (best of each kept), so load that comes and goes on a shared
// machine hits every variant alike instead of whichever ran at the wrong moment.
const variants: [string, () => Promise<unknown>, number][] = [
  ['bare', async () => (sink += await work(1)), iterations],
  ['a', async () => (sink += await ballast.infer(1)), iterations],
  ['aMiss', async () => (sink += await ballastWithCache.infer(unique++)), iterations],
  ['b', async () => (sink += await cockatiel.execute(() => work(1))), size(50_000, 1_000)],
  ['bNoTimeout', async () => (sink += await cockatielNoTimeout.execute(() => work(1))), iterations],
  ['c', async () => (sink += (await opossum.fire(1)) as number), iterations],
  ['d', async () => (sink += (await cachedClient.infer(input)) as number), iterations],
  ['dPipeline', async () => (sink += (await cachedPipeline.infer(input)) as number), iterations],
];
const best = new Map<string, number>();
for (let round = 0; round < rounds; round++) {
  for (const [name, fn, count] of variants)
    best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, await nsPerCall(fn, count, 1)));
}
const get = (name: string) => best.get(name) as number;
const [bare, a, aMiss, b, bNoTimeout, c, d, dPipeline] = ['bare', 'a', 'aMiss', 'b', 'bNoTimeout', 'c', 'd', 'dPipeline'].map(
  get,
) as number[] as [number, number, number, number, number, number, number, number];
opossum.shutdown();

const over = (x: number) => x - bare;
console.log(
  `${iterations.toLocaleString('en-US')} sequential calls per round, best of ${rounds} interleaved rounds; load average ${(os.loadavg()[0] ?? 0).toFixed(1)}\n`,
);
table(
  ['call', 'ns/call', 'over bare (ns)', 'x bare'],
  [
    ['bare async call', bare, 0, 1],
    ['(a) Ballast retry+breaker+deadline+bulkhead', a, over(a), a / bare],
    ['    same, with a result cache that misses', aMiss, over(aMiss), aMiss / bare],
    ['(b) cockatiel wrap(retry, breaker, timeout)', b, over(b), b / bare],
    ['    cockatiel wrap(retry, breaker)', bNoTimeout, over(bNoTimeout), bNoTimeout / bare],
    ['(c) opossum breaker with timeout', c, over(c), c / bare],
    ['(d) Ballast cache hit, createClient, 16 floats', d, over(d), d / bare],
    ['    cache hit, pipeline(resultCache()), 16 floats', dPipeline, over(dPipeline), dPipeline / bare],
  ],
);
console.log(
  `\n(a) vs (c) opossum: ${(over(a) / over(c)).toFixed(2)}x its overhead (goal <= 1); ` +
    `(b) cockatiel with timeout: ${(over(b) / over(a)).toFixed(1)}x (a)'s overhead (goal >= 10); ` +
    `(d) cache hit: ${d.toFixed(0)} ns per call (goal < 1000)`,
);
if (sink === 42) console.log('');
