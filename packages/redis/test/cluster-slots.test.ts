/*
 * The stores against a Redis Cluster node: a one-node cluster holding every slot refuses a script
 * or MGET over keys of different slots (CROSSSLOT) as a real cluster does, so every multi-key
 * command the stores send is checked here for real (the slots themselves: src/key-layout.test.ts).
 */
import { channels, type StoreEvent } from '@ballast/core';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBreakerState, redisCacheStore, redisKeyStore } from '../src/index.js';
import { breakerKeys } from '../src/key-layout.js';
import { type RedisServer, redisAvailable, startRedis } from './redis-server.js';

describe.skipIf(!redisAvailable)('the stores on a Redis Cluster node', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ cluster: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('run their multi-key scripts and reads without CROSSSLOT', async () => {
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    const failures: StoreEvent[] = [];
    const listen = (event: unknown) => {
      const { outcome } = event as StoreEvent;
      if (outcome === 'error' || outcome === 'timeout') failures.push(event as StoreEvent);
    };
    channels.store.subscribe(listen);
    const holder = redisCacheStore({ client, prefix: 'cache:' });
    const waiter = redisCacheStore({ client, prefix: 'cache:' });
    const breaker = redisBreakerState({ client, prefix: 'breaker:' });
    const keys = redisKeyStore({ url: redis.url, prefix: '{keys}:' }); // on a cluster: a prefix with a tag
    try {
      // Result cache: one replica holds the lease, another waits (MGET of entry and lease), the
      // holder stores and releases (a script over the lease, publishing the wake-up).
      expect(await holder.acquire?.('scorer@1:{"a":1}', 5000)).toBe(true);
      expect(await waiter.acquire?.('scorer@1:{"a":1}', 5000)).toBe(false);
      const waited = waiter.wait?.('scorer@1:{"a":1}', 2000);
      const now = Date.now();
      await holder.set('scorer@1:{"a":1}', { value: new Uint8Array([1, 2, 3]), storedAt: now, expiresAt: now + 60_000 }, 60_000);
      await holder.release?.('scorer@1:{"a":1}');
      expect(Array.from((await waited)?.value ?? [])).toEqual([1, 2, 3]);
      expect(holder.stats()).toMatchObject({ error: 0, timeout: 0 });
      expect(waiter.stats()).toMatchObject({ error: 0, timeout: 0 });

      // Breaker state: failures count and open the circuit in one script over three keys.
      breaker.failed('fraud', 2, 10_000);
      breaker.failed('fraud', 2, 10_000);
      const { open } = breakerKeys('breaker:', 'fraud');
      await expect.poll(() => client.exists(open), { timeout: 2000, interval: 20 }).toBe(1);
      expect(await breaker.acquireTrial('fraud', 1000, { timeoutMs: 1000 })).toBe(false); // still open
      breaker.closed('fraud');
      breaker.opened('other', 1000);
      await expect.poll(() => client.exists(breakerKeys('breaker:', 'other').open), { timeout: 2000, interval: 20 }).toBe(1);
      expect(breaker.stats().failures).toBe(0);

      // API keys: a write and a delete each touch a record and the set of ids in one script.
      const record = { id: 'key1', hash: 'a'.repeat(64), principalId: 'app', roles: [], createdAt: new Date().toISOString() };
      await keys.put(record);
      expect((await keys.list()).map((each) => each.id)).toEqual(['key1']);
      expect(await keys.delete('key1')).toBe(true);
      expect(failures).toEqual([]);
    } finally {
      channels.store.unsubscribe(listen);
      await holder.close();
      await waiter.close();
      breaker.close();
      await keys.close();
      client.destroy();
    }
  });
});
