import { type HedgeEvent, pipeline, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hedge } from './hedge.js';
import { delay, scripted, unavailable } from './test-models.js';

describe('hedge', () => {
  let events: HedgeEvent[];
  let stop: () => void;
  beforeEach(() => {
    vi.useFakeTimers();
    events = [];
    stop = subscribe('hedge', (e) => events.push(e));
  });
  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('starts a second attempt after the delay; the first success wins and the loser is aborted', async () => {
    const model = scripted('m', (call, _input, options) => delay(call === 1 ? 1000 : 30, `attempt ${call}`, options));
    const policy = hedge({ delayMs: 50, maxRatio: 1 });
    const result = pipeline(model, policy).infer(0, { timeoutMs: 5000 });
    await vi.advanceTimersByTimeAsync(50);
    expect(model.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(30);
    await expect(result).resolves.toBe('attempt 2');
    expect(model.signals[0]?.aborted).toBe(true);
    expect(model.signals[1]?.aborted).toBe(false);
    expect(events).toEqual([
      { model: 'm', afterMs: 50 },
      { model: 'm', afterMs: 50, winner: 'hedge' },
    ]);
    expect(policy.stats()).toMatchObject({ hedged: 1, hedgeWins: 1 });
  });

  it('a fast primary needs no hedge; a primary failing early fails the call', async () => {
    const fast = scripted('m', (_c, _i, options) => delay(10, 'fast', options));
    const result = pipeline(fast, hedge({ delayMs: 50 })).infer(0);
    await vi.advanceTimersByTimeAsync(10);
    await expect(result).resolves.toBe('fast');
    await vi.advanceTimersByTimeAsync(100);
    expect(fast.calls).toBe(1);
    const failing = scripted('m', () => Promise.reject(unavailable()));
    await expect(pipeline(failing, hedge({ delayMs: 50 })).infer(0)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('when the hedge fails the primary can still win', async () => {
    const model = scripted('m', (call, _i, options) => (call === 1 ? delay(100, 'primary', options) : Promise.reject(unavailable())));
    const result = pipeline(model, hedge({ delayMs: 20, maxRatio: 1 })).infer(0);
    await vi.advanceTimersByTimeAsync(100);
    await expect(result).resolves.toBe('primary');
  });

  it('caps extra load at maxRatio of calls', async () => {
    const model = scripted('m', (_c, _i, options) => delay(100, 'slow', options));
    const policy = hedge({ delayMs: 10, maxRatio: 0.25, minPerSecond: 0 });
    const wrapped = pipeline(model, policy);
    const calls = Array.from({ length: 8 }, (_, i) => wrapped.infer(i));
    await vi.advanceTimersByTimeAsync(200);
    await Promise.all(calls);
    expect(policy.stats()).toMatchObject({ hedged: 2, budgetExhausted: 6 });
  });

  it('learns the delay from a latency percentile', async () => {
    const model = scripted('m', (call, _i, options) => delay(call <= 20 ? call : 5, 'ok', options));
    const policy = hedge({ percentile: 0.5, minSamples: 20 });
    const wrapped = pipeline(model, policy);
    for (let i = 0; i < 20; i++) {
      const p = wrapped.infer(i);
      await vi.advanceTimersByTimeAsync(20);
      await p;
    }
    expect(policy.stats().delayMs).toBe(11);
  });

  it('needs a delay or a percentile', () => {
    expect(() => hedge({})).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
