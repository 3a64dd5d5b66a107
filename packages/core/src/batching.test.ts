import diagnostics from 'node:diagnostics_channel';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { batching } from './batching.js';
import { isBallastError } from './errors.js';
import { CHANNEL_NAMES, type InferContext, subscribe } from './events.js';
import { defineModel, hasTypedFailures, type InferOptions, type Model } from './model.js';
import { pipeline } from './pipeline.js';

const codeOf = (error: unknown) => (isBallastError(error) ? error.code : error);

/** A batchable model whose batches the test settles by hand. */
function manualModel() {
  const batches: { inputs: number[]; resolve: (out: unknown) => void; reject: (e: unknown) => void }[] = [];
  const model = defineModel<number, number>({
    name: 'manual',
    infer: async (x) => x * 10,
    inferBatch: (inputs) =>
      new Promise((resolve, reject) => {
        batches.push({ inputs: [...inputs], resolve: resolve as (out: unknown) => void, reject });
      }),
  });
  return { model, batches };
}

/** A model that answers a batch after `ms` of (fake) time. */
function timedModel(ms: number, sizes: number[] = []): Model<number, number> {
  return defineModel<number, number>({
    name: 'timed',
    infer: async (x) => x * 10,
    inferBatch: (inputs) => {
      sizes.push(inputs.length);
      return new Promise((resolve) => setTimeout(() => resolve(inputs.map((x) => x * 10)), ms));
    },
  });
}

