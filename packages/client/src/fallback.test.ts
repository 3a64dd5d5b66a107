import { BallastError, defineModel, type FallbackEvent, pipeline, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resultCache } from './cache.js';
import { fallback, staleCache } from './fallback.js';
import { scripted, settleTime, unavailable } from './test-models.js';

describe('fallback', () => {
  let events: FallbackEvent[];
  let stop: () => void;
  beforeEach(() => {
    events = [];
    stop = subscribe('fallback', (e) => events.push(e));
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  const down = () =>
    scripted('primary', () => {
      throw unavailable();
    });

  it('tries the chain in order and reports the source that served', async () => {
    const other = defineModel({ name: 'backup', infer: async (x: number) => x * 10 });
    const policy = fallback({
      chain: [
        function broken(): number {
          throw new Error('rule failed');
        },
        other,
        { value: 0 },
      ],
    });
    const wrapped = pipeline(down(), policy);
    await expect(wrapped.infer(4)).resolves.toBe(40);
    expect(events.map((e) => [e.source, e.index, e.served])).toEqual([
      ['broken', 0, false],
      ['backup', 1, true],
    ]);
    expect(policy.stats()).toEqual({ primary: 0, served: { backup: 1 }, exhausted: 0 });
  });

  it('serves static values and rule functions that see the error', async () => {
    const rule = pipeline(down(), fallback({ chain: [(input, error) => `${input}:${(error as BallastError).code}`] }));
    await expect(rule.infer('x')).resolves.toBe('x:MODEL_UNAVAILABLE');
    const fixed = pipeline(down(), fallback({ chain: [{ value: 'default', name: 'default-answer' }] }));
    await expect(fixed.infer('x')).resolves.toBe('default');
    expect(events.at(-1)?.source).toBe('default-answer');
  });

  it('serves the cache’s last good value with staleCache()', async () => {
    let fail = false;
    const model = scripted('primary', (call) => {
      if (fail) throw unavailable();
      return call;
    });
    const cache = resultCache({ ttlMs: 1 });
    const wrapped = pipeline(model, fallback({ chain: [staleCache(cache), { value: -1 }] }), cache);
    await wrapped.infer('a');
    fail = true;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(wrapped.infer('a')).resolves.toBe(1);
    await expect(wrapped.infer('never-seen')).resolves.toBe(-1);
    expect(events.filter((e) => e.source === 'stale-cache').map((e) => e.served)).toEqual([true, false]);
  });

  it('does not hide caller mistakes, and honours a custom predicate', async () => {
    const invalid = scripted('primary', () => {
      throw new BallastError('INVALID_INPUT', 'bad');
    });
    await expect(pipeline(invalid, fallback({ chain: [{ value: 1 }] })).infer(0)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const only429 = fallback({ chain: [{ value: 1 }], when: (e) => (e as BallastError).code === 'RATE_LIMITED' });
    await expect(pipeline(down(), only429).infer(0)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('when every source fails the caller gets the primary error with the others attached', async () => {
    const policy = fallback({
      chain: [
        () => {
          throw new BallastError('UPSTREAM', 'rule says no');
        },
      ],
    });
    const error = (await pipeline(down(), policy)
      .infer(0)
      .catch((e: unknown) => e)) as BallastError & { fallbackErrors: unknown[] };
    expect(error.code).toBe('MODEL_UNAVAILABLE');
    expect(error.details?.fallbacks).toEqual([{ source: 'rule', code: 'UPSTREAM', message: 'rule says no' }]);
    expect(error.fallbackErrors).toHaveLength(1);
    expect(policy.stats().exhausted).toBe(1);
  });

  it('keeps a reserve of the budget: a hung primary still gets its fallback in time', async () => {
    vi.useFakeTimers();
    const hung = scripted('primary', () => new Promise(() => {}));
    const wrapped = pipeline(hung, fallback({ chain: [{ value: 'fallback' }] }));
    const started = performance.now();
    const result = wrapped.infer(0, { timeoutMs: 200 });
    const settled = settleTime(result);
    await vi.advanceTimersByTimeAsync(181);
    // The primary's share (200 ms less the default 10 % reserve) ends at 180 ms; the wheel fires
    // within a millisecond of it, well before the caller's own deadline.
    expect(settled.at).toBeGreaterThanOrEqual(started + 180);
    expect(settled.at).toBeLessThanOrEqual(started + 181);
    await expect(result).resolves.toBe('fallback');
    // With reserveMs 0 the primary has the whole budget and the caller gets TIMEOUT.
    const strict = pipeline(hung, fallback({ chain: [{ value: 'fallback' }], reserveMs: 0 }));
    const timedOut = strict.infer(0, { timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await timedOut).toMatchObject({ code: 'TIMEOUT' });
  });

  it('rejects a bad chain with CONFIG naming the index', () => {
    expect(() => fallback({ chain: [{ value: 1 }, 42 as never] })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: expect.objectContaining({ path: 'chain.1' }) }),
    );
    expect(() => fallback({ chain: [staleCache()] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
