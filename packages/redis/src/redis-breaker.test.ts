import { circuitBreaker } from '@ballast/client';
import { BallastError, defineModel, pipeline } from '@ballast/core';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, redisAvailable, startRedis } from '../test/redis-server.js';
import { redisBreakerState } from './redis-breaker.js';

describe('redisBreakerState options', () => {
  it('rejects bad options with CONFIG naming the path', () => {
    expect(() => redisBreakerState({ client: {} as never })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'client' } }),
    );
    const client = { isReady: true, sendCommand: async () => 0, duplicate: () => ({}) as never };
    expect(() => redisBreakerState({ client, windowMs: 0 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'windowMs' } }),
    );
  });
});

describe.skipIf(!redisAvailable)('redisBreakerState when Redis is down', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('acts as a local breaker while Redis is away, without waiting for it', async () => {
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } });
    client.on('error', () => {});
    await client.connect();
    const state = redisBreakerState({ client, prefix: 'down:' });
    let calls = 0;
    let healthy = false;
    const upstream = defineModel({
      name: 'upstream',
      infer: async () => {
        calls++;
        if (!healthy) throw new BallastError('MODEL_UNAVAILABLE', 'down');
        return 'ok';
      },
    });
    const breaker = circuitBreaker({ consecutiveFailures: 2, openMs: 100, state });
    const model = pipeline(upstream, breaker);
    try {
      await redis.kill();
      await expect.poll(() => client.isReady).toBe(false);
      await expect(model.infer(null)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
      await expect(model.infer(null)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
      expect(breaker.state()).toBe('open');
      await expect(model.infer(null)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
      await new Promise((resolve) => setTimeout(resolve, 120));
      healthy = true;
      // The trial lease cannot be asked for: this replica runs the trial itself, at once.
      const started = performance.now();
      expect(await model.infer(null, { timeoutMs: 1000 })).toBe('ok');
      expect(performance.now() - started).toBeLessThan(100);
      expect(breaker.state()).toBe('closed');
      expect(calls).toBe(3);
      expect(state.stats().fallback).toBe(true);
    } finally {
      state.close();
      client.destroy();
    }
  });
});
