import { channels, emit } from '@ballast/core';
import { redisRateLimiter, storeChannel } from '@ballast/redis';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, redisAvailable, startRedis } from '../../redis/test/redis-server.js';
import * as S from '../src/semconv.js';
import { points, useTelemetry } from './harness.js';

const telemetry = useTelemetry();

const byOutcome = (metric: Parameters<typeof points>[0], match: Record<string, unknown> = {}) =>
  Object.fromEntries(points<number>(metric, match).map((p) => [p.attributes[S.ATTR_BALLAST_STORE_OUTCOME], p.value]));

describe('store events', () => {
  it('listens on the channel @ballast/redis publishes on', () => {
    expect(storeChannel).toBe(channels.store);
    expect(storeChannel.name).toBe('ballast:store');
  });

  it('counts every event and records a duration only for events that carry one', async () => {
    telemetry.start();
    emit('store', { store: 'cache', op: 'get', outcome: 'ok', durationMs: 2 });
    emit('store', { store: 'cache', op: 'get', outcome: 'fallback' });
    emit('store', { store: 'cache', op: 'get', outcome: 'ok', durationMs: Number.NaN });
    const metrics = await telemetry.harness.collect();
    const operations = metrics.get(S.METRIC_BALLAST_STORE_OPERATIONS);
    expect(operations?.descriptor.unit).toBe('{operation}');
    expect(byOutcome(operations, { [S.ATTR_BALLAST_STORE_NAME]: 'cache', [S.ATTR_BALLAST_STORE_OP]: 'get' })).toEqual({
      ok: 2,
      fallback: 1,
    });
    const durations = points<Histogram>(metrics.get(S.METRIC_BALLAST_STORE_DURATION));
    expect(metrics.get(S.METRIC_BALLAST_STORE_DURATION)?.descriptor.unit).toBe('s');
    expect(durations).toHaveLength(1);
    expect(durations[0]?.value.count).toBe(1);
    expect(durations[0]?.value.sum).toBe(0.002);
  });
});

describe.skipIf(!redisAvailable)('store metrics of a Redis rate limiter on a real Redis', () => {
  let redis: RedisServer;
  let client: ReturnType<typeof createClient> | undefined;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    client?.destroy();
    await redis.stop();
  });

  it('counts round trips with their duration, timeouts while Redis hangs, and local fallbacks while it is down', async () => {
    telemetry.start();
    client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    await client.connect();
    const connected = client;
    const limiter = redisRateLimiter({ client: connected, ratePerSecond: 1000, burst: 1000, commandTimeoutMs: 200, probeIntervalMs: 0 });
    const take = { [S.ATTR_BALLAST_STORE_NAME]: 'rate-limit', [S.ATTR_BALLAST_STORE_OP]: 'take' };

    for (let i = 0; i < 5; i++) expect((await limiter.take('k')).ok).toBe(true);

    // A hung Redis: each command runs past its 200 ms budget, and the decision is local.
    redis.pause();
    try {
      for (let i = 0; i < 2; i++) expect((await limiter.take('k')).ok).toBe(true);
    } finally {
      redis.resume();
    }
    // Back on Redis: one more round trip, and the store says it recovered.
    expect((await limiter.take('k')).ok).toBe(true);

    await redis.kill();
    await expect.poll(() => connected.isReady).toBe(false);
    for (let i = 0; i < 3; i++) expect((await limiter.take('k')).ok).toBe(true);

    const metrics = await telemetry.harness.collect();
    expect(byOutcome(metrics.get(S.METRIC_BALLAST_STORE_OPERATIONS), take)).toEqual({
      ok: 6,
      timeout: 2,
      fallback: 5,
      recovered: 1,
    });
    const durations = points<Histogram>(metrics.get(S.METRIC_BALLAST_STORE_DURATION), take);
    expect(durations.map((p) => p.attributes[S.ATTR_BALLAST_STORE_OUTCOME])).toEqual(['ok']);
    expect(durations[0]?.value.count).toBe(6);
    // Round trips to a local Redis: more than nothing, within the 200 ms budget each.
    expect(durations[0]?.value.min).toBeGreaterThan(0);
    expect(durations[0]?.value.max).toBeLessThan(0.2);
  });
});
