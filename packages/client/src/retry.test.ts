import { BallastError, pipeline, type RetryEvent, subscribe } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retry } from './retry.js';
import { delay, scripted, settleTime, unavailable } from './test-models.js';

describe('retry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries retryable errors with exponential backoff and publishes ballast:retry', async () => {
    const events: RetryEvent[] = [];
    const stop = subscribe('retry', (e) => events.push(e));
    const model = scripted('m', (call) => {
      if (call < 3) throw unavailable();
      return 'ok';
    });
    const policy = retry({ maxAttempts: 3, baseDelayMs: 100, jitter: 'none' });
    const result = pipeline(model, policy).infer(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(model.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(model.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(model.calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('ok');
    stop();
    expect(events.map((e) => [e.attempt, e.delayMs])).toEqual([
      [1, 100],
      [2, 200],
    ]);
    expect(policy.stats().retries).toBe(2);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const model = scripted('m', (call) => {
      throw new BallastError('MODEL_UNAVAILABLE', `fail ${call}`);
    });
    const result = pipeline(model, retry({ maxAttempts: 2, baseDelayMs: 10, jitter: 'none' })).infer(1);
    const settled = expect(result).rejects.toMatchObject({ message: 'fail 2' });
    await vi.advanceTimersByTimeAsync(10);
    await settled;
    expect(model.calls).toBe(2);
  });

  it('does not retry non-retryable or foreign errors unless shouldRetry says so', async () => {
    const bad = scripted('m', () => {
      throw new BallastError('INVALID_INPUT', 'bad');
    });
    await expect(pipeline(bad, retry()).infer(1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(bad.calls).toBe(1);
    const foreign = scripted('m', (call) => {
      if (call === 1) throw new TypeError('socket hang up');
      return 'ok';
    });
    const result = pipeline(
      foreign,
      retry({ shouldRetry: (e) => (e as Error).cause instanceof TypeError, baseDelayMs: 5, jitter: 'none' }),
    ).infer(1);
    await vi.advanceTimersByTimeAsync(5);
    await expect(result).resolves.toBe('ok');
  });

  it('honours retryAfterMs, and stops when the hint exceeds maxDelayMs', async () => {
    const model = scripted('m', (call) => {
      if (call === 1) throw unavailable(300);
      return 'ok';
    });
    const result = pipeline(model, retry({ baseDelayMs: 10, maxDelayMs: 1000, jitter: 'none' })).infer(1);
    await vi.advanceTimersByTimeAsync(299);
    expect(model.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(result).resolves.toBe('ok');

    const far = scripted('m', () => {
      throw unavailable(5000);
    });
    await expect(pipeline(far, retry({ maxDelayMs: 1000 })).infer(1)).rejects.toMatchObject({ retryAfterMs: 5000 });
    expect(far.calls).toBe(1);
  });

  it('never sleeps past the deadline: answers with the error at once', async () => {
    const model = scripted('m', (_call, _input, options) => delay(100, null, options).then(() => Promise.reject(unavailable())));
    const policy = retry({ baseDelayMs: 200, jitter: 'none' });
    const started = performance.now();
    const result = pipeline(model, policy).infer(1, { timeoutMs: 250 });
    const answered = settleTime(result);
    const settled = expect(result).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    await vi.advanceTimersByTimeAsync(100);
    // Answered when the first attempt failed, not after a backoff or at the deadline.
    expect(answered.at).toBe(started + 100);
    await settled;
    expect(policy.stats().deadlineSkipped).toBe(1);
    expect(model.calls).toBe(1);
  });

  it('caps retries with the retry budget', async () => {
    const model = scripted('m', () => {
      throw unavailable();
    });
    const policy = retry({ maxAttempts: 5, baseDelayMs: 1, jitter: 'none', budget: { ratio: 0, minPerSecond: 2, windowMs: 1000 } });
    const wrapped = pipeline(model, policy);
    const results = [wrapped.infer(1), wrapped.infer(2), wrapped.infer(3)].map((p) => p.catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all(results);
    // 3 calls, 2 retries allowed in the window: 5 upstream calls in all, not 15.
    expect(model.calls).toBe(5);
    expect(policy.stats()).toMatchObject({ retries: 2, budgetExhausted: 3 });
    // The window slides: a second later the budget is back.
    await vi.advanceTimersByTimeAsync(1000);
    const again = wrapped.infer(4).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    await again;
    expect(policy.stats().retries).toBe(4);
  });

  it('uses full jitter from the random source', async () => {
    const events: RetryEvent[] = [];
    const stop = subscribe('retry', (e) => events.push(e));
    const model = scripted('m', (call) => {
      if (call === 1) throw unavailable();
      return 'ok';
    });
    const result = pipeline(model, retry({ baseDelayMs: 100, random: () => 0.25 })).infer(1);
    await vi.advanceTimersByTimeAsync(25);
    await expect(result).resolves.toBe('ok');
    stop();
    expect(events[0]?.delayMs).toBe(25);
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => retry({ jitter: 'half' as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
