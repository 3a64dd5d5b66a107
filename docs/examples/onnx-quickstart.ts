// docs/examples/onnx-quickstart.ts
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnxModel } from '@ballast/onnx';
import { mlpModel } from '@ballast/onnx/testing';

// A tiny 3 → 2 → 2 classifier, written as an ONNX file (any exported .onnx file works the same).
const path = join(await mkdtemp(join(tmpdir(), 'ballast-')), 'classifier.onnx');
await writeFile(
  path,
  mlpModel({
    layers: [
      {
        weights: [
          [1, -1],
          [0.5, 0.5],
          [-1, 1],
        ],
        bias: [0, 0],
        activation: 'relu',
      },
      {
        weights: [
          [2, -2],
          [-2, 2],
        ],
        bias: [0.1, -0.1],
      },
    ],
    softmax: true,
    inputName: 'features',
    outputName: 'probabilities',
  }),
);

const model = await onnxModel({ path });
console.log(`${model.name} on ${model.provider}; inputs:`, model.inputs);

// One example per call (no batch dimension); concurrent calls are batched for you.
const [a, b] = await Promise.all([
  model.infer({ features: [1, 0, 0] }, { timeoutMs: 100 }),
  model.infer({ features: [0, 0, 1] }, { timeoutMs: 100 }),
]);
console.log(
  'a:',
  a.probabilities?.dims,
  Array.from(a.probabilities?.data as Float32Array, (p) => p.toFixed(3)),
);
console.log(
  'b:',
  b.probabilities?.dims,
  Array.from(b.probabilities?.data as Float32Array, (p) => p.toFixed(3)),
);
console.log(await model.health());
await model.close();
