/**
 * Shared state on Redis: what Ballast adds over the Redis round trip it cannot avoid, measured in
 * one run against one redis-server this bench starts on 127.0.0.1. One section per store.
 *
 * Result cache:
 *   (a) a cache hit through a Ballast client with redisCacheStore (GET, decode, policy),
 *   (b) a raw GET of the same bytes with the same node-redis client (the round trip alone).
 *   (c) for reference, (a) over an in-memory store that also serializes: Ballast's own CPU per hit.
 *   (b2) the same GET without node-redis' per-command timer (node-redis bounds every command by
 *   default, 5 s, with an AbortSignal.timeout per command; the store keeps its commands bounded
 *   with one timer of its own instead): an unbounded GET, the round trip alone, the floor.
 *   Goal: (a) at least 0.8x the calls/s of (b), sequential and with 16 callers; (a) against (b2)
 *   printed beside it to show how far from the bare round trip a hit is; Ballast's added latency
 *   per call (p50, p99 of (a) minus (b) and minus (b2), calls interleaved) beside the round trip.
 *
 * Rate limits:
 *   decisions per second through `redisRateLimiter` (and through the client's `rateLimit`
 *   middleware over it) against raw `EVALSHA` round trips of the same Lua script with the same
 *   node-redis client and the same concurrency (node-redis pipelines the concurrent commands on its
 *   one connection either way), and the latency Ballast adds at p50/p99 on sequential calls.
 *   Goal: >= 0.8x raw.
 *
 *   pnpm bench redis [--smoke]
 */
import { type CacheStore, createClient as createBallastClient, rateLimit } from '@ballast/client';
import { defineModel, pipeline } from '@ballast/core';
import { redisCacheStore, redisRateLimiter, TOKEN_BUCKET_SCRIPT } from '@ballast/redis';
import { createClient, RESP_TYPES } from 'redis';
import { type RedisServer, startRedis } from '../packages/redis/test/redis-server.js';
import { closedLoop, nsPerCall, percentile, size, smoke, table } from './_harness.js';

// ── Result cache ─────────────────────────────────────────────────────────────────────────────

