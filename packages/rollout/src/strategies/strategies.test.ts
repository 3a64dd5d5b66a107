import { defineModel, now } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import type { StrategyContext } from '../strategy.js';
import { blueGreen } from './blue-green.js';
import { canary } from './canary.js';
import { STRATEGIES } from './index.js';
import { shadow } from './shadow.js';

/** A context that records what a strategy asks of its rollout, as a unit test of the strategy alone. */
function fakeContext(options: { healthy?: () => boolean; candidate?: (input: number) => Promise<number> } = {}) {
  const asked: { decisions: string[]; promotions: number; records: [string, boolean][]; comparisons: boolean[]; running: boolean } = {
    decisions: [],
    promotions: 0,
    records: [],
    comparisons: [],
    running: true,
  };
  const context: StrategyContext<number, number> = {
    name: 'scorer',
    stable: defineModel({ name: 'scorer', version: 'v1', infer: async (x: number) => x }),
    candidate: defineModel({
      name: 'scorer',
      version: 'v2',
      infer: options.candidate ?? (async (x: number) => x),
      health: async () => ((options.healthy?.() ?? true) ? { ready: true, status: 'ready' } : { ready: false, status: 'unavailable' }),
    }),
    random: () => 0.5,
    running: () => asked.running,
    isError: () => true,
    record: (role, _started, failed) => asked.records.push([role, failed]),
    compare: (agreed) => asked.comparisons.push(agreed),
    decide: (decision, reason) => asked.decisions.push(`${decision}:${reason}`),
    promoteIfDue: () => {
      asked.promotions++;
    },
  };
  return { context, asked };
}

describe('strategies', () => {
  it('registers one factory per strategy type', () => {
    expect(Object.keys(STRATEGIES).sort()).toEqual(['blue-green', 'canary', 'shadow']);
  });

  it('canary: a late tick takes every due step in order, then ends the ramp and asks for a promotion', () => {
    const { context, asked } = fakeContext();
    const before = now();
    const runtime = canary(
      {
        type: 'canary',
        steps: [
          { weight: 0.1, durationMs: 1000 },
          { weight: 0.5, durationMs: 1000 },
        ],
      },
      context,
    );
    const after = now();
    expect(runtime.weight()).toBe(0.1);
    expect(runtime.canPromote()).toBe(false);
    runtime.tick?.(before + 999);
    expect(asked.decisions).toEqual([]);
    runtime.tick?.(after + 5000);
    expect(asked.decisions).toEqual(['step:ramp']);
    expect(runtime.weight()).toBe(0.5);
    expect(runtime.canPromote()).toBe(true);
    expect(asked.promotions).toBe(1);
    expect(runtime.dueAt?.()).toBeUndefined();
    expect(runtime.save?.()).toEqual({ stepIndex: 1 });
  });

  it('canary: keys stick to their bucket, keyless calls use the random source, a restored step is clamped', () => {
    const { context } = fakeContext();
    const runtime = canary({ type: 'canary', steps: [{ weight: 0.3, durationMs: 10 }] }, context);
    const picks = Array.from({ length: 200 }, (_, i) => runtime.pick?.(0, { principal: { id: `user-${i}` } }, 0.3));
    expect(Array.from({ length: 200 }, (_, i) => runtime.pick?.(0, { principal: { id: `user-${i}` } }, 0.3))).toEqual(picks);
    expect(runtime.pick?.(0, undefined, 0.6)).toBe('candidate');
    expect(runtime.pick?.(0, undefined, 0.4)).toBe('stable');
    runtime.restore?.({
      stableVersion: 'v1',
      candidateVersion: 'v2',
      phase: 'running',
      stepIndex: 7,
      switched: false,
      decisions: [],
      updatedAt: 0,
    });
    expect(runtime.save?.()).toEqual({ stepIndex: 0 });
  });

  it('blue-green: switches once the candidate reports healthy, never while the rollout is not running', async () => {
    let healthy = false;
    const { context, asked } = fakeContext({ healthy: () => healthy });
    const runtime = blueGreen({ type: 'blue-green' }, context);
    runtime.check?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect([runtime.weight(), asked.decisions]).toEqual([0, []]);
    healthy = true;
    asked.running = false;
    runtime.check?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked.decisions).toEqual([]);
    asked.running = true;
    runtime.check?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect([runtime.weight(), runtime.canPromote(), asked.decisions]).toEqual([1, true, ['switch:candidate-healthy']]);
  });

  it('shadow: mirrors stable calls only, drops beyond its concurrency, records and compares the candidate', async () => {
    const pending: (() => void)[] = [];
    const { context, asked } = fakeContext({
      candidate: (x) => new Promise((resolve) => pending.push(() => resolve(x === 1 ? 1 : -1))),
    });
    const runtime = shadow({ type: 'shadow', maxConcurrency: 2 }, context);
    for (const input of [1, 2, 3]) runtime.started?.('stable', input, undefined, Promise.resolve(input));
    runtime.started?.('candidate', 4, undefined, Promise.resolve(4));
    await new Promise((resolve) => setImmediate(resolve));
    const report = { shadow: undefined } as Parameters<NonNullable<typeof runtime.describe>>[0];
    runtime.describe?.(report);
    expect(report.shadow).toEqual({ inFlight: 2, maxConcurrency: 2, started: 2, dropped: 1 });
    for (const resolve of pending) resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked.records).toEqual([
      ['candidate', false],
      ['candidate', false],
    ]);
    expect(asked.comparisons).toEqual([true, false]);
  });
});
