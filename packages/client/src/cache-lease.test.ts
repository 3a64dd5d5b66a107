import { type CacheEvent, channels, pipeline } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { type CacheEntry, type CacheStore, resultCache } from './cache.js';
import { scripted } from './test-models.js';

/*
 * The lease hooks as the cache uses them, with an in-memory store standing in for a shared one
 * (Redis itself is tested in @ballast/redis with a real server and replica processes).
 */
function leaseStore(behaviour: {
  acquire: () => Promise<boolean>;
  wait?: (waitMs: number) => Promise<CacheEntry | undefined>;
}): CacheStore & { released: string[]; waits: number[] } {
  const entries = new Map<string, CacheEntry>();
  const store = {
    released: [] as string[],
    waits: [] as number[],
    get: async (key: string) => entries.get(key),
    set: async (key: string, entry: CacheEntry) => {
      entries.set(key, entry);
    },
    delete: async (key: string) => {
      entries.delete(key);
    },
    acquire: behaviour.acquire,
    wait: async (_key: string, waitMs: number) => {
      store.waits.push(waitMs);
      return behaviour.wait ? behaviour.wait(waitMs) : undefined;
    },
    release: async (key: string) => {
      store.released.push(key);
    },
  };
  return store;
}

describe('resultCache with a store that has leases', () => {
  it('serves what the lease holder stored instead of calling the model', async () => {
    const now = Date.now();
    const store = leaseStore({
      acquire: async () => false,
      wait: async () => ({ value: 'from another process', storedAt: now, expiresAt: now + 60_000 }),
    });
    const model = scripted('m', () => 'computed here');
    const wrapped = pipeline(model, resultCache({ store }));
    await expect(wrapped.infer('x')).resolves.toBe('from another process');
    expect(model.calls).toBe(0);
  });

  it('counts a result served by the lease holder as a hit (a shared one), not a miss', async () => {
    const now = Date.now();
    const store = leaseStore({
      acquire: async () => false,
      wait: async () => ({ value: 'from another process', storedAt: now, expiresAt: now + 60_000 }),
    });
    const cache = resultCache({ store });
    const events: CacheEvent[] = [];
    const listen = (event: unknown) => events.push(event as CacheEvent);
    channels.cache.subscribe(listen);
    try {
      await expect(
        pipeline(
          scripted('m', () => 'computed here'),
          cache,
        ).infer('x'),
      ).resolves.toBe('from another process');
    } finally {
      channels.cache.unsubscribe(listen);
    }
    expect(cache.stats()).toMatchObject({ hits: 1, sharedHits: 1, misses: 0 });
    expect(events).toEqual([{ model: 'm', result: 'hit', shared: true }]);
  });

  it('counts a miss once it computes, after a lease it holds or a holder that delivered nothing', async () => {
    const cache = resultCache({ store: leaseStore({ acquire: async () => true }) });
    await pipeline(
      scripted('m', () => 1),
      cache,
    ).infer('a');
    expect(cache.stats()).toMatchObject({ hits: 0, sharedHits: 0, misses: 1 });
    const waited = resultCache({ store: leaseStore({ acquire: async () => false }), leaseMs: 20 });
    await pipeline(
      scripted('m', () => 2),
      waited,
    ).infer('a');
    expect(waited.stats()).toMatchObject({ hits: 0, sharedHits: 0, misses: 1 });
  });

  it('computes itself when the holder delivers nothing, and waits at most the lease and half its budget', async () => {
    const store = leaseStore({ acquire: async () => false });
    const model = scripted('m', () => 'computed here');
    const wrapped = pipeline(model, resultCache({ store, leaseMs: 1000 }));
    await expect(wrapped.infer('x', { timeoutMs: 600 })).resolves.toBe('computed here');
    await expect(wrapped.infer('y', { timeoutMs: 10_000 })).resolves.toBe('computed here');
    expect(store.waits[0]).toBeLessThanOrEqual(300);
    expect(store.waits[0]).toBeGreaterThan(250);
    expect(store.waits[1]).toBe(1000);
    expect(store.released).toEqual([]); // it held no lease
  });

  it('releases its lease after storing, and after a failure', async () => {
    const store = leaseStore({ acquire: async () => true });
    const model = scripted('m', (call) => {
      if (call === 2) throw new Error('boom');
      return call;
    });
    const wrapped = pipeline(model, resultCache({ store }));
    await expect(wrapped.infer('a')).resolves.toBe(1);
    await expect(wrapped.infer('b')).rejects.toThrow('boom');
    await expect.poll(() => store.released.length).toBe(2);
  });

  it('goes upstream when the lease cannot be taken, and counts the store error', async () => {
    const store = leaseStore({ acquire: async () => Promise.reject(new Error('redis down')) });
    const model = scripted('m', () => 'computed');
    const cache = resultCache({ store });
    await expect(pipeline(model, cache).infer('x')).resolves.toBe('computed');
    expect(cache.stats().storeErrors).toBe(1);
  });
});
