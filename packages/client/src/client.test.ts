import diagnostics from 'node:diagnostics_channel';
import {
  type BallastError,
  type BreakerEvent,
  defineModel,
  type InferContext,
  type InferOptions,
  isBallastError,
  pipeline,
  subscribe,
} from '@ballast/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from './client.js';
import { staleCache } from './fallback.js';
import { delay, scripted, unavailable } from './test-models.js';

function configError(run: () => unknown): BallastError {
  try {
    run();
  } catch (error) {
    if (isBallastError(error)) return error;
    throw error;
  }
  throw new Error('expected a CONFIG error');
}

describe('createClient', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const echo = defineModel({ name: 'echo', infer: async (x: number) => x });

  it('validates options with zod and names the bad path', () => {
    expect(configError(() => createClient({ model: echo, retry: { maxAttempts: 0 } }))).toMatchObject({
      code: 'CONFIG',
      details: { path: 'retry.maxAttempts' },
    });
    expect(configError(() => createClient({ model: echo, breaker: { failureRatio: 3 } })).details?.path).toBe('breaker.failureRatio');
    expect(configError(() => createClient({ model: echo, retyr: {} } as never)).details?.path).toBe('retyr');
    // An unknown key names the closest known one, at any depth.
    const retries = configError(() => createClient({ model: echo, retries: 3 } as never));
    expect(retries).toMatchObject({ code: 'CONFIG', details: { path: 'retries', suggestion: 'retry' } });
    expect(retries.message).toContain('did you mean "retry"?');
    expect(configError(() => createClient({ model: echo, retry: { maxAttempt: 2 } } as never)).details).toMatchObject({
      path: 'retry.maxAttempt',
      suggestion: 'maxAttempts',
    });
    expect(configError(() => createClient({ model: echo, fallback: { chain: [], reserve: 5 } } as never)).details?.suggestion).toBe(
      'reserveMs',
    );
    expect(configError(() => createClient({ model: echo, colour: 'red' } as never)).details?.suggestion).toBeUndefined();
    expect(configError(() => createClient({ model: {} as never })).details?.path).toBe('model');
    expect(configError(() => createClient({ model: echo, chaos: { latency: { kind: 'fixed' } } } as never)).details?.path).toMatch(
      /^chaos\.latency/,
    );
    expect(configError(() => createClient({ model: echo, fallback: [staleCache()] })).details?.path).toBe('fallback.chain.0');
  });

  it('is a Model that answers, counts and closes', async () => {
    const closed = vi.fn(async () => {});
    const model = defineModel({ name: 'm', version: '1', infer: async (x: number) => x + 1, close: closed });
    const client = createClient({ model, retry: true, breaker: true, bulkhead: true, cache: true });
    expect(client.name).toBe('m');
    expect(client.version).toBe('1');
    await expect(client.infer(1)).resolves.toBe(2);
    await expect(client.infer(1)).resolves.toBe(2);
    const stats = client.stats();
    expect(stats).toMatchObject({ calls: 2, succeeded: 2, failed: 0, cache: { hits: 1, misses: 1 }, breaker: { '': { state: 'closed' } } });
    await client.close();
    expect(closed).toHaveBeenCalledOnce();
    await expect(client.infer(1)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(client.stats().errors).toEqual({ MODEL_UNAVAILABLE: 1 });
  });

  it('caps every call at its timeoutMs; a caller may only ask for less', async () => {
    vi.useFakeTimers();
    const slow = scripted('slow', (_c, _i, options) => delay(1000, 'late', options));
    const client = createClient({ model: slow, timeoutMs: 100 });
    const result = client.infer(0).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await result).toMatchObject({ code: 'TIMEOUT' });
    // A longer budget from the caller is capped at the client's 100 ms...
    const longer = client.infer(0, { timeoutMs: 2000 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await longer).toMatchObject({ code: 'TIMEOUT' });
    // ...and so is a call that runs inside a caller's longer pipeline budget (a server request).
    const outer = pipeline(defineModel({ name: 'request', infer: (x: number, o?: InferOptions) => client.infer(x, o) }));
    const nested = outer.infer(0, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await nested).toMatchObject({ code: 'TIMEOUT' });
    // A shorter budget from the caller wins.
    const shorter = client.infer(0, { timeoutMs: 30 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(30);
    expect(await shorter).toMatchObject({ code: 'TIMEOUT' });
    expect(slow.calls).toBe(4);
  });

  it('composes in the documented order: retries see the breaker, fallback answers rejections', async () => {
    let down = true;
    const model = scripted('up', () => {
      if (down) throw unavailable();
      return 'live';
    });
    const client = createClient({
      model,
      retry: { maxAttempts: 5, baseDelayMs: 0, budget: false },
      breaker: { consecutiveFailures: 2, openMs: 60_000 },
      cache: { ttlMs: 60_000 },
      fallback: [staleCache(), { value: 'default' }],
    });
    // Two failed attempts open the breaker; CIRCUIT_OPEN is not retried, so the upstream saw 2 calls, not 5.
    await expect(client.infer('a')).resolves.toBe('default');
    expect(model.calls).toBe(2);
    expect(client.breaker?.state()).toBe('open');
    client.breaker?.reset();
    down = false;
    await expect(client.infer('a')).resolves.toBe('live');
    client.breaker?.isolate();
    await client.cache?.clear();
    await expect(client.infer('b')).resolves.toBe('default');
    const stats = client.stats();
    expect(stats.fallback).toEqual({ primary: 1, served: { static: 2 }, exhausted: 0 });
  });

  it('cache hits skip the bulkhead; the rate limit counts every call', async () => {
    vi.useFakeTimers();
    const model = scripted('m', (call, _i, options) => delay(100, call, options));
    const client = createClient({
      model,
      cache: true,
      bulkhead: { maxConcurrent: 1, maxQueue: 0 },
      rateLimit: { ratePerSecond: 1, burst: 3 },
    });
    const first = client.infer('a');
    await vi.advanceTimersByTimeAsync(100);
    await first;
    const busy = client.infer('b');
    await expect(client.infer('a')).resolves.toBe(1);
    await expect(client.infer('c')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    await vi.advanceTimersByTimeAsync(100);
    await busy;
    expect(client.stats().rateLimit).toEqual({ rejected: 1 });
  });

  it('publishes telemetry facts on the traced call', async () => {
    const contexts: InferContext[] = [];
    const channel = diagnostics.tracingChannel<InferContext>('ballast:infer');
    const handlers = {
      start() {},
      end() {},
      asyncStart() {},
      asyncEnd(context: InferContext) {
        contexts.push(context);
      },
      error() {},
    };
    channel.subscribe(handlers);
    try {
      const model = scripted('up', (call) => {
        if (call === 1) throw unavailable();
        return 'ok';
      });
      const client = createClient({ model, retry: { baseDelayMs: 0 }, breaker: true, cache: true });
      await client.infer('x');
      const top = contexts.at(-1) as InferContext;
      expect(top.attributes).toMatchObject({ 'ballast.attempts': 2, 'ballast.cache.result': 'miss', 'ballast.breaker.state': 'closed' });

      const failing = createClient({ model: scripted('down', () => Promise.reject(unavailable())), fallback: [{ value: 0 }] });
      await failing.infer('x');
      expect(contexts.some((c) => c.attributes['ballast.fallback.source'] === 'static')).toBe(true);
    } finally {
      channel.unsubscribe(handlers);
    }
  });

  it('survives 100,000 calls against a model failing 30% and hanging 1%', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const transitions: BreakerEvent[] = [];
    const stop = subscribe('breaker', (e) => transitions.push(e));
    const timeoutMs = 40;
    const client = createClient({
      // The upstream answers on a later turn of the event loop, as I/O would.
      model: defineModel({ name: 'flaky', infer: (x: number) => new Promise<number>((resolve) => setImmediate(resolve, x)) }),
      timeoutMs,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      breaker: { consecutiveFailures: 8, openMs: 5 },
      bulkhead: { maxConcurrent: 1000 },
      // The reserve must exceed the event loop's lag for a fallback to answer a hung call in time.
      fallback: { chain: [{ value: -1 }], reserveMs: 15 },
      chaos: { seed: 42, errorRate: 0.3, hangRate: 0.01 },
    });
    // How late timers run on this (shared, noisy) machine: no deadline can be kept more precisely.
    let maxLoopGapMs = 0;
    let lastTick = performance.now();
    const monitor = setInterval(() => {
      const t = performance.now();
      maxLoopGapMs = Math.max(maxLoopGapMs, t - lastTick - 1);
      lastTick = t;
    }, 1);
    const total = 100_000;
    const concurrency = 100;
    let settledCount = 0;
    let resolved = 0;
    const codes: Record<string, number> = {};
    const lateness = new Float64Array(total);
    const seen = new Uint8Array(total);
    let nextIndex = 0;
    async function worker(): Promise<void> {
      while (nextIndex < total) {
        const index = nextIndex++;
        await new Promise((resolve) => setImmediate(resolve)); // callers arrive on I/O turns too
        const started = performance.now();
        await client.infer(index).then(
          (value) => {
            if (value !== index && value !== -1) throw new Error(`wrong answer ${value} for ${index}`);
            resolved++;
          },
          (error: unknown) => {
            const code = isBallastError(error) ? error.code : String(error);
            codes[code] = (codes[code] ?? 0) + 1;
          },
        );
        seen[index] = (seen[index] as number) + 1;
        settledCount++;
        lateness[index] = performance.now() - started - timeoutMs;
      }
    }
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
      await new Promise((resolve) => setTimeout(resolve, 30)); // let any stray rejection surface
    } finally {
      clearInterval(monitor);
      stop();
      process.off('unhandledRejection', onUnhandled);
    }
    const sorted = Float64Array.from(lateness).sort();
    const worst = sorted[total - 1] as number;
    const stats = client.stats();
    console.log(
      `chaos: ${total} calls, ${stats.chaos?.hangs} hangs, ${stats.chaos?.errors} injected errors, ` +
        `${stats.fallback?.served.static} fallbacks, ${codes.TIMEOUT ?? 0} timeouts, breaker opened ${transitions.filter((t) => t.to === 'open').length}x (${[...new Set(transitions.filter((t) => t.to === 'open').map((t) => t.reason))].join(', ')}), ` +
        `lateness p99.9 ${(sorted[Math.floor(total * 0.999)] as number).toFixed(2)} ms, worst ${worst.toFixed(2)} ms, worst loop stall ${maxLoopGapMs.toFixed(2)} ms`,
    );
    expect(settledCount).toBe(total);
    expect(seen.every((n) => n === 1)).toBe(true);
    expect(unhandled).toEqual([]);
    // Only the deadline can beat the fallback, and only when the loop stalled past the reserve.
    expect(Object.keys(codes).filter((code) => code !== 'TIMEOUT')).toEqual([]);
    // How many calls reach the model depends on how long the breaker stays open (event-loop stalls
    // on a busy machine time calls out and open it more often), so only the shape is asserted.
    expect(stats.chaos?.hangs).toBeGreaterThan(0);
    expect(stats.chaos?.errors).toBeGreaterThan(0);
    expect(stats.fallback?.served.static).toBeGreaterThan(stats.chaos?.hangs ?? 0);
    expect(resolved).toBe(total - (codes.TIMEOUT ?? 0));
    expect(resolved).toBeGreaterThan(0.98 * total);
    expect(transitions.some((t) => t.to === 'open')).toBe(true);
    expect(transitions.some((t) => t.from === 'half-open' && t.to === 'closed')).toBe(true);
    expect(worst).toBeLessThanOrEqual(5 + maxLoopGapMs);
  }, 60_000);
});
