import { BallastError, type CacheEvent, pipeline, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bypassCache, type CacheEntry, type CacheStore, resultCache } from './cache.js';
import { cacheKeyOf, canonicalKey } from './cache-key.js';
import { delay, scripted, unavailable } from './test-models.js';

describe('cache keys', () => {
  it('are canonical: key order, typed-array bytes, model name and version', () => {
    expect(canonicalKey({ b: 1, a: [true, 'x', null], c: undefined })).toBe('{"a":[true,"x",null],"b":1}');
    expect(canonicalKey({ a: 1, b: 2 })).toBe(canonicalKey({ b: 2, a: 1 }));
    expect(canonicalKey(new Float32Array([1]))).toBe('Float32Array(4:\x00\x00\x80?)');
    expect(canonicalKey(new Float64Array([1, 2, 3]).subarray(1, 2))).toBe(canonicalKey(new Float64Array([2])));
    expect(canonicalKey(new Float32Array([1]))).not.toBe(canonicalKey(new Int32Array([1])));
    expect(canonicalKey([Number.NaN, -0, 1n])).toBe('[NaN,0,1n]');
    expect(cacheKeyOf({ name: 'm', version: '2' }, [1, 2])).toBe('m@2:[1,2]');
    expect(cacheKeyOf({ name: 'm' }, [1, 2], 'custom')).toBe('m@:#custom');
    expect(() => canonicalKey(new Map())).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('resultCache', () => {
  let events: CacheEvent[];
  let stop: () => void;
  beforeEach(() => {
    vi.useFakeTimers();
    events = [];
    stop = subscribe('cache', (e) => events.push(e));
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('serves hits until ttlMs, then misses; typed arrays with equal bytes share an entry', async () => {
    const model = scripted('m', (call) => call);
    const cache = resultCache({ ttlMs: 1000 });
    const wrapped = pipeline(model, cache);
    await expect(wrapped.infer(new Float32Array([1, 2]))).resolves.toBe(1);
    await expect(wrapped.infer(new Float32Array([1, 2]))).resolves.toBe(1);
    await expect(wrapped.infer(new Float32Array([1, 3]))).resolves.toBe(2);
    vi.advanceTimersByTime(1000);
    await expect(wrapped.infer(new Float32Array([1, 2]))).resolves.toBe(3);
    expect(events.map((e) => e.result)).toEqual(['miss', 'hit', 'miss', 'miss']);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 3 });
  });

  it('coalesces identical calls in flight into one upstream call', async () => {
    const model = scripted('m', (call, _input, options) => delay(50, call, options));
    const cache = resultCache();
    const wrapped = pipeline(model, cache);
    const all = Promise.all([wrapped.infer('x'), wrapped.infer('x'), wrapped.infer('x'), wrapped.infer('y')]);
    await vi.advanceTimersByTimeAsync(50);
    await expect(all).resolves.toEqual([1, 1, 1, 2]);
    expect(model.calls).toBe(2);
    expect(cache.stats().coalesced).toBe(2);
  });

  it('never caches errors; joiners of a failed call get its error', async () => {
    const model = scripted('m', (call, _input, options) =>
      delay(10, null, options).then(() => (call === 1 ? Promise.reject(unavailable()) : call)),
    );
    const wrapped = pipeline(model, resultCache());
    const a = wrapped.infer('x').catch((e: unknown) => e);
    const b = wrapped.infer('x').catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(await a).toBeInstanceOf(BallastError);
    expect(await b).toBeInstanceOf(BallastError);
    const c = wrapped.infer('x');
    await vi.advanceTimersByTimeAsync(10);
    await expect(c).resolves.toBe(2);
  });

  it('a joiner outlives the leader timing out and runs its own call', async () => {
    const model = scripted('m', (call, _input, options) => delay(100, call, options));
    const wrapped = pipeline(model, resultCache());
    const leader = wrapped.infer('x', { timeoutMs: 20 }).catch((e: unknown) => e);
    const joiner = wrapped.infer('x', { timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(20);
    expect(await leader).toMatchObject({ code: 'TIMEOUT' });
    await vi.advanceTimersByTimeAsync(100);
    await expect(joiner).resolves.toBe(2);
  });

  it('stale-while-revalidate serves the old value and refreshes once in the background', async () => {
    const model = scripted('m', (call, _input, options) => delay(10, call, options));
    const cache = resultCache({ ttlMs: 100, staleWhileRevalidateMs: 1000 });
    const wrapped = pipeline(model, cache);
    const first = wrapped.infer('x');
    await vi.advanceTimersByTimeAsync(10);
    await expect(first).resolves.toBe(1);
    vi.advanceTimersByTime(200);
    await expect(wrapped.infer('x')).resolves.toBe(1);
    await expect(wrapped.infer('x')).resolves.toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(model.calls).toBe(2);
    await expect(wrapped.infer('x')).resolves.toBe(2);
    expect(events.map((e) => e.result)).toEqual(['miss', 'stale', 'stale', 'hit']);
    // Past the stale window it is a plain miss again.
    vi.advanceTimersByTime(2000);
    const late = wrapped.infer('x');
    await vi.advanceTimersByTimeAsync(10);
    await expect(late).resolves.toBe(3);
  });

  it('stale-if-error serves the expired value when the refresh fails', async () => {
    let down = false;
    const model = scripted('m', (call) => {
      if (down) throw unavailable();
      return call;
    });
    const cache = resultCache({ ttlMs: 100, staleIfErrorMs: 500 });
    const wrapped = pipeline(model, cache);
    await wrapped.infer('x');
    down = true;
    vi.advanceTimersByTime(300);
    await expect(wrapped.infer('x')).resolves.toBe(1);
    expect(cache.stats().stale).toBe(1);
    vi.advanceTimersByTime(500);
    await expect(wrapped.infer('x')).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    // However old, the last good value is still there for staleCache().
    await expect(cache.lastGood(model, 'x')).resolves.toEqual({ value: 1 });
  });

  it('bypass skips the lookup but stores the fresh value', async () => {
    const model = scripted('m', (call) => call);
    const wrapped = pipeline(model, resultCache());
    await wrapped.infer('x');
    await expect(wrapped.infer('x', bypassCache())).resolves.toBe(2);
    await expect(wrapped.infer('x')).resolves.toBe(2);
    const byRule = pipeline(
      scripted('n', (call) => call),
      resultCache({ bypass: (input) => input === 'live' }),
    );
    await byRule.infer('live');
    await expect(byRule.infer('live')).resolves.toBe(2);
  });

  it('honours options.cacheKey and skips inputs with no canonical form', async () => {
    const model = scripted('m', (call) => call);
    const cache = resultCache();
    const wrapped = pipeline(model, cache);
    await wrapped.infer('a', { cacheKey: 'same' });
    await expect(wrapped.infer('b', { cacheKey: 'same' })).resolves.toBe(1);
    await wrapped.infer(new Map() as never);
    await expect(wrapped.infer(new Map() as never)).resolves.toBe(3);
    expect(cache.stats().bypassed).toBe(2);
  });

  it('bounds memory by maxBytes', async () => {
    const model = scripted('m', () => new Float64Array(100)); // ~800 bytes each
    const cache = resultCache({ maxBytes: 2000 });
    const wrapped = pipeline(model, cache);
    for (let i = 0; i < 5; i++) await wrapped.infer(i);
    await wrapped.infer(4);
    await wrapped.infer(0);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 6 });
  });

  it('works with an asynchronous shared store', async () => {
    const map = new Map<string, CacheEntry>();
    const store: CacheStore = {
      get: async (key) => map.get(key),
      set: async (key, entry) => {
        map.set(key, entry);
      },
      delete: async (key) => {
        map.delete(key);
      },
    };
    const model = scripted('m', (call) => call);
    const wrapped = pipeline(model, resultCache({ store }));
    await wrapped.infer({ q: 1 });
    await expect(wrapped.infer({ q: 1 })).resolves.toBe(1);
    expect([...map.keys()]).toEqual(['m@:{"q":1}']);
  });
});
