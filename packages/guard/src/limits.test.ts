import { FixedWindowLimiter, TokenBucketLimiter } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { principalLimits } from './limits.js';

function rejection(fn: () => void): { code: string; retryAfterMs?: number; details?: Record<string, unknown> } | undefined {
  try {
    fn();
  } catch (error) {
    return error as never;
  }
  return undefined;
}

describe('principalLimits', () => {
  it('rate-limits each principal with its own token bucket and says when to retry', () => {
    let t = 0;
    const limits = principalLimits({ rate: { ratePerSecond: 2, burst: 2 }, clock: () => t });
    const alice = { id: 'alice' };
    limits.admit(alice, 'm');
    limits.admit(alice, 'm');
    const error = rejection(() => limits.admit(alice, 'm'));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 500, details: { kind: 'rate' } });
    // Another principal is not affected.
    expect(rejection(() => limits.admit({ id: 'bob' }, 'm'))).toBeUndefined();
    t += 500;
    expect(rejection(() => limits.admit(alice, 'm'))).toBeUndefined();
  });

  it('keeps one bucket per model when perModel is set', () => {
    const limits = principalLimits({ rate: { ratePerSecond: 1, burst: 1, perModel: true }, clock: () => 0 });
    limits.admit({ id: 'a' }, 'm1');
    expect(rejection(() => limits.admit({ id: 'a' }, 'm2'))).toBeUndefined();
    expect(rejection(() => limits.admit({ id: 'a' }, 'm1'))?.code).toBe('RATE_LIMITED');
  });

  it('enforces fixed-window quotas with Retry-After until the window ends, per plan', () => {
    let wall = 10_000;
    const limits = principalLimits({
      quota: { limit: 2, windowMs: 60_000 },
      plans: { pro: { quota: { limit: 5, windowMs: 60_000 } } },
      wallClock: () => wall,
    });
    const free = { id: 'free' };
    limits.admit(free, 'm');
    limits.admit(free, 'm');
    expect(limits.quotaLeft(free)).toBe(0);
    expect(rejection(() => limits.admit(free, 'm'))).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterMs: 50_000,
      details: { kind: 'quota' },
    });
    const pro = { id: 'pro', attributes: { plan: 'pro' } };
    for (let i = 0; i < 5; i++) limits.admit(pro, 'm');
    expect(rejection(() => limits.admit(pro, 'm'))?.code).toBe('RATE_LIMITED');
    wall = 60_000;
    expect(rejection(() => limits.admit(free, 'm'))).toBeUndefined();
  });

  it('does not count a request the rate limit refused against the quota', () => {
    const limits = principalLimits({
      rate: { ratePerSecond: 1, burst: 1 },
      quota: { limit: 10, windowMs: 1000 },
      clock: () => 0,
      wallClock: () => 0,
    });
    limits.admit({ id: 'a' }, 'm');
    rejection(() => limits.admit({ id: 'a' }, 'm'));
    expect(limits.quotaLeft({ id: 'a' })).toBe(9);
  });

  it('takes limiters from a factory and answers with promises when they do', async () => {
    const tiers: string[] = [];
    const asyncOf = (limiter: { take: (key: string, cost?: number) => unknown; available?: (key: string) => unknown }) => ({
      take: async (key: string, cost?: number) => limiter.take(key, cost) as never,
      available: async (key: string) => (limiter.available?.(key) ?? Number.POSITIVE_INFINITY) as number,
    });
    const limits = principalLimits({
      rate: { ratePerSecond: 1, burst: 1 },
      quota: { limit: 2, windowMs: 60_000 },
      limiters: {
        rate: (policy, tier) => {
          tiers.push(`rate:${tier}`);
          return asyncOf(new TokenBucketLimiter({ ratePerSecond: policy.ratePerSecond, burst: policy.burst ?? 1, clock: () => 0 }));
        },
        quota: (policy, tier) => {
          tiers.push(`quota:${tier}`);
          return asyncOf(new FixedWindowLimiter({ limit: policy.limit, windowMs: policy.windowMs, wallClock: () => 0 }));
        },
      },
    });
    expect(tiers).toEqual(['rate:default', 'quota:default']);
    const pending = limits.admit({ id: 'a' }, 'm');
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    // Refused by the rate limit: not counted against the quota.
    await expect(limits.admit({ id: 'a' }, 'm')).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { kind: 'rate' } });
    expect(await limits.quotaLeft({ id: 'a' })).toBe(1);
  });

  it('rejects bad configuration', () => {
    expect(() => principalLimits({ rate: { ratePerSecond: 0 } })).toThrow(/ratePerSecond/);
    expect(() => principalLimits({ quota: { limit: -1, windowMs: 1 } })).toThrow(/limit/);
  });
});
