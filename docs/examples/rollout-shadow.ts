// docs/examples/rollout-shadow.ts
import { defineModel } from '@ballast/core';
import { outputComparator, rollout } from '@ballast/rollout';

// Class probabilities for [cat, dog].
const stable = defineModel({ name: 'pets', version: 'v1', infer: async (x: number) => (x % 10 === 0 ? [0.4, 0.6] : [0.9, 0.1]) });
const candidate = defineModel({
  name: 'pets',
  version: 'v2',
  infer: async (x: number) => {
    await new Promise((resolve) => setTimeout(resolve, 20)); // slower, but nobody waits for it
    return x % 10 === 0 ? [0.7, 0.3] : [0.8, 0.2]; // disagrees on every tenth input
  },
});

const model = rollout({
  stable,
  candidate,
  strategy: { type: 'shadow', sampleRate: 1, maxConcurrency: 8, comparator: outputComparator() },
  // Watch only: a person decides, from the numbers below.
  analysis: { autoPromote: false, autoRollback: false },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let slowest = 0;
for (let x = 0; x < 200; x++) {
  const started = performance.now();
  const out = await model.infer(x);
  slowest = Math.max(slowest, performance.now() - started);
  if (x < 2) console.log(`answer for ${x}: [${out.join(', ')}] (always the stable version's)`);
  if (x % 10 === 9) await sleep(25); // traffic arrives in bursts of ten
}
console.log(`slowest answer: ${slowest < 20 ? 'under 20 ms' : `${slowest.toFixed(1)} ms`}; nobody waited for v2`);
await sleep(50); // let the last mirrored calls finish

const { shadow, metrics } = model.status();
console.log(`mirrored: ${shadow?.started}, skipped at the concurrency cap: ${shadow?.dropped}`);
console.log(`compared: ${metrics.candidate.shadowCompared}, disagreement rate: ${metrics.candidate.disagreementRate?.toFixed(2)}`);
await model.close();
