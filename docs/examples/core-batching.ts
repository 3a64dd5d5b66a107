// docs/examples/core-batching.ts
import { batching, defineModel, pipeline, subscribe } from '@ballast/core';

// A natively batchable model: one call scores many rows.
const scorer = defineModel<number[], number>({
  name: 'scorer',
  infer: async (row) => row.reduce((a, b) => a + b, 0),
  inferBatch: async (rows) => rows.map((row) => row.reduce((a, b) => a + b, 0)),
});

const sizes: number[] = [];
const stop = subscribe('batch', (event) => {
  if (event.phase === 'dispatch') sizes.push(event.size);
});

// 100 concurrent single-row callers become a few inferBatch() calls.
const model = pipeline(scorer, batching({ maxBatchSize: 32, maxDelayMs: 2 }));
const results = await Promise.all(Array.from({ length: 100 }, (_, i) => model.infer([i, 1])));
stop();
console.log(`first results: ${results.slice(0, 5).join(', ')}`);
console.log(`batch sizes: ${sizes.join(', ')}`);
