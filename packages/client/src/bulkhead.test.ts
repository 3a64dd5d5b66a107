import { pipeline, type RejectionEvent, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from './bulkhead.js';
import { delay, scripted } from './test-models.js';

describe('bulkhead', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs maxConcurrent, queues maxQueue and rejects the rest with OVERLOADED', async () => {
    const rejections: RejectionEvent[] = [];
    const stop = subscribe('rejection', (e) => rejections.push(e));
    let running = 0;
    let peak = 0;
    const model = scripted('m', async (call, _input, options) => {
      running++;
      peak = Math.max(peak, running);
      await delay(100, null, options);
      running--;
      return call;
    });
    const policy = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    const wrapped = pipeline(model, policy);
    const a = wrapped.infer(1);
    const b = wrapped.infer(2);
    const c = wrapped.infer(3);
    const d = wrapped.infer(4).catch((e: unknown) => e);
    expect(await d).toMatchObject({ code: 'OVERLOADED', retryable: true });
    expect(((await d) as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect(policy.stats()).toEqual({ active: 2, queued: 1, rejected: 1 });
    await vi.advanceTimersByTimeAsync(100);
    expect(policy.stats()).toMatchObject({ active: 1, queued: 0 });
    await vi.advanceTimersByTimeAsync(100);
    await expect(Promise.all([a, b, c])).resolves.toEqual([1, 2, 3]);
    expect(peak).toBe(2);
    expect(policy.stats()).toMatchObject({ active: 0, queued: 0 });
    stop();
    expect(rejections).toEqual([{ model: 'm', code: 'OVERLOADED', source: 'bulkhead' }]);
  });

  it('a queued call that runs out of budget leaves the queue with TIMEOUT', async () => {
    const model = scripted('m', (call, _input, options) => delay(1000, call, options));
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const wrapped = pipeline(model, policy);
    const first = wrapped.infer(1);
    const waiting = wrapped.infer(2, { timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await waiting).toMatchObject({ code: 'TIMEOUT' });
    expect(policy.stats().queued).toBe(0);
    await vi.advanceTimersByTimeAsync(950);
    await expect(first).resolves.toBe(1);
    expect(model.calls).toBe(1);
    expect(policy.stats().active).toBe(0);
  });

  it('releases the slot when the model throws', async () => {
    const model = scripted('m', () => {
      throw new Error('boom');
    });
    const policy = bulkhead({ maxConcurrent: 1 });
    const wrapped = pipeline(model, policy);
    await expect(wrapped.infer(1)).rejects.toThrow('boom');
    await expect(wrapped.infer(1)).rejects.toThrow('boom');
    expect(policy.stats().active).toBe(0);
  });
});
