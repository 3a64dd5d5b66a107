// docs/examples/onnx-workers.ts
import { subscribe } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';

const bytes = mlpModel({ layers: randomLayers({ sizes: [16, 64, 4] }), softmax: true });

// Two worker threads, one session each; the event loop stays free while they run.
const model = await onnxModel({ bytes, name: 'scorer', workers: 2, batching: { maxBatchSize: 64 } });

const sizes: number[] = [];
const stop = subscribe('batch', (event) => {
  if (event.phase === 'dispatch') sizes.push(event.size);
});
const rows = Array.from({ length: 500 }, (_, r) => Float32Array.from({ length: 16 }, (_, i) => Math.sin(r + i)));
const outputs = await Promise.all(rows.map((row) => model.infer({ input: row })));
stop();

console.log(`${outputs.length} results; first:`, outputs[0]?.output);
console.log(`${sizes.length} batches, largest ${Math.max(...sizes)} rows`);
await model.close();
