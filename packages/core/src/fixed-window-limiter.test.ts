import { describe, expect, it } from 'vitest';
import { FixedWindowLimiter } from './fixed-window-limiter.js';

describe('FixedWindowLimiter', () => {
  it('counts per key in fixed windows and refuses until the next window', () => {
    let wall = 10_000;
    const quota = new FixedWindowLimiter({ limit: 3, windowMs: 60_000, wallClock: () => wall });
    expect(quota.take('a', 2)).toEqual({ ok: true });
    expect(quota.available('a')).toBe(1);
    expect(quota.take('a', 2)).toEqual({ ok: false, retryAfterMs: 50_000 });
    expect(quota.take('a')).toEqual({ ok: true });
    expect(quota.take('b', 3)).toEqual({ ok: true });
    wall = 60_000;
    expect(quota.available('a')).toBe(3);
  });

  it('bounds memory, dropping the key that entered its window first', () => {
    const quota = new FixedWindowLimiter({ limit: 1, windowMs: 1000, maxKeys: 2, wallClock: () => 0 });
    quota.take('a');
    quota.take('b');
    quota.take('c');
    expect(quota.size).toBe(2);
    expect(quota.take('a').ok).toBe(true);
    expect(quota.take('c').ok).toBe(false);
  });

  it('rejects bad options with CONFIG naming the path', () => {
    expect(() => new FixedWindowLimiter({ limit: 1.5, windowMs: 1 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'limit' } }),
    );
    expect(() => new FixedWindowLimiter({ limit: 1, windowMs: 0 })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'windowMs' } }),
    );
  });
});
