// docs/examples/rollout-drift.ts
import { defineModel, pipeline, subscribe } from '@ballast/core';
import { createProfile, DriftMonitor, driftMiddleware } from '@ballast/drift';
import { rollout } from '@ballast/rollout';

// Reference: the scores the stable version gives, which are spread evenly over [0, 1).
const reference = createProfile(Array.from({ length: 1000 }, (_, i) => ({ score: ((i * 7919) % 1000) / 1000 })));
const monitor = new DriftMonitor({ name: 'risk-v2-output', reference, window: { size: 100 }, test: 'ks' });

const stable = defineModel({ name: 'risk', version: 'v1', infer: async (x: number) => x });
// The new version scores everyone higher: its outputs drift away from the reference.
const candidate = pipeline(
  defineModel({ name: 'risk', version: 'v2', infer: async (x: number) => 0.4 + 0.6 * x }),
  driftMiddleware(monitor, { sampleRate: 1, input: () => undefined, output: (score: number) => ({ score }) }),
);

subscribe('rollout', (event) =>
  console.log(`event: ${event.decision}, reason ${event.reason}, candidate drift score ${event.metrics.candidate?.driftScore}`),
);

const model = rollout({
  stable,
  candidate,
  strategy: { type: 'canary', weight: 0.5 },
  analysis: {
    windowMs: 200,
    maxDriftScore: 0.5,
    // Any function or object with score(role) works; here: the share of drifted features in the monitor's last window.
    drift: { score: (role) => (role === 'candidate' ? monitor.lastResult?.share : undefined) },
  },
});

for (let i = 0; i < 1000 && model.status().phase === 'running'; i++) {
  await model.infer(((i * 7919) % 1000) / 1000, { principal: { id: `user-${i}` } });
  if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(`phase: ${model.status().phase}`);
await model.close();
