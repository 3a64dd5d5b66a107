/**
 * Shared rate-limit decisions: decisions per second through Ballast's `redisRateLimiter` (and
 * through the client's `rateLimit` middleware over it) against raw `EVALSHA` round trips of the
 * same Lua script with the same node-redis client and the same concurrency (node-redis pipelines
 * the concurrent commands on its one connection either way), plus the latency Ballast adds at
 * p50/p99 on sequential calls. Starts its own redis-server on 127.0.0.1. Goal: >= 0.8x raw.
 *
 *   pnpm bench redis-limits
 */
import { rateLimit } from '@ballast/client';
import { defineModel, pipeline } from '@ballast/core';
import { redisRateLimiter, TOKEN_BUCKET_SCRIPT } from '@ballast/redis';
import { createClient } from 'redis';
import { startRedis } from '../packages/redis/test/redis-server.js';
import { percentile, size, smoke, table } from './_harness.js';

const decisions = size(20_000, 600);
const concurrency = 32;
const rounds = size(10, 1);
const sequential = size(5_000, 100);
const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
// Never refuses: the bench measures the decision, not the refusals.
const rate = 1e9;

const server = await startRedis();
const client = createClient({ url: server.url });
client.on('error', () => {});
await client.connect();
try {
  // A generous command timeout: every decision must be Redis' own (a stall of this shared machine
  // past the default 100 ms would switch to the much faster local share and flatter the ratio).
  const limiter = redisRateLimiter({ client, ratePerSecond: rate, burst: rate, prefix: 'bench:', commandTimeoutMs: 10_000 });
  const model = pipeline(
    defineModel({ name: 'echo', infer: async (x: number) => x }),
    rateLimit({ limiter, key: (x) => keys[(x as number) % 100] as string }),
  );
  const rateArg = String(rate / 1000);
  const burstArg = String(rate);
  const raw = (i: number) =>
    client.sendCommand(['EVALSHA', TOKEN_BUCKET_SCRIPT.sha, '1', `bench:${keys[i % 100]}`, rateArg, burstArg, '1']);
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
  await server.stop();
}
