import { defineModel, pipeline, seededRandom, subscribe } from '@ballast/core';
import { createProfile, DriftMonitor, driftMiddleware } from '@ballast/drift';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type RolloutEvent, rollout } from './index.js';

// A seeded generator, so the data and the verdicts are reproducible.
const generator = seededRandom;

let events: RolloutEvent[];
let stop: () => void;
beforeEach(() => {
  vi.useFakeTimers();
  events = [];
  stop = subscribe('rollout', (event) => events.push(event));
});
afterEach(() => {
  stop();
  vi.useRealTimers();
});

describe('with a @ballast/drift monitor as the drift source', () => {
  async function run(candidateShift: number) {
    const random = generator(7);
    // Reference: the stable version's scores, uniform on [0, 1).
    const reference = createProfile(Array.from({ length: 1000 }, () => ({ score: random() })));
    const monitor = new DriftMonitor({ reference, window: { size: 100 }, test: 'ks' });
    const stable = defineModel({ name: 'risk', version: 'v1', infer: async (x: number) => x });
    const candidate = pipeline(
      defineModel({ name: 'risk', version: 'v2', infer: async (x: number) => Math.min(1, x * (1 - candidateShift) + candidateShift) }),
      driftMiddleware(monitor, { sampleRate: 1, input: () => undefined, output: (score: number) => ({ score }) }),
    );
    const model = rollout({
      stable,
      candidate,
      strategy: { type: 'canary', weight: 0.5 },
      analysis: {
        windowMs: 1000,
        minRequests: 20,
        healthyWindows: 2,
        maxDriftScore: 0.5,
        // The share of the monitor's features that drifted in its latest window.
        drift: { score: (role) => (role === 'candidate' ? monitor.lastResult?.share : undefined) },
      },
    });
    for (let window = 0; window < 2 && model.status().phase === 'running'; window++) {
      for (let i = 0; i < 400; i++) await model.infer(random(), { principal: { id: `user-${window}-${i}` } });
      await vi.advanceTimersByTimeAsync(1000);
    }
    await model.close();
    return model.status();
  }

  it('rolls back a candidate whose outputs drifted from the reference', async () => {
    const status = await run(0.4);
    expect(status.phase).toBe('rolled-back');
    expect(events[0]).toMatchObject({ decision: 'rollback', reason: 'drift' });
    expect(events[0]?.metrics.candidate?.driftScore).toBe(1);
  });

  it('promotes a candidate whose outputs match the reference', async () => {
    const status = await run(0);
    expect(status.phase).toBe('promoted');
    expect(events.map((e) => [e.decision, e.reason])).toEqual([['promote', 'healthy-windows']]);
    expect(events[0]?.metrics.candidate?.driftScore).toBe(0);
  });
});
