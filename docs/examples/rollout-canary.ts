// docs/examples/rollout-canary.ts
import { defineModel, subscribe } from '@ballast/core';
import { rollout } from '@ballast/rollout';

const v1 = defineModel({ name: 'scorer', version: 'v1', infer: async (x: number) => ({ version: 'v1', score: x * 0.5 }) });
const v2 = defineModel({ name: 'scorer', version: 'v2', infer: async (x: number) => ({ version: 'v2', score: x * 0.52 }) });

subscribe('rollout', (event) => console.log(`event: ${event.decision} (${event.reason}) -> candidate weight ${event.weight}`));

const model = rollout({
  stable: v1,
  candidate: v2,
  strategy: {
    type: 'canary',
    // A ramp: 10% for 200 ms, then 50% for 200 ms, then everything.
    steps: [
      { weight: 0.1, durationMs: 200 },
      { weight: 0.5, durationMs: 200 },
      { weight: 1, durationMs: 200 },
    ],
  },
  analysis: { windowMs: 100, minRequests: 20, healthyWindows: 2, maxErrorRate: 0.05 },
});

async function share(): Promise<number> {
  let onCandidate = 0;
  for (let i = 0; i < 1000; i++) {
    // The principal's id is the sticky key: one user always sees one version at a given weight.
    const out = await model.infer(i, { principal: { id: `user-${i}` } });
    if (out.version === 'v2') onCandidate++;
  }
  return onCandidate / 1000;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
console.log(`share on v2 at step 1: ${(await share()).toFixed(2)}`);
await sleep(210);
console.log(`share on v2 at step 2: ${(await share()).toFixed(2)}`);
await sleep(200);
console.log(`share on v2 at step 3: ${(await share()).toFixed(2)}`);
// Keep traffic flowing until the last step has run and two windows were healthy.
while (model.status().phase === 'running') {
  await share();
  await sleep(50);
}
console.log(`phase: ${model.status().phase}`);
await model.close();