describe('batching (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('dispatches at once when nothing is in flight: a lone call waits for no timer', async () => {
    const sizes: number[] = [];
    const model = pipeline(timedModel(5, sizes), batching({ maxDelayMs: 1000 }));
    const call = model.infer(4);
    await vi.advanceTimersByTimeAsync(5);
    expect(await call).toBe(40);
    expect(sizes).toEqual([1]);
  });

  it('groups callers of the same tick into one batch', async () => {
    const sizes: number[] = [];
    const model = pipeline(timedModel(5, sizes), batching({ maxBatchSize: 8 }));
    const calls = Array.from({ length: 20 }, (_, i) => model.infer(i));
    await vi.advanceTimersByTimeAsync(20);
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
    expect(sizes).toEqual([8, 8, 4]);
  });

  it('while a batch runs, gathers the next one and sends it when the first completes', async () => {
    const sizes: number[] = [];
    const model = pipeline(timedModel(10, sizes), batching({ maxBatchSize: 32, maxDelayMs: 50 }));
    const first = model.infer(1);
    await vi.advanceTimersByTimeAsync(1);
    const later = [model.infer(2), model.infer(3)];
    await vi.advanceTimersByTimeAsync(4);
    const more = [model.infer(4)];
    expect(sizes).toEqual([1]);
    await vi.advanceTimersByTimeAsync(5); // first batch completes at t=10
    expect(sizes).toEqual([1, 3]);
    await vi.advanceTimersByTimeAsync(10);
    expect(await Promise.all([first, ...later, ...more])).toEqual([10, 20, 30, 40]);
  });

  it('with a free in-flight slot, sends a partial batch after maxDelayMs', async () => {
    const sizes: number[] = [];
    const model = pipeline(timedModel(100, sizes), batching({ maxBatchSize: 32, maxDelayMs: 3, maxInFlight: 2 }));
    const a = model.infer(1);
    await vi.advanceTimersByTimeAsync(1);
    const b = model.infer(2);
    await vi.advanceTimersByTimeAsync(2);
    expect(sizes).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1); // 3 ms after b was queued
    expect(sizes).toEqual([1, 1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(await Promise.all([a, b])).toEqual([10, 20]);
  });

  it('sends a full batch at once even while another is in flight', async () => {
    const { model, batches } = manualModel();
    const batched = pipeline(model, batching({ maxBatchSize: 2, maxDelayMs: 1000, maxInFlight: 2 }));
    const calls = [batched.infer(1)];
    await vi.advanceTimersByTimeAsync(0);
    calls.push(batched.infer(2), batched.infer(3));
    expect(batches.map((b) => b.inputs)).toEqual([[1], [2, 3]]);
    for (const b of batches) b.resolve(b.inputs.map((x) => -x));
    expect(await Promise.all(calls)).toEqual([-1, -2, -3]);
  });

  it('drops an expired item before dispatch with TIMEOUT and a cancelled one with CANCELLED', async () => {
    const { model, batches } = manualModel();
    const batched = pipeline(model, batching({ maxBatchSize: 8 }));
    const first = batched.infer(1);
    await vi.advanceTimersByTimeAsync(0);
    const controller = new AbortController();
    const expiring = batched.infer(2, { timeoutMs: 5 }).catch((e: unknown) => e);
    const cancelled = batched.infer(3, { signal: controller.signal }).catch((e: unknown) => e);
    const kept = batched.infer(4);
    controller.abort();
    await vi.advanceTimersByTimeAsync(10);
    expect(codeOf(await expiring)).toBe('TIMEOUT');
    expect(codeOf(await cancelled)).toBe('CANCELLED');
    (batches[0] as (typeof batches)[0]).resolve([10]);
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.map((b) => b.inputs)).toEqual([[1], [4]]);
    (batches[1] as (typeof batches)[0]).resolve([40]);
    expect(await Promise.all([first, kept])).toEqual([10, 40]);
  });

  it('fails every item of a batch with the batch error, and with UPSTREAM on a wrong result count', async () => {
    const { model, batches } = manualModel();
    const batched = pipeline(model, batching({ maxBatchSize: 3 }));
    const failing = [1, 2, 3].map((x) => batched.infer(x).catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(0);
    const boom = new Error('runtime crashed');
    (batches[0] as (typeof batches)[0]).reject(boom);
    // What the model throws reaches every caller of the batch, classified (INTERNAL, the original as cause).
    const failures = await Promise.all(failing);
    expect(failures.map(codeOf)).toEqual(['INTERNAL', 'INTERNAL', 'INTERNAL']);
    expect(failures.map((e) => (e as Error).cause)).toEqual([boom, boom, boom]);

    const short = [4, 5].map((x) => batched.infer(x).catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(0);
    (batches[1] as (typeof batches)[0]).resolve([40]);
    const errors = await Promise.all(short);
    expect(errors.map(codeOf)).toEqual(['UPSTREAM', 'UPSTREAM']);
    expect((errors[0] as Error).message).toMatch(/returned 1 results for 2 inputs/);
  });

  it('rejects only with BallastErrors, also used without pipeline(), and marks its model so', async () => {
    const { model, batches } = manualModel();
    const batched = batching({ maxBatchSize: 2 })(model);
    expect(hasTypedFailures(batched)).toBe(true);
    const failing = [1, 2].map((x) => batched.infer(x).catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(0);
    const boom = new TypeError('not a BallastError');
    (batches[0] as (typeof batches)[0]).reject(boom);
    const failures = await Promise.all(failing);
    expect(failures.map(codeOf)).toEqual(['INTERNAL', 'INTERNAL']);
    // One classification for the batch: both callers get the same error, the original as its cause.
    expect(failures[0]).toBe(failures[1]);
    expect((failures[0] as Error).cause).toBe(boom);
  });

  it('rejects at once with OVERLOADED and a retryAfterMs estimate when the queue is full', async () => {
    const { model, batches } = manualModel();
    const rejections: unknown[] = [];
    const stop = subscribe('rejection', (e) => rejections.push(e));
    const batched = pipeline(model, batching({ maxBatchSize: 2, maxQueue: 3 }));
    const running = batched.infer(0);
    await vi.advanceTimersByTimeAsync(0);
    const queued = [1, 2, 3].map((x) => batched.infer(x));
    const overflow = await batched.infer(4).catch((e: unknown) => e);
    stop();
    expect(codeOf(overflow)).toBe('OVERLOADED');
    expect((overflow as { retryAfterMs: number }).retryAfterMs).toBeGreaterThanOrEqual(1);
    expect(rejections).toEqual([{ model: 'manual', code: 'OVERLOADED', source: 'batching' }]);
    (batches[0] as (typeof batches)[0]).resolve([0]);
    await vi.advanceTimersByTimeAsync(0);
    (batches[1] as (typeof batches)[0]).resolve([10, 20]);
    await vi.advanceTimersByTimeAsync(0);
    (batches[2] as (typeof batches)[0]).resolve([30]);
    expect(await Promise.all([running, ...queued])).toEqual([0, 10, 20, 30]);
  });

  it('never mixes groups in one batch', async () => {
    const { model, batches } = manualModel();
    const batched = pipeline(model, batching<number>({ maxBatchSize: 8, groupBy: (x) => (x % 2 === 0 ? 'even' : 'odd') }));
    const calls = [1, 2, 3, 4, 5].map((x) => batched.infer(x));
    await vi.advanceTimersByTimeAsync(0);
    (batches[0] as (typeof batches)[0]).resolve((batches[0] as (typeof batches)[0]).inputs);
    await vi.advanceTimersByTimeAsync(0);
    (batches[1] as (typeof batches)[0]).resolve((batches[1] as (typeof batches)[0]).inputs);
    expect(await Promise.all(calls)).toEqual([1, 2, 3, 4, 5]);
    expect(batches.map((b) => b.inputs)).toEqual([
      [1, 3, 5],
      [2, 4],
    ]);
  });

  it('publishes dispatch and complete events with size and queue wait', async () => {
    const events: { phase: string; size: number; queueWaitMs: number; durationMs?: number }[] = [];
    const stop = subscribe('batch', (e) => events.push(e));
    const model = pipeline(timedModel(10), batching({ maxBatchSize: 4 }));
    const first = model.infer(1);
    await vi.advanceTimersByTimeAsync(4);
    const rest = [model.infer(2), model.infer(3)];
    await vi.advanceTimersByTimeAsync(30);
    await Promise.all([first, ...rest]);
    stop();
    expect(events.map((e) => [e.phase, e.size])).toEqual([
      ['dispatch', 1],
      ['complete', 1],
      ['dispatch', 2],
      ['complete', 2],
    ]);
    expect(events[2]?.queueWaitMs).toBeCloseTo(6, 6);
    expect(events[3]?.durationMs).toBeCloseTo(10, 6);
  });

  it('records on each traced call the size of the batch it ran in', async () => {
    const channel = diagnostics.tracingChannel<InferContext>(CHANNEL_NAMES.infer);
    const traced: InferContext[] = [];
    const handlers = { start: (c: InferContext) => traced.push(c) };
    channel.subscribe(handlers as never);
    try {
      const model = pipeline(timedModel(10), batching({ maxBatchSize: 4 }));
      const first = model.infer(1, {});
      await vi.advanceTimersByTimeAsync(4);
      const rest = [2, 3, 4, 5, 6].map((x) => model.infer(x, {}));
      await vi.advanceTimersByTimeAsync(30);
      expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40, 50, 60]);
    } finally {
      channel.unsubscribe(handlers as never);
    }
    expect(traced.map((c) => c.attributes['ballast.batch.size'])).toEqual([1, 4, 4, 4, 4, 1]);
  });

  it('drains queued work on close before closing the model', async () => {
    let closed = false;
    const base = timedModel(5);
    const model = pipeline({ ...base, close: async () => void (closed = true) }, batching({ maxBatchSize: 2 }));
    const calls = [1, 2, 3].map((x) => model.infer(x));
    const closing = model.close?.();
    await expect(model.infer(9)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    await vi.advanceTimersByTimeAsync(20);
    await closing;
    expect(closed).toBe(true);
    expect(await Promise.all(calls)).toEqual([10, 20, 30]);
  });

  it('validates its options', () => {
    expect(() => batching({ maxBatchSize: 0 })).toThrow(/maxBatchSize/);
    expect(() => batching({ maxDelayMs: -1 })).toThrow(/maxDelayMs/);
    expect(() => batching()(defineModel({ name: 'plain', infer: async () => 1 }))).toThrow(/no inferBatch/);
  });
});

