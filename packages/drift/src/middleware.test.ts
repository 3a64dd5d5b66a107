import { defineModel, pipeline } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { driftMiddleware } from './middleware.js';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { normalSample } from './test-data.js';

const reference = createProfile(
  normalSample(500, 0, 1, 1).map((x, i) => ({ x, __prediction__: i % 2 ? 'a' : 'b', __confidence__: 0.5 + (i % 50) / 100 })),
);

function classifier() {
  return defineModel<{ x: number }, number[]>({
    name: 'clf',
    infer: async ({ x }) => (x > 0 ? [0.2, 0.8] : [0.9, 0.1]),
  });
}

describe('driftMiddleware', () => {
  it('observes sampled calls in batches after they resolve, with output features', async () => {
    const monitor = new DriftMonitor({ reference, window: { size: 20 } });
    const results: unknown[] = [];
    let draw = 0;
    const model = pipeline(
      classifier(),
      driftMiddleware<{ x: number }, number[]>(monitor, {
        sampleRate: 0.5,
        output: true,
        labels: ['a', 'b'],
        id: (_input, options) => options?.attributes?.requestId as string | undefined,
        random: () => (draw++ % 2 === 0 ? 0.1 : 0.9),
      }),
    );
    const outputs = await Promise.all(normalSample(40, 0, 1, 2).map((x, i) => model.infer({ x }, { attributes: { requestId: `r${i}` } })));
    expect(outputs[0]).toHaveLength(2);
    expect(monitor.windowRows).toBe(0); // not yet: handed over on the next tick
    await new Promise((resolve) => setImmediate(resolve));
    expect(monitor.windows).toBe(1);
    results.push(monitor.lastResult);
    const features = monitor.lastResult?.features.map((f) => f.feature);
    expect(features).toEqual(['x', '__prediction__', '__confidence__']);
    expect(monitor.lastResult?.features.every((f) => f.windowSize === 20)).toBe(true);
    // sampled calls remembered their prediction for late labels
    expect(monitor.recordOutcome('r0', 'a')).toBe(true);
    expect(monitor.recordOutcome('r1', 'a')).toBe(false);
  });

  it('never samples at rate 0 and flushes when the batch is full', async () => {
    const monitor = new DriftMonitor({ reference, window: { size: 500 }, features: ['x'] });
    // A draw of 0 is the lowest `random` can give: rate 0 must still skip it.
    const zero = driftMiddleware(monitor, { sampleRate: 0, random: () => 0 });
    const none = pipeline(classifier(), zero);
    for (let i = 0; i < 3; i++) await none.infer({ x: i });
    // Sampled calls reach the monitor only when the queue flushes, so flush before asserting.
    zero.flush();
    expect(monitor.windowRows).toBe(0);
    const all = driftMiddleware(monitor, { sampleRate: 1, batchSize: 3 });
    const model = pipeline(classifier(), all);
    for (let i = 0; i < 3; i++) await model.infer({ x: i });
    expect(monitor.windowRows).toBe(3);
    await model.infer({ x: 9 });
    all.flush();
    expect(monitor.windowRows).toBe(4);
  });

  it('keeps mapping errors away from the caller', async () => {
    const monitor = new DriftMonitor({ reference, features: ['x'] });
    const errors: unknown[] = [];
    const middleware = driftMiddleware<{ x: number }, number[]>(monitor, {
      sampleRate: 1,
      input: () => {
        throw new Error('boom');
      },
      onError: (e) => errors.push(e),
    });
    const model = pipeline(classifier(), middleware);
    await expect(model.infer({ x: 1 })).resolves.toEqual([0.2, 0.8]);
    middleware.flush();
    expect(errors).toHaveLength(1);
  });

  it('rejects bad options with CONFIG', () => {
    const monitor = new DriftMonitor({ reference });
    expect(() => driftMiddleware(monitor, { sampleRate: 2 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => driftMiddleware({} as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});

describe('driftMiddleware identity', () => {
  it('reports the current version of a model that changes it (a reload)', () => {
    let version = 'v1';
    const model = {
      name: 'clf',
      get version() {
        return version;
      },
      infer: async ({ x }: { x: number }) => [x],
    };
    const monitor = new DriftMonitor({ reference, window: { size: 20 } });
    const wrapped = pipeline(model, driftMiddleware<{ x: number }, number[]>(monitor, { sampleRate: 0 }));
    expect(wrapped.version).toBe('v1');
    version = 'v2';
    expect(wrapped.version).toBe('v2');
  });
});
