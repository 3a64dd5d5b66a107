import { afterEach, describe, expect, it, vi } from 'vitest';
import { isBallastError } from './errors.js';
import { TokenBucketLimiter } from './token-bucket.js';

describe('TokenBucketLimiter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grants a burst, then refuses with the exact wait, then refills', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 10, burst: 3 });
    const t = 1000;
    expect(limiter.take('a', 1, t).ok).toBe(true);
    expect(limiter.take('a', 1, t).ok).toBe(true);
    expect(limiter.take('a', 1, t).ok).toBe(true);
    const refused = limiter.take('a', 1, t);
    expect(refused).toEqual({ ok: false, retryAfterMs: 100 });
    // 50 ms later half a token is back: still refused, 50 ms to go.
    expect(limiter.take('a', 1, t + 50)).toEqual({ ok: false, retryAfterMs: 50 });
    expect(limiter.take('a', 1, t + 100).ok).toBe(true);
    // Refill never exceeds burst.
    expect(limiter.available('a', t + 1_000_000)).toBe(3);
  });

  it('keeps keys apart', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1 });
    expect(limiter.take('a', 1, 0).ok).toBe(true);
    expect(limiter.take('a', 1, 0).ok).toBe(false);
    expect(limiter.take('b', 1, 0).ok).toBe(true);
  });

  it('charges a cost and refuses a cost above burst with INVALID_INPUT', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 4, burst: 8 });
    expect(limiter.take('k', 6, 0).ok).toBe(true);
    expect(limiter.take('k', 4, 0)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(() => limiter.take('k', 9, 0)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => limiter.take('k', -1, 0)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(limiter.take('k', 0, 0).ok).toBe(true);
  });

  it('reads the faked performance clock by default', () => {
    vi.useFakeTimers();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 1 });
    expect(limiter.take('x').ok).toBe(true);
    const refused = limiter.take('x');
    expect(refused.ok).toBe(false);
    vi.advanceTimersByTime(499);
    expect(limiter.take('x').ok).toBe(false);
    vi.advanceTimersByTime(1);
    expect(limiter.take('x').ok).toBe(true);
  });

  it('accepts an injected clock', () => {
    let t = 0;
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, clock: () => t });
    expect(limiter.take().ok).toBe(true);
    expect(limiter.take().ok).toBe(false);
    t = 1000;
    expect(limiter.take().ok).toBe(true);
  });

  it('bounds memory with an LRU of keys', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100 });
    for (let i = 0; i < 10_000; i++) limiter.take(`key-${i}`, 1, 0);
    expect(limiter.size).toBe(100);
    limiter.reset();
    expect(limiter.size).toBe(0);
  });

  it('rejects bad options with CONFIG naming the path', () => {
    for (const [options, path] of [
      [{ ratePerSecond: 0 }, 'ratePerSecond'],
      [{ ratePerSecond: Number.NaN }, 'ratePerSecond'],
      [{ ratePerSecond: 1, burst: 0.5 }, 'burst'],
      [{ ratePerSecond: 1, maxKeys: 1.5 }, 'maxKeys'],
    ] as const) {
      try {
        new TokenBucketLimiter(options as never);
        expect.unreachable();
      } catch (error) {
        expect(isBallastError(error) && error.code).toBe('CONFIG');
        expect(isBallastError(error) && error.details?.path).toBe(path);
      }
    }
  });
});
