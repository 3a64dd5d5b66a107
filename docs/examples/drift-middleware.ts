// docs/examples/drift-middleware.ts
import { defineModel, pipeline } from '@ballast/core';
import { createProfile, DriftMonitor, driftMiddleware } from '@ballast/drift';

// A classifier returning class probabilities for ['stay', 'churn'].
const classifier = defineModel<{ tenure: number; spend: number }, number[]>({
  name: 'churn',
  infer: async ({ tenure, spend }) => {
    const p = 1 / (1 + Math.exp(tenure / 12 - spend / 50));
    return [1 - p, p];
  },
});

// Reference rows: inputs plus the output features the middleware derives (prediction, confidence, entropy).
const reference = createProfile(
  Array.from({ length: 500 }, (_, i) => {
    const tenure = 6 + (i % 48);
    const spend = 40 + ((i * 13) % 60);
    const p = 1 / (1 + Math.exp(tenure / 12 - spend / 50));
    const q = Math.max(p, 1 - p);
    return { tenure, spend, __prediction__: p > 0.5 ? 'churn' : 'stay', __confidence__: q };
  }),
);

const monitor = new DriftMonitor({
  name: 'churn-inputs',
  reference,
  features: ['tenure', 'spend', '__prediction__', '__confidence__'],
  window: { size: 100 },
  onResult: (r) => console.log(`window of ${r.windowRows}: drifted ${JSON.stringify(r.driftedFeatures)}`),
});

const model = pipeline(
  classifier,
  driftMiddleware(monitor, {
    sampleRate: 0.5, // half of the calls are observed; the others pay one random draw
    output: true,
    labels: ['stay', 'churn'],
    id: (_input, options) => options?.attributes?.requestId as string | undefined,
  }),
);

// New customers: short tenure, high spend.
for (let i = 0; i < 400; i++) {
  await model.infer({ tenure: 1 + (i % 6), spend: 90 + (i % 30) }, { attributes: { requestId: `req-${i}` } });
}
await new Promise((resolve) => setImmediate(resolve)); // samples are handed over after the calls

// Labels arrive later: accuracy of the sampled predictions.
for (let i = 0; i < 400; i++) monitor.recordOutcome(`req-${i}`, i % 3 === 0 ? 'stay' : 'churn');
console.log('accuracy:', monitor.accuracy);
