// docs/examples/rollout-auto-rollback.ts
import { BallastError, defineModel, subscribe } from '@ballast/core';
import { rollout } from '@ballast/rollout';

const stable = defineModel({ name: 'fraud', version: 'v7', infer: async (_tx: { amount: number }) => 'legit' });
// The new version fails one call in three.
let calls = 0;
const candidate = defineModel({
  name: 'fraud',
  version: 'v8',
  infer: async (_tx: { amount: number }) => {
    if (++calls % 3 === 0) throw new BallastError('UPSTREAM', 'v8 crashed');
    return 'legit';
  },
});

subscribe('rollout', (event) => {
  const c = event.metrics.candidate;
  console.log(`event: ${event.decision} ${event.fromVersion} -> ${event.toVersion}, reason ${event.reason}`);
  console.log(`candidate window: ${c?.requests} calls, error rate ${c?.errorRate.toFixed(2)}`);
});

const model = rollout({
  stable,
  candidate,
  strategy: { type: 'canary', weight: 0.5 },
  analysis: { minRequests: 20, maxErrorRate: 0.1 },
});

let failed = 0;
for (let i = 0; i < 500; i++) {
  await model.infer({ amount: i }, { principal: { id: `card-${i}` } }).catch(() => failed++);
}
const status = model.status();
console.log(`phase: ${status.phase}, failed calls: ${failed} (all before the rollback)`);
console.log(`after the rollback v8 got ${calls} calls in total; v7 serves everyone`);
await model.close();