async function cacheSection(server: RedisServer): Promise<void> {
  console.log('\n-- result cache: hit through Ballast vs raw GET of the same bytes --');
  const redis = createClient({ url: server.url });
  redis.on('error', () => {});
  await redis.connect();
  const binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const store = redisCacheStore({ client: redis, prefix: 'bench:' });
  // A typical small model's output: a [1, 256] float32 tensor (1 KiB).
  const output = { type: 'float32', dims: [1, 256], data: new Float32Array(256).map((_, i) => Math.sin(i)) };
  const client = createBallastClient({
    model: { name: 'scorer', version: '1', infer: async () => output },
    timeoutMs: 5000, // a deadline as in production; generous, so a stall of this shared machine does not end the run
    cache: { store, ttlMs: 3_600_000 },
  });
  const input = new Float32Array(16).fill(0.5);
  await client.infer(input);
  let key: string | undefined;
  for (let i = 0; i < 100 && key === undefined; i++) {
    [key] = await redis.keys('bench:{*}:r');
    if (key === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (key === undefined) throw new Error('the cache entry never reached Redis');
  const entryKey = key;
  const stored = (await binary.get(entryKey)) as Buffer;
  const hitsBefore = client.stats().cache?.hits ?? 0;

  const hit = () => client.infer(input);
  const raw = () => binary.get(entryKey);
  // (b2) The same GET without node-redis' per-command timer (the store skips it too, bounding each
  // command itself): the tighter reference, the round trip and nothing else.
  const untimed = binary.withCommandOptions({ timeout: 0 });
  const rawUntimed = () => untimed.get(entryKey);
  // (c) The same client and entry over an in-memory store that serializes too: Ballast's own
  // CPU per hit (key, budget, codec copy), with no network in between.
  const entry = await store.get(entryKey.slice('bench:{'.length, -'}:r'.length));
  if (entry === undefined) throw new Error('the cache entry cannot be read back');
  const memory: CacheStore = { encoding: 'bytes', get: async () => entry, set: async () => {}, delete: async () => {} };
  const local = createBallastClient({
    model: { name: 'scorer', version: '1', infer: async () => output },
    timeoutMs: 5000,
    cache: { store: memory, ttlMs: 3_600_000 },
  });
  const localNs = await nsPerCall(() => local.infer(input), size(50_000, 200), size(5, 1));
  // Rounds alternate between the two, best round each: the machine's load moves between rounds.
  const iterations = size(5_000, 200);
  const rounds = size(10, 1);
  let ballastNs = Number.POSITIVE_INFINITY;
  let rawNs = Number.POSITIVE_INFINITY;
  let untimedNs = Number.POSITIVE_INFINITY;
  const total = size(20_000, 500);
  let ballastLoop = { rowsPerSecond: 0 };
  let rawLoop = { rowsPerSecond: 0 };
  let untimedLoop = { rowsPerSecond: 0 };
  for (let round = 0; round < rounds; round++) {
    ballastNs = Math.min(ballastNs, await nsPerCall(hit, iterations, 1));
    rawNs = Math.min(rawNs, await nsPerCall(raw, iterations, 1));
    untimedNs = Math.min(untimedNs, await nsPerCall(rawUntimed, iterations, 1));
    const ballastRound = await closedLoop(hit, total, 16);
    const rawRound = await closedLoop(raw, total, 16);
    const untimedRound = await closedLoop(rawUntimed, total, 16);
    if (untimedRound.rowsPerSecond > untimedLoop.rowsPerSecond) untimedLoop = untimedRound;
    if (ballastRound.rowsPerSecond > ballastLoop.rowsPerSecond) ballastLoop = ballastRound;
    if (rawRound.rowsPerSecond > rawLoop.rowsPerSecond) rawLoop = rawRound;
  }

  // Added latency: the two calls interleaved, so both see the same machine at the same moment.
  const samples = size(20_000, 200);
  const ballastMs: number[] = [];
  const rawMs: number[] = [];
  const untimedMs: number[] = [];
  for (let i = 0; i < samples; i++) {
    let t0 = performance.now();
    await raw();
    rawMs.push(performance.now() - t0);
    t0 = performance.now();
    await rawUntimed();
    untimedMs.push(performance.now() - t0);
    t0 = performance.now();
    await hit();
    ballastMs.push(performance.now() - t0);
  }
  const hits = (client.stats().cache?.hits ?? 0) - hitsBefore;
  const us = (ms: number) => ms * 1000;

  table(
    ['result cache hit', 'µs/call (1 caller)', 'calls/s (16 callers)', 'p50 µs', 'p99 µs'],
    [
      ['(a) Ballast hit', ballastNs / 1000, ballastLoop.rowsPerSecond, us(percentile(ballastMs, 50)), us(percentile(ballastMs, 99))],
      ['(b) raw GET', rawNs / 1000, rawLoop.rowsPerSecond, us(percentile(rawMs, 50)), us(percentile(rawMs, 99))],
      [
        '(b2) raw GET, no per-command timer',
        untimedNs / 1000,
        untimedLoop.rowsPerSecond,
        us(percentile(untimedMs, 50)),
        us(percentile(untimedMs, 99)),
      ],
      ['(c) Ballast hit, in-memory bytes store', localNs / 1000, '', '', ''],
    ],
  );
  console.log(
    `entry: ${stored.byteLength} bytes; hits served: ${hits}; store errors: ${client.stats().cache?.storeErrors ?? 0}`,
    store.stats(),
  );
  console.log(
    `ratio (a)/(b) calls/s:  ${(rawNs / ballastNs).toFixed(2)}x (1 caller), ${(ballastLoop.rowsPerSecond / rawLoop.rowsPerSecond).toFixed(2)}x (16 callers)`,
  );
  console.log(
    `ratio (a)/(b2) calls/s: ${(untimedNs / ballastNs).toFixed(2)}x (1 caller), ${(ballastLoop.rowsPerSecond / untimedLoop.rowsPerSecond).toFixed(2)}x (16 callers) (the unbounded floor)`,
  );
  // Added latency against each reference, the three calls interleaved call by call.
  const added = (name: string, reference: number[]) => {
    const p50 = us(percentile(ballastMs, 50) - percentile(reference, 50));
    const p99 = us(percentile(ballastMs, 99) - percentile(reference, 99));
    console.log(
      `Ballast's added latency per call over ${name}: p50 ${p50.toFixed(1)} µs over a ${us(percentile(reference, 50)).toFixed(1)} µs round trip (${(percentile(ballastMs, 50) / percentile(reference, 50)).toFixed(2)}x), p99 ${p99.toFixed(1)} µs over ${us(percentile(reference, 99)).toFixed(1)} µs (${(percentile(ballastMs, 99) / percentile(reference, 99)).toFixed(2)}x)`,
    );
  };
  added('(b)', rawMs);
  added('(b2)', untimedMs);
  if (hits < samples) throw new Error(`expected every measured call to hit; got ${hits} hits`);
  await store.close();
  redis.destroy();
}

// ── Rate limits ──────────────────────────────────────────────────────────────────────────────

const decisions = size(20_000, 600);
const concurrency = 32;
const rounds = size(10, 1);
const sequential = size(5_000, 100);
const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
// Never refuses: the bench measures the decision, not the refusals.
const rate = 1e9;

async function limiterSection(server: RedisServer): Promise<void> {
  console.log('\n-- rate limits: redisRateLimiter decisions vs raw EVALSHA of the same script --');
  const client = createClient({ url: server.url });
  client.on('error', () => {});
  await client.connect();
  try {
    // A generous command timeout: every decision must be Redis' own (a stall of this shared machine
    // past the default 100 ms would switch to the much faster local share and flatter the ratio).
    const limiter = redisRateLimiter({ client, ratePerSecond: rate, burst: rate, prefix: 'bench:rate:', commandTimeoutMs: 10_000 });
    const model = pipeline(
      defineModel({ name: 'echo', infer: async (x: number) => x }),
      rateLimit({ limiter, key: (x) => keys[(x as number) % 100] as string }),
    );
    const rateArg = String(rate / 1000);
    const burstArg = String(rate);
    const raw = (i: number) =>
      client.sendCommand(['EVALSHA', TOKEN_BUCKET_SCRIPT.sha, '1', `bench:rate:${keys[i % 100]}`, rateArg, burstArg, '1']);
    const ballast = (i: number) => limiter.take(keys[i % 100] as string, 1, { timeoutMs: 30_000 });
    const middleware = (i: number) => model.infer(i, { timeoutMs: 30_000 });
    await raw(0).catch(async () => client.sendCommand(['SCRIPT', 'LOAD', TOKEN_BUCKET_SCRIPT.source]));

    // `concurrency` callers, each issuing its next decision when the last one answered.
    async function throughput(fn: (i: number) => unknown): Promise<number> {
      let next = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < decisions) await fn(next++);
        }),
      );
      return (decisions / (performance.now() - start)) * 1000;
    }
    // Sequential calls, raw and Ballast alternating call by call so both see the same noise.
    async function latencies(): Promise<[number[], number[]]> {
      const rawOut: number[] = [];
      const ballastOut: number[] = [];
      for (let i = 0; i < sequential; i++) {
        let start = performance.now();
        await raw(i);
        rawOut.push((performance.now() - start) * 1000);
        start = performance.now();
        await ballast(i);
        ballastOut.push((performance.now() - start) * 1000);
      }
      return [rawOut, ballastOut];
    }

    await throughput(raw);
    await throughput(ballast);
    let bestRaw = 0;
    let bestBallast = 0;
    let bestMiddleware = 0;
    // Interleaved rounds, best of each: the machine is shared and noisy.
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first, so neither always gets the warmer (or quieter) slot.
      if (r % 2 === 0) {
        bestRaw = Math.max(bestRaw, await throughput(raw));
        bestBallast = Math.max(bestBallast, await throughput(ballast));
      } else {
        bestBallast = Math.max(bestBallast, await throughput(ballast));
        bestRaw = Math.max(bestRaw, await throughput(raw));
      }
      bestMiddleware = Math.max(bestMiddleware, await throughput(middleware));
    }
    const [rawLatency, ballastLatency] = await latencies();
    console.log(
      `${decisions} decisions per round, ${concurrency} concurrent, best of ${rounds} interleaved rounds${smoke ? ' (smoke)' : ''}`,
    );
    table(
      ['path', 'decisions/s', 'ratio vs raw EVALSHA'],
      [
        ['raw EVALSHA (same script, same client)', bestRaw, '1.00x'],
        ['redisRateLimiter.take', bestBallast, `${(bestBallast / bestRaw).toFixed(2)}x`],
        ['rateLimit middleware over it (full call)', bestMiddleware, `${(bestMiddleware / bestRaw).toFixed(2)}x`],
      ],
    );
    console.log(`\nsequential latency, ${sequential} calls (µs)`);
    const p = (values: number[], q: number) => percentile(values, q);
    table(
      ['path', 'p50', 'p99'],
      [
        ['raw EVALSHA', p(rawLatency, 50), p(rawLatency, 99)],
        ['redisRateLimiter.take', p(ballastLatency, 50), p(ballastLatency, 99)],
        ['added by Ballast', p(ballastLatency, 50) - p(rawLatency, 50), p(ballastLatency, 99) - p(rawLatency, 99)],
      ],
    );
    const stats = limiter.stats();
    console.log(`\nlimiter stats: ${JSON.stringify(stats)}`);
    if (stats.local > 0)
      console.log('WARNING: some decisions were local (Redis stalled past the command timeout); the ratios above are not comparable');
  } finally {
    client.destroy();
  }
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────

const server = await startRedis();
try {
  await cacheSection(server);
  await limiterSection(server);
} finally {
  await server.stop();
}
