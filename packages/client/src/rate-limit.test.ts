import { BallastError, defineModel, pipeline, type RejectionEvent, subscribe, TokenBucketLimiter } from '@ballast/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rateLimit } from './rate-limit.js';

const echo = defineModel({ name: 'echo', infer: async (x: number) => x });

describe('rateLimit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rejects over the limit with RATE_LIMITED, retryAfterMs and a rejection event', async () => {
    vi.useFakeTimers();
    const events: RejectionEvent[] = [];
    const stop = subscribe('rejection', (e) => events.push(e));
    try {
      const model = pipeline(echo, rateLimit({ ratePerSecond: 5, burst: 2 }));
      await expect(model.infer(1)).resolves.toBe(1);
      await expect(model.infer(2)).resolves.toBe(2);
      const error = await model.infer(3).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BallastError);
      expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 200 });
      expect(events).toEqual([{ model: 'echo', code: 'RATE_LIMITED', source: 'rate-limit', key: '' }]);
      vi.advanceTimersByTime(200);
      await expect(model.infer(4)).resolves.toBe(4);
    } finally {
      stop();
    }
  });

  it('keys on the principal by default and on a key function when given', async () => {
    const byPrincipal = pipeline(echo, rateLimit({ ratePerSecond: 1, burst: 1 }));
    await byPrincipal.infer(1, { principal: { id: 'a' } });
    await byPrincipal.infer(1, { principal: { id: 'b' } });
    await expect(byPrincipal.infer(1, { principal: { id: 'a' } })).rejects.toMatchObject({ code: 'RATE_LIMITED' });

    const byAttribute = pipeline(echo, rateLimit({ ratePerSecond: 1, burst: 1, key: (_, o) => String(o?.attributes?.tenant) }));
    await byAttribute.infer(1, { attributes: { tenant: 't1' } });
    await byAttribute.infer(1, { attributes: { tenant: 't2' } });
    await expect(byAttribute.infer(1, { attributes: { tenant: 't1' } })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('charges the cost function and shares a given limiter', async () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 10, clock: () => 0 });
    const a = pipeline(echo, rateLimit({ ratePerSecond: 1, limiter, cost: (x) => x as number }));
    const b = pipeline(echo, rateLimit({ ratePerSecond: 1, limiter }));
    await a.infer(9);
    await b.infer(1);
    await expect(b.infer(1)).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 1000 });
    await expect(a.infer(11)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('takes any Limiter, passes it the call budget, and waits for an asynchronous answer', async () => {
    const seen: unknown[] = [];
    const limiter = {
      ratePerSecond: 2,
      take: async (key: string, cost = 1, options?: { deadline?: number }) => {
        // pipeline() turns the call's timeoutMs into an absolute deadline.
        seen.push([key, cost, typeof options?.deadline]);
        return seen.length <= 1 ? ({ ok: true } as const) : ({ ok: false, retryAfterMs: 250 } as const);
      },
    };
    const model = pipeline(echo, rateLimit({ limiter }));
    expect(await model.infer(1, { principal: { id: 'p' }, timeoutMs: 500 })).toBe(1);
    await expect(model.infer(2, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 250 });
    expect(seen).toEqual([
      ['p', 1, 'number'],
      ['', 1, 'number'],
    ]);
    const broken = pipeline(echo, rateLimit({ limiter: { take: async () => Promise.reject(new Error('lost')) } }));
    await expect(broken.infer(1)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(() => rateLimit({ limiter: {} as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });

  it('turns a failing key function into INVALID_INPUT', async () => {
    const model = pipeline(
      echo,
      rateLimit({
        ratePerSecond: 1,
        key: () => {
          throw new Error('boom');
        },
      }),
    );
    await expect(model.infer(1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('fails fast on bad options', () => {
    expect(() => rateLimit({ ratePerSecond: -1 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => rateLimit({ ratePerSecond: 1, key: 'x' as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
