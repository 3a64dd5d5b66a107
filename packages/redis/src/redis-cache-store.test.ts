import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createClient as createBallastClient, resultCache } from '@ballast/client';
import { type InferOptions, type Model, pipeline, type StoreEvent, subscribe } from '@ballast/core';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, redisAvailable, startRedis } from '../test/redis-server.js';
import { redisCacheStore } from './redis-cache-store.js';

/** A model that counts its calls and answers after `delayMs` with a tensor of fresh random bits. */
function countingModel(name: string, delayMs = 5): Model<unknown, unknown> & { calls: number } {
  const model = {
    name,
    version: '1',
    calls: 0,
    async health() {
      return { ready: true, status: 'ready' as const };
    },
    async infer(input: unknown, options?: InferOptions) {
      model.calls++;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (options?.signal?.aborted) throw options.signal.reason;
      const data = new Float32Array(8);
      crypto.getRandomValues(new Uint32Array(data.buffer)); // every bit pattern, NaN payloads included
      return { type: 'float32', dims: [2, 4], data, input, ids: new BigInt64Array([BigInt(model.calls), -(2n ** 63n)]), n: 2n ** 70n };
    },
  };
  return model;
}

function bytes(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

describe.skipIf(!redisAvailable)('redisCacheStore', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('shares byte-exact results between two clients, with Redis keeping the TTL under a prefix per model and version', async () => {
    const storeA = redisCacheStore({ url: redis.url, prefix: 'test1:' });
    const storeB = redisCacheStore({ url: redis.url, prefix: 'test1:' });
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await expect.poll(() => storeA.usable && storeB.usable).toBe(true);
      const model = countingModel('scorer');
      const a = createBallastClient({ model, cache: { store: storeA, ttlMs: 30_000, staleIfErrorMs: 10_000 } });
      const b = createBallastClient({ model, cache: { store: storeB, ttlMs: 30_000 } });
      const first = (await a.infer([1, 2, 3])) as { data: Float32Array; ids: BigInt64Array; n: bigint };
      await expect.poll(async () => (await admin.keys('test1:{*}:r')).length).toBe(1);
      const second = (await b.infer([1, 2, 3])) as typeof first;
      expect(model.calls).toBe(1);
      expect(second.data).toBeInstanceOf(Float32Array);
      expect(bytes(second.data).equals(bytes(first.data))).toBe(true);
      expect(second.ids).toEqual(first.ids);
      expect(second.n).toBe(2n ** 70n);
      const [key] = await admin.keys('test1:{*}:r');
      expect(key).toBe('test1:{scorer@1:[1,2,3]}:r');
      const ttl = await admin.pTTL(key as string);
      expect(ttl).toBeGreaterThan(30_000); // ttlMs + staleIfErrorMs, kept by Redis
      expect(ttl).toBeLessThanOrEqual(40_000);
      // Long inputs are hashed; the model part stays readable.
      await a.infer(new Float32Array(256));
      await expect.poll(async () => (await admin.keys('test1:{scorer@1:#*}:r')).length).toBe(1);
      expect(b.stats().cache).toMatchObject({ hits: 1, storeErrors: 0 });
    } finally {
      await storeA.close();
      await storeB.close();
      admin.destroy();
    }
  });

  it('bypasses a killed Redis (counted and published), and shares again within a second of its return', async () => {
    const store = redisCacheStore({ url: redis.url, prefix: 'test2:' });
    const events: StoreEvent[] = [];
    const stop = subscribe('store', (event) => events.push(event));
    try {
      await expect.poll(() => store.usable).toBe(true);
      const model = countingModel('m');
      const client = createBallastClient({ model, timeoutMs: 1000, cache: { store, ttlMs: 60_000 } });
      await client.infer('warm');
      await redis.kill();
      const before = model.calls;
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.infer(`down-${i}`)));
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(model.calls).toBe(before + 20);
      expect(client.stats().cache?.storeErrors).toBeGreaterThanOrEqual(20);
      expect(store.stats().unavailable + store.stats().error).toBeGreaterThanOrEqual(20);
      expect(events.some((e) => e.store === 'redis-cache' && e.op === 'get' && e.outcome !== 'ok')).toBe(true);
      // Readiness is the model's: a replica without Redis still answers.
      await expect(client.health?.()).resolves.toMatchObject({ ready: true, status: 'ready' });
      await redis.restart();
      const back = performance.now();
      const hits = client.stats().cache?.hits ?? 0;
      // Calls keep coming; within a second one of them is served from Redis again.
      await expect
        .poll(
          async () => {
            await client.infer('after');
            return (client.stats().cache?.hits ?? 0) > hits;
          },
          { timeout: 1000, interval: 20 },
        )
        .toBe(true);
      expect(performance.now() - back).toBeLessThan(1000);
      const calls = model.calls;
      await client.infer('after');
      expect(model.calls).toBe(calls);
    } finally {
      stop();
      await store.close();
    }
  });

  it('keeps every call within its deadline while Redis is paused', async () => {
    const store = redisCacheStore({ url: redis.url, prefix: 'test3:', commandTimeoutMs: 100 });
    try {
      await expect.poll(() => store.usable).toBe(true);
      const model = countingModel('m', 10);
      const client = createBallastClient({ model, cache: { store, ttlMs: 60_000 } });
      await client.infer('warm');
      const lag = monitorEventLoopDelay({ resolution: 5 });
      lag.enable();
      redis.pause();
      const durations: number[] = [];
      const failures: unknown[] = [];
      const started = performance.now();
      try {
        while (performance.now() - started < 2000) {
          await Promise.all(
            Array.from({ length: 10 }, async (_, i) => {
              const t0 = performance.now();
              try {
                await client.infer(`paused-${i}-${durations.length}`, { timeoutMs: 60 + i * 20 });
              } catch (error) {
                failures.push(error);
              }
              durations.push(performance.now() - t0 - (60 + i * 20));
            }),
          );
        }
      } finally {
        redis.resume();
      }
      lag.disable();
      // Deadlines hold to within this process' own event-loop delay (a busy machine) and 15 ms of
      // timer slack; a command left to hang would add up to the 100 ms command timeout.
      expect(Math.max(...durations)).toBeLessThan(15 + lag.max / 1e6);
      // Calls whose budget outlasts the command timeout lose only the cache.
      expect(failures.length).toBeLessThanOrEqual(10); // at most the first round
      expect(client.stats().cache?.storeErrors).toBeGreaterThan(0);
      await expect.poll(() => store.usable, { timeout: 2000 }).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('lets one of two stores compute a missed key while the other waits for it', async () => {
    const storeA = redisCacheStore({ url: redis.url, prefix: 'test4:' });
    const storeB = redisCacheStore({ url: redis.url, prefix: 'test4:' });
    try {
      await expect.poll(() => storeA.usable && storeB.usable).toBe(true);
      const model = countingModel('m', 100);
      const a = pipeline(model, resultCache({ store: storeA }));
      const b = pipeline(model, resultCache({ store: storeB }));
      const [x, y] = (await Promise.all([a.infer('same'), b.infer('same', { timeoutMs: 2000 })])) as { data: Float32Array }[];
      expect(model.calls).toBe(1);
      expect(bytes((x as { data: Float32Array }).data).equals(bytes((y as { data: Float32Array }).data))).toBe(true);
      // A holder that fails gives its lease up: the waiter computes at once, not after the lease.
      const failing = {
        name: 'f',
        calls: 0,
        async infer() {
          failing.calls++;
          await new Promise((resolve) => setTimeout(resolve, 50));
          if (failing.calls === 1) throw new Error('boom');
          return 'ok';
        },
      };
      const fa = pipeline(failing, resultCache({ store: storeA, leaseMs: 5000 }));
      const fb = pipeline(failing, resultCache({ store: storeB, leaseMs: 5000 }));
      const t0 = performance.now();
      const settled = await Promise.allSettled([fa.infer('k'), new Promise((r) => setTimeout(r, 10)).then(() => fb.infer('k'))]);
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'fulfilled']);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      await storeA.close();
      await storeB.close();
    }
  });

  it('does not blame Redis for a stall of its own process', async () => {
    const store = redisCacheStore({ url: redis.url, prefix: 'test5:', commandTimeoutMs: 100 });
    try {
      await expect.poll(() => store.usable).toBe(true);
      await store.set('k', { value: new Uint8Array([1]), storedAt: 0, expiresAt: 1 }, 60_000);
      const reading = store.get('k');
      const until = performance.now() + 300;
      while (performance.now() < until); // the event loop is blocked past the command timeout
      await expect(reading).resolves.toMatchObject({ expiresAt: 1 });
      expect(store.stats().timeout).toBe(0);
      expect(store.usable).toBe(true);
    } finally {
      await store.close();
    }
  });

  it("bounds its commands by a given client's own shorter command timeout", async () => {
    const client = createClient({ url: redis.url, commandOptions: { timeout: 80 } });
    client.on('error', () => {});
    await client.connect();
    const store = redisCacheStore({ client, prefix: 'test6:', commandTimeoutMs: 5000 });
    try {
      await store.set('k', { value: new Uint8Array([1]), storedAt: 0, expiresAt: 1 }, 60_000);
      redis.pause();
      const started = performance.now();
      await expect(store.get('k')).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(performance.now() - started).toBeLessThan(1000);
      expect(store.stats().timeout).toBe(1);
    } finally {
      redis.resume();
      await store.close();
      client.destroy();
    }
  });

  it("sends a hit's GET within the call itself, so concurrent hits share node-redis' socket writes", async () => {
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    const store = redisCacheStore({ client, prefix: 'test7:' });
    const ballast = createBallastClient({ model: countingModel('sync'), timeoutMs: 5000, cache: { store, ttlMs: 60_000 } });
    try {
      await ballast.infer([1]);
      await expect.poll(async () => (await client.keys('test7:{*}:r')).length).toBe(1);
      const sent: unknown[][] = [];
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((args: unknown[], ...rest: unknown[]) => {
        sent.push(args);
        return (send as (...all: unknown[]) => unknown)(args, ...rest);
      }) as typeof client.sendCommand;
      // Sixteen hits started in one turn: every GET is queued before the first call returns, and
      // node-redis writes what one turn queued in one go.
      const calls = Array.from({ length: 16 }, () => ballast.infer([1]));
      expect(sent.map((args) => args[0])).toEqual(Array(16).fill('GET'));
      await Promise.all(calls);
      expect(ballast.stats().cache).toMatchObject({ hits: 16, storeErrors: 0 });
    } finally {
      await store.close();
      client.destroy();
    }
  });

  it('rejects bad options with CONFIG errors', () => {
    expect(() => redisCacheStore({} as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => redisCacheStore({ url: 'http://x' })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => redisCacheStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