describe('batching queue', () => {
  it('keeps arrival order and every caller its own result while the queue grows past its first capacity from a wrapped position', async () => {
    const { model, batches } = manualModel();
    const batched = pipeline(model, batching({ maxBatchSize: 5, maxInFlight: 1, maxQueue: 1000 }));
    const controllers = new Map<number, AbortController>();
    const call = (i: number) => {
      if (i % 7 !== 3) return batched.infer(i);
      const controller = new AbortController();
      controllers.set(i, controller);
      return batched.infer(i, { signal: controller.signal });
    };
    // 12 calls: the first batch takes 5, so the next ones queue behind a moved head.
    const calls = Array.from({ length: 12 }, (_, i) => call(i));
    await Promise.resolve();
    expect(batches[0]?.inputs).toEqual([0, 1, 2, 3, 4]);
    // 30 more: 37 waiting, more than the first capacity of 16, written from the wrapped position.
    for (let i = 12; i < 42; i++) calls.push(call(i));
    controllers.get(17)?.abort();
    controllers.get(38)?.abort();
    const outcomes = calls.map((p) =>
      p.then(
        (value) => value,
        (error: unknown) => codeOf(error),
      ),
    );
    const seen: number[] = [];
    for (let k = 0; k < batches.length; k++) {
      const batch = batches[k] as (typeof batches)[number];
      seen.push(...batch.inputs);
      batch.resolve(batch.inputs.map((x) => x * 10));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Array.from({ length: 42 }, (_, i) => i).filter((i) => i !== 17 && i !== 38);
    expect(seen).toEqual(expected);
    expect(await Promise.all(outcomes)).toEqual(Array.from({ length: 42 }, (_, i) => (i === 17 || i === 38 ? 'CANCELLED' : i * 10)));
  });
});

describe('batching properties', () => {
  type Step = { kind: 'call'; cancelAfter: number | null } | { kind: 'settle'; outcome: 'ok' | 'fail' | 'short' } | { kind: 'tick' };
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('call' as const), cancelAfter: fc.option(fc.integer({ min: 0, max: 3 })) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('settle' as const),
        outcome: fc.constantFrom('ok' as const, 'fail' as const, 'short' as const),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'tick' as const }) },
  );

  it('settles every call exactly once, to the right caller, within the size and queue bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 3 }),
        async (steps, maxBatchSize, maxQueue, maxInFlight) => {
          const pending: { inputs: number[]; resolve: (v: number[]) => void; reject: (e: unknown) => void }[] = [];
          let dispatched = new Set<number>();
          const model = defineModel<number, number>({
            name: 'prop',
            infer: async (x) => x,
            inferBatch: (inputs) => {
              expect(inputs.length).toBeGreaterThan(0);
              expect(inputs.length).toBeLessThanOrEqual(maxBatchSize);
              expect(pending.length).toBeLessThan(maxInFlight);
              for (const x of inputs) {
                expect(dispatched.has(x)).toBe(false); // never dispatched twice
                expect(signals[x]?.aborted).toBe(false); // a cancelled item is never dispatched
                dispatched.add(x);
              }
              return new Promise((resolve, reject) => pending.push({ inputs: [...inputs], resolve, reject }));
            },
          });
          const batched = pipeline(model, batching({ maxBatchSize, maxQueue, maxInFlight, maxDelayMs: 1 }));
          const settled = new Map<number, number>();
          const outcomes = new Map<number, unknown>();
          const cancels: { controller: AbortController; at: number }[] = [];
          const signals: AbortSignal[] = [];
          const calls: Promise<void>[] = [];
          let next = 0;
          let time = 0;
          const track = (id: number, p: Promise<number>) =>
            p.then(
              (value) => {
                settled.set(id, (settled.get(id) ?? 0) + 1);
                outcomes.set(id, value);
              },
              (error: unknown) => {
                settled.set(id, (settled.get(id) ?? 0) + 1);
                outcomes.set(id, isBallastError(error) ? error.code : (error as Error).message);
              },
            );
          for (const s of steps) {
            if (s.kind === 'call') {
              const id = next++;
              const controller = new AbortController();
              signals[id] = controller.signal;
              if (s.cancelAfter !== null) cancels.push({ controller, at: time + s.cancelAfter });
              calls.push(track(id, batched.infer(id, { signal: controller.signal } as InferOptions)));
            } else if (s.kind === 'settle') {
              const batch = pending.shift();
              if (batch) {
                if (s.outcome === 'ok') batch.resolve(batch.inputs.map((x) => x * 2));
                else if (s.outcome === 'short') batch.resolve(batch.inputs.slice(1).map((x) => x * 2));
                else batch.reject(new Error('batch failed'));
              }
            } else {
              time++;
              for (const c of cancels) if (c.at <= time) c.controller.abort();
            }
            await vi.advanceTimersByTimeAsync(1);
            // The queue bound: items accepted and neither dispatched nor settled never exceed maxQueue.
            let waiting = 0;
            for (let id = 0; id < next; id++) if (!dispatched.has(id) && !settled.has(id)) waiting++;
            expect(waiting).toBeLessThanOrEqual(maxQueue);
          }
          // Drain: settle everything still running, advance past the cancellation grace period.
          for (let guard = 0; guard < 200 && (pending.length > 0 || settled.size < next); guard++) {
            const batch = pending.shift();
            batch?.resolve(batch.inputs.map((x) => x * 2));
            await vi.advanceTimersByTimeAsync(5);
          }
          await Promise.all(calls);
          expect(settled.size).toBe(next);
          for (const [id, count] of settled) {
            expect(count).toBe(1);
            const outcome = outcomes.get(id);
            if (typeof outcome === 'number')
              expect(outcome).toBe(id * 2); // the right caller's result
            else expect(['CANCELLED', 'OVERLOADED', 'UPSTREAM', 'INTERNAL']).toContain(outcome);
          }
          dispatched = new Set();
        },
      ),
      { numRuns: 150 },
    );
  });

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
});
