import diagnostics from 'node:diagnostics_channel';
import { rateLimit } from '@ballast/client';
import { channels, defineModel, isBallastError, pipeline } from '@ballast/core';
import { principalLimits } from '@ballast/guard';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, redisAvailable, startRedis } from '../test/redis-server.js';
import { redisLimiters, redisQuotaLimiter, redisRateLimiter } from './redis-limiter.js';
import { type StoreEvent, storeChannel } from './redis-limiter-command.js';

describe('redisRateLimiter options', () => {
  const client = { isReady: true, sendCommand: async () => 0 };
  it('rejects bad options with CONFIG naming the path', () => {
    for (const [options, path] of [
      [{ client, ratePerSecond: 0 }, 'ratePerSecond'],
      [{ client: {}, ratePerSecond: 1 }, 'client'],
      [{ client, ratePerSecond: 1, burst: 0 }, 'burst'],
      [{ client, ratePerSecond: 1, replicas: 1.5 }, 'replicas'],
      [{ client, ratePerSecond: 1, whenUnavailable: 'maybe' }, 'whenUnavailable'],
    ] as const) {
      try {
        redisRateLimiter(options as never);
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({ code: 'CONFIG', details: { path } });
      }
    }
    expect(() => redisQuotaLimiter({ client, limit: -1, windowMs: 1000 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => redisRateLimiter({ client, ratePerSecond: 1, burst: 2 }).take('k', 3)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });
});

describe.skipIf(!redisAvailable)('redisRateLimiter and redisQuotaLimiter on a real Redis', () => {
  let redis: RedisServer;
  const clients: { destroy(): void }[] = [];
  const connect = async () => {
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients) client.destroy();
    await redis?.stop();
  });

  it('shares one bucket between replicas and says how long to wait', async () => {
    const [a, b] = [await connect(), await connect()];
    const first = redisRateLimiter({ client: a, ratePerSecond: 10, burst: 3, prefix: 'shared:' });
    const second = redisRateLimiter({ client: b, ratePerSecond: 10, burst: 3, prefix: 'shared:' });
    expect(await first.take('k')).toEqual({ ok: true });
    expect(await second.take('k')).toEqual({ ok: true });
    expect(await first.take('k')).toEqual({ ok: true });
    const refused = await second.take('k');
    expect(refused.ok).toBe(false);
    expect(refused.ok ? 0 : refused.retryAfterMs).toBeGreaterThan(50);
    expect(refused.ok ? 0 : refused.retryAfterMs).toBeLessThanOrEqual(100);
    expect(await first.take('other')).toEqual({ ok: true });
    expect(first.stats()).toMatchObject({ shared: 3, local: 0, fallback: false });
  });

  it('limits calls through the client rateLimit middleware', async () => {
    const limiter = redisRateLimiter({ client: await connect(), ratePerSecond: 1, burst: 2, prefix: 'middleware:' });
    const model = pipeline(defineModel({ name: 'echo', infer: async (x: number) => x }), rateLimit({ limiter }));
    expect(await model.infer(1)).toBe(1);
    expect(await model.infer(2)).toBe(2);
    const error = await model.infer(3).catch((caught: unknown) => caught);
    expect(isBallastError(error) && error.code).toBe('RATE_LIMITED');
    expect(error).toMatchObject({ details: { ratePerSecond: 1, burst: 2 } });
  });

  it("holds guard's per-principal quotas across replicas", async () => {
    const policy = { quota: { limit: 3, windowMs: 60_000 }, rate: { ratePerSecond: 100 } };
    const one = principalLimits({ ...policy, limiters: redisLimiters({ client: await connect(), prefix: 'guard:' }) });
    const two = principalLimits({ ...policy, limiters: redisLimiters({ client: await connect(), prefix: 'guard:' }) });
    const alice = { id: 'alice' };
    await one.admit(alice, 'm');
    await two.admit(alice, 'm');
    expect(await one.quotaLeft(alice)).toBe(1);
    await one.admit(alice, 'm');
    await expect(two.admit(alice, 'm')).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { kind: 'quota' } });
    expect(await two.quotaLeft({ id: 'bob' })).toBe(3);
  });

  it('publishes on the ballast:store channel of @ballast/core', () => {
    expect(storeChannel).toBe(channels.store);
  });

  it('falls back to the local share, publishes ballast:store, fails closed when asked, and recovers', async () => {
    const client = await connect();
    const local = redisRateLimiter({ client, ratePerSecond: 30, burst: 30, replicas: 3, prefix: 'down:', probeIntervalMs: 0 });
    const closed = redisRateLimiter({ client, ratePerSecond: 30, burst: 30, prefix: 'down:', whenUnavailable: 'closed' });
    const events: StoreEvent[] = [];
    const listener = (event: unknown) => events.push(event as StoreEvent);
    diagnostics.subscribe('ballast:store', listener);
    try {
      await redis.kill();
      await expect.poll(() => client.isReady).toBe(false);
      // The local share is 10 of the 30-token burst.
      const answers = await Promise.all(Array.from({ length: 12 }, () => local.take('k')));
      expect(answers.filter((answer) => answer.ok)).toHaveLength(10);
      expect(local.stats()).toMatchObject({ fallback: true, local: 12 });
      expect((await closed.take('k')).ok).toBe(false);
      expect(events.some((event) => event.store === 'rate-limit' && event.outcome === 'fallback')).toBe(true);
      await redis.restart();
      await expect.poll(() => client.isReady, { timeout: 2000 }).toBe(true);
      expect(await local.take('k')).toEqual({ ok: true });
      expect(local.stats().fallback).toBe(false);
      expect(events.some((event) => event.outcome === 'recovered')).toBe(true);
      // Answered round trips are published too, with their duration.
      const answered = events.filter((event) => event.outcome === 'ok');
      expect(answered.at(-1)).toMatchObject({ store: 'rate-limit', op: 'take' });
      expect(answered.every((event) => typeof event.durationMs === 'number' && event.durationMs >= 0)).toBe(true);
    } finally {
      diagnostics.unsubscribe('ballast:store', listener);
    }
  });
});
