import { defineModel, pipeline, signalOf } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fallback } from './fallback.js';
import { delay, scripted, settleTime } from './test-models.js';
import { timeout } from './timeout.js';

describe('timeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('caps a call, aborting the work below, and leaves the rest of the budget to outer layers', async () => {
    let below: AbortSignal | undefined;
    const slow = scripted('slow', (_c, _i, options) => {
      below = signalOf(options);
      return delay(1000, 'late', options);
    });
    const model = pipeline(slow, fallback({ chain: [{ value: 'fallback' }], reserveMs: 0 }), timeout({ timeoutMs: 100 }));
    const started = performance.now();
    const result = model.infer(0, { timeoutMs: 5000 });
    const settled = settleTime(result);
    await vi.advanceTimersByTimeAsync(99);
    expect(settled.at).toBeUndefined();
    expect(below?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled.at).toBe(started + 100);
    await expect(result).resolves.toBe('fallback');
    expect(slow.signals.length).toBe(1);
    // The work below saw a signal of its own, aborted with TIMEOUT when the cap passed.
    expect(below?.aborted).toBe(true);
    expect(below?.reason).toMatchObject({ code: 'TIMEOUT' });
  });

  it('never extends a shorter caller budget, and works without one', async () => {
    const slow = scripted('slow', (_c, _i, options) => delay(1000, 'late', options));
    const model = pipeline(slow, timeout({ timeoutMs: 500 }));
    const short = model.infer(0, { timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await short).toMatchObject({ code: 'TIMEOUT' });
    const bare = timeout({ timeoutMs: 20 })(slow);
    const started = performance.now();
    const result = bare.infer(0).catch((e: unknown) => e);
    const settled = settleTime(result);
    await vi.advanceTimersByTimeAsync(19);
    expect(settled.at).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled.at).toBe(started + 20);
    expect(await result).toMatchObject({ code: 'TIMEOUT' });
    const fast = pipeline(defineModel({ name: 'fast', infer: async (x: number) => x }), timeout({ timeoutMs: 20 }));
    await expect(fast.infer(7)).resolves.toBe(7);
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => timeout({ timeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: expect.objectContaining({ path: 'timeoutMs' }) }),
    );
    expect(() => timeout({} as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
