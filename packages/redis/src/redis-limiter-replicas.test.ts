import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LimiterReplica, startLimiterReplica } from '../test/limiter-replica-process.js';
import { type RedisServer, redisAvailable, startRedis } from '../test/redis-server.js';

/*
 * Three replica processes, each with its own Redis connection and its own Ballast client
 * (createClient with rateLimit over redisRateLimiter), against one real redis-server.
 */
interface LoadResult {
  admitted: number;
  rejected: number;
  failed: number;
  sent: number;
  maxOverMs: number;
  sawFallback: boolean;
  stats: { shared: number; local: number; timeouts: number; errors: number; fallback: boolean };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!redisAvailable)('redisRateLimiter across three replica processes', () => {
  let redis: RedisServer;
  let replicas: LimiterReplica[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    replicas = await Promise.all([0, 1, 2].map(() => startLimiterReplica(redis.url)));
  }, 30_000);

  afterAll(async () => {
    for (const replica of replicas) {
      replica.process.send({ type: 'exit' });
    }
    await Promise.all(
      replicas.map(
        (replica) => new Promise((resolve) => (replica.process.exitCode !== null ? resolve(null) : replica.process.once('exit', resolve))),
      ),
    );
    await redis?.stop();
  });

  it('holds one global limit for 10 s whether traffic is split evenly, 80/10/10 or sent to one replica', async () => {
    const limit = 50;
    const burst = 5;
    const durationMs = 10_000;
    const offered = 2 * limit;
    const splits = { even: [1 / 3, 1 / 3, 1 / 3], skewed: [0.8, 0.1, 0.1], single: [1, 0, 0] };
    // The three splits run at once, each on its own key.
    const runs = Object.entries(splits).map(async ([key, shares]) => {
      const results = await Promise.all(
        shares.map((share, index) =>
          share === 0
            ? undefined
            : replicas[index]?.ask<LoadResult>({
                type: 'load',
                key,
                offeredPerSecond: offered * share,
                durationMs,
                ratePerSecond: limit,
                burst,
                replicas: 3,
                // The machine running the tests is shared: give Redis time before the local share decides.
                commandTimeoutMs: 500,
              }),
        ),
      );
      const done = results.filter((result): result is LoadResult => result !== undefined);
      return {
        key,
        admitted: done.reduce((sum, result) => sum + result.admitted, 0),
        failed: done.reduce((sum, result) => sum + result.failed, 0),
        local: done.reduce((sum, result) => sum + result.stats.local, 0),
      };
    });
    const totals = await Promise.all(runs);
    const expected = limit * (durationMs / 1000);
    for (const total of totals) {
      expect(total.failed, total.key).toBe(0);
      // Decided by Redis, but for a rare stall of the machine past the command timeout.
      expect(total.local, total.key).toBeLessThan(expected * 0.02);
      expect(total.admitted, total.key).toBeGreaterThanOrEqual(expected * 0.97);
      expect(total.admitted, total.key).toBeLessThanOrEqual(expected * 1.03);
    }
  }, 40_000);

  it('keeps answering with a local share while Redis is killed, and shares again within 1 s of its return', async () => {
    const command = { type: 'load', key: 'kill', offeredPerSecond: 12, durationMs: 6000, ratePerSecond: 60, burst: 10, replicas: 3 };
    const loads = replicas.map((replica) => replica.ask<LoadResult>(command));
    await sleep(1500);
    await redis.kill();
    await sleep(2000);
    const during = await Promise.all(
      replicas.map((replica) => replica.ask<{ stats: LoadResult['stats'] }>({ type: 'stats', key: 'kill' })),
    );
    for (const { stats } of during) expect(stats.fallback).toBe(true);
    await redis.restart();
    const back = performance.now();
    let recoveredAfterMs = Number.POSITIVE_INFINITY;
    while (performance.now() - back < 3000) {
      const now = await Promise.all(replicas.map((replica) => replica.ask<{ stats: LoadResult['stats'] }>({ type: 'stats', key: 'kill' })));
      if (now.every(({ stats }) => !stats.fallback)) {
        recoveredAfterMs = performance.now() - back;
        break;
      }
      await sleep(20);
    }
    const results = await Promise.all(loads);
    expect(recoveredAfterMs).toBeLessThanOrEqual(1000);
    for (const result of results) {
      expect(result).toMatchObject({ failed: 0, rejected: 0, sawFallback: true });
      expect(result.stats.local).toBeGreaterThan(0);
      expect(result.stats.shared).toBeGreaterThan(0);
    }
  }, 30_000);

  it('never holds a call past its deadline while Redis is paused for 2 s', async () => {
    const command = {
      type: 'load',
      key: 'pause',
      offeredPerSecond: 25,
      durationMs: 4000,
      ratePerSecond: 300,
      burst: 300,
      replicas: 3,
      timeoutMs: 80,
      // Only the callers' deadlines bound the commands here.
      commandTimeoutMs: 10_000,
    };
    const loads = replicas.map((replica) => replica.ask<LoadResult>(command));
    await sleep(1000);
    redis.pause();
    await sleep(2000);
    redis.resume();
    const results = await Promise.all(loads);
    for (const result of results) {
      expect(result.failed).toBe(0);
      expect(result.sawFallback).toBe(true);
      expect(result.stats.timeouts).toBeGreaterThan(0);
      // A few ms of event-loop slack on a busy machine; a call held by Redis would be 2 s over.
      expect(result.maxOverMs).toBeLessThan(30);
    }
  }, 30_000);
});
