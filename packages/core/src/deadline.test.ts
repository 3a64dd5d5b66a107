import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { atDeadline, capTimeout, deadlineOf, now, remainingMs, SIGNAL_GRACE_MS, signalOf, wheelStats, withDeadline } from './deadline.js';
import { type BallastError, isBallastError } from './errors.js';
import { defineModel, type InferOptions } from './model.js';
import { pipeline } from './pipeline.js';

const codeOf = (error: unknown) => (isBallastError(error) ? error.code : error);

/** A model that never answers unless aborted through signalOf(); records what it saw. */
function hangingModel() {
  const seen: { options?: InferOptions; abortReason?: unknown } = {};
  const model = defineModel({
    name: 'hang',
    infer: (_input: unknown, options?: InferOptions) =>
      new Promise<never>((_resolve, reject) => {
        seen.options = options;
        const signal = signalOf(options);
        signal?.addEventListener('abort', () => {
          seen.abortReason = signal.reason;
          reject(signal.reason);
        });
      }),
  });
  return { model, seen };
}

describe('deadlines (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fails a hanging call with TIMEOUT exactly when its budget runs out and aborts the work', async () => {
    const { model, seen } = hangingModel();
    const call = pipeline(model).infer('x', { timeoutMs: 100 });
    const outcome = call.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(99);
    expect(await Promise.race([outcome, Promise.resolve('pending')])).toBe('pending');
    await vi.advanceTimersByTimeAsync(2);
    const error = (await outcome) as BallastError;
    expect(codeOf(error)).toBe('TIMEOUT');
    expect(codeOf(seen.abortReason)).toBe('TIMEOUT');
    expect(wheelStats().live).toBe(0);
  });

  it('resolves a call that answers in time and leaves nothing live', async () => {
    const model = defineModel({ name: 'slow', infer: (x: number) => new Promise<number>((r) => setTimeout(() => r(x + 1), 30)) });
    const call = pipeline(model).infer(1, { timeoutMs: 100 });
    await vi.advanceTimersByTimeAsync(30);
    expect(await call).toBe(2);
    expect(wheelStats().live).toBe(0);
    // The entry in the wheel fires later, finds the call settled and does nothing.
    await vi.advanceTimersByTimeAsync(200);
    expect(wheelStats().stored).toBe(0);
  });

  it('exposes the remaining budget to the layers below, shrinking with time', async () => {
    const seen: number[] = [];
    const model = defineModel({
      name: 'm',
      infer: async (_x: unknown, options?: InferOptions) => {
        seen.push(remainingMs(options));
        await new Promise((r) => setTimeout(r, 40));
        seen.push(remainingMs(options));
        return deadlineOf(options);
      },
    });
    const start = performance.now();
    const call = pipeline(model).infer(0, { timeoutMs: 100 });
    await vi.advanceTimersByTimeAsync(40);
    const deadline = await call;
    expect(deadline).toBeCloseTo(start + 100, 6);
    expect(seen[0]).toBeCloseTo(100, 6);
    expect(seen[1]).toBeCloseTo(60, 6);
  });

  it('takes the earlier of timeoutMs and an explicit deadline', () => {
    const now = performance.now();
    expect(deadlineOf({ timeoutMs: 50, deadline: now + 20 })).toBeCloseTo(now + 20, 6);
    expect(deadlineOf({ timeoutMs: 10, deadline: now + 20 })).toBeCloseTo(now + 10, 6);
    expect(remainingMs(undefined)).toBe(Number.POSITIVE_INFINITY);
    expect(remainingMs({ deadline: now - 5 })).toBe(0);
  });

  it('shares one budget across nested pipelines', async () => {
    const { model, seen } = hangingModel();
    const inner = pipeline(model);
    const outer = pipeline(
      defineModel({ name: 'outer', infer: (x: unknown, o?: InferOptions) => inner.infer(x, { ...o, timeoutMs: 10_000 }) }),
    );
    const outcome = outer.infer('x', { timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(51);
    expect(codeOf(await outcome)).toBe('TIMEOUT');
    // The inner layer saw the outer deadline, not its own longer timeoutMs.
    expect(remainingMs(seen.options)).toBe(0);
  });

  it('lets an inner layer tighten the budget, never extend it', async () => {
    const { model, seen } = hangingModel();
    const inner = pipeline(model);
    // A client-like layer with its own 40 ms cap inside a request's 1000 ms budget.
    const outer = pipeline(
      defineModel({
        name: 'outer',
        infer: async (x: unknown, o?: InferOptions) => {
          const first = await inner.infer(x, { ...o, timeoutMs: 40 }).catch((e: unknown) => e);
          return { first, left: remainingMs(o) };
        },
      }),
    );
    const call = outer.infer('x', { timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(41);
    const { first, left } = await call;
    expect(codeOf(first)).toBe('TIMEOUT');
    expect(codeOf(seen.abortReason)).toBe('TIMEOUT'); // the inner work was aborted through signalOf()
    expect(left).toBeGreaterThan(955); // the outer call goes on with its own budget
    expect(left).toBeLessThanOrEqual(960);
    expect(wheelStats().live).toBe(0);
  });

  it('caps a budget with capTimeout(): tighter in, never longer', async () => {
    expect(capTimeout(undefined, 50)).toEqual({ timeoutMs: 50 });
    const short = { timeoutMs: 20 };
    expect(capTimeout(short, 50)).toBe(short);
    const capped = capTimeout({ timeoutMs: 500, priority: 3, custom: 'kept' } as InferOptions, 50);
    expect(capped).toMatchObject({ timeoutMs: 50, priority: 3, custom: 'kept' });

    const { model } = hangingModel();
    const client = pipeline(
      defineModel({ name: 'client', infer: (x: unknown, o?: InferOptions) => pipeline(model).infer(x, capTimeout(o, 30)) }),
    );
    const call = client.infer('x', { timeoutMs: 1000 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(31);
    expect(codeOf(await call)).toBe('TIMEOUT');
  });

  it('aborts a tighter inner budget when the enclosing call is cancelled', async () => {
    const { model, seen } = hangingModel();
    const inner = pipeline(model);
    const controller = new AbortController();
    const outer = pipeline(
      defineModel({ name: 'outer', infer: (x: unknown, o?: InferOptions) => inner.infer(x, { ...o, timeoutMs: 500 }) }),
    );
    const call = outer.infer('x', { timeoutMs: 1000, signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await vi.advanceTimersByTimeAsync(1);
    expect(codeOf(await call)).toBe('CANCELLED');
    expect(codeOf(seen.abortReason)).toBe('CANCELLED');
    await vi.advanceTimersByTimeAsync(600);
    expect(wheelStats().live).toBe(0);
  });

  it('fails at once with CANCELLED when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { model } = hangingModel();
    await expect(pipeline(model).infer('x', { signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('notices a caller abort within the grace period, then at once', async () => {
    const { model } = hangingModel();
    const early = new AbortController();
    const first = pipeline(model)
      .infer('x', { signal: early.signal })
      .catch((e: unknown) => e);
    early.abort();
    await vi.advanceTimersByTimeAsync(SIGNAL_GRACE_MS);
    expect(codeOf(await first)).toBe('CANCELLED');

    const late = new AbortController();
    const second = pipeline(model)
      .infer('x', { signal: late.signal })
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(SIGNAL_GRACE_MS + 10);
    late.abort('user left');
    const error = (await second) as BallastError;
    expect(codeOf(error)).toBe('CANCELLED');
    expect(error.cause).toBe('user left');
    expect(wheelStats().live).toBe(0);
  });

  it('puts one abort listener on a signal that many concurrent calls share, and cancels them all', async () => {
    const { model } = hangingModel();
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const served = pipeline(model);
      const calls = Array.from({ length: 64 }, () => served.infer('x', { signal: controller.signal }).catch((e: unknown) => e));
      await vi.advanceTimersByTimeAsync(SIGNAL_GRACE_MS + 10);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      controller.abort();
      for (const error of await Promise.all(calls)) expect(codeOf(error)).toBe('CANCELLED');
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => process.nextTick(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
    expect(wheelStats().live).toBe(0);
  });

  it('removes the shared listener once the last call on the signal settles', async () => {
    const controller = new AbortController();
    const slow = defineModel({ name: 'slow', infer: (x: number) => new Promise<number>((resolve) => setTimeout(() => resolve(x), 20)) });
    const served = pipeline(slow);
    const calls = [1, 2, 3].map((x) => served.infer(x, { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(SIGNAL_GRACE_MS + 1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(30);
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('aborts the lazily created signal when the caller aborts', async () => {
    const { model, seen } = hangingModel();
    const controller = new AbortController();
    const call = pipeline(model)
      .infer('x', { signal: controller.signal, timeoutMs: 1000 })
      .catch((e: unknown) => e);
    controller.abort();
    await vi.advanceTimersByTimeAsync(1);
    expect(codeOf(await call)).toBe('CANCELLED');
    expect(codeOf(seen.abortReason)).toBe('CANCELLED');
  });

  it('rejects a zero or spent budget without running the model', async () => {
    let ran = 0;
    const model = pipeline(defineModel({ name: 'm', infer: async () => ++ran }));
    await expect(model.infer(0, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(model.infer(0, { deadline: performance.now() - 1 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await expect(model.infer(0, { timeoutMs: -5 })).rejects.toMatchObject({ code: 'CONFIG' });
    expect(ran).toBe(0);
  });

  it('keeps the wheel bounded when many fast calls have long budgets', async () => {
    const model = pipeline(defineModel({ name: 'fast', infer: async (x: number) => x }));
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => model.infer(i, { timeoutMs: 60_000 })));
    }
    expect(wheelStats().live).toBe(0);
    // 20,000 settled entries were registered; compaction keeps far fewer.
    expect(wheelStats().stored).toBeLessThanOrEqual(4096 + 1000);
    await vi.advanceTimersByTimeAsync(60_001);
    expect(wheelStats().stored).toBe(0);
  });

  it('sweeps settled entries early while few calls are live', async () => {
    const model = pipeline(defineModel({ name: 'fast', infer: async (x: number) => x }));
    // One call at a time, each with a long budget: its entry stays in a slot a minute away.
    for (let i = 0; i < 3000; i++) await model.infer(i, { timeoutMs: 60_000 });
    expect(wheelStats().live).toBe(0);
    expect(wheelStats().stored).toBeLessThanOrEqual(256);
    await vi.advanceTimersByTimeAsync(60_001);
    expect(wheelStats().stored).toBe(0);
  });

  it('guards arbitrary work with withDeadline', async () => {
    const outcome = withDeadline({ timeoutMs: 20 }, () => new Promise(() => {})).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(21);
    expect(codeOf(await outcome)).toBe('TIMEOUT');
    expect(await withDeadline(undefined, async () => 7)).toBe(7);
  });
});

describe('deadlines (real timers)', () => {
  it('calls a deadline entry back once its time has passed, on the wheel calls use', async () => {
    const calls: number[] = [];
    const entry = { done: false, onWheel: (at: number) => calls.push(at) };
    const due = now() + 25;
    atDeadline(entry, due);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(calls).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeGreaterThanOrEqual(due);
  });

  it('times out close to the budget', async () => {
    const { model } = hangingModel();
    const started = performance.now();
    await expect(pipeline(model).infer('x', { timeoutMs: 30 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(29);
  });
});
