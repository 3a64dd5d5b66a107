// docs/examples/nest-v2.ts
import 'reflect-metadata';
import { BallastModule } from '@ballast/nest';
import { onnxModel } from '@ballast/onnx';
import { mlpModel } from '@ballast/onnx/testing';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

// A tiny ONNX model built in memory: scores = features · W + b, with a dynamic batch dimension.
const bytes = mlpModel({
  layers: [
    {
      weights: [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
      bias: [0.5, -0.5],
    },
  ],
  inputName: 'features',
  outputName: 'scores',
});
const model = await onnxModel({ name: 'scorer', version: '1', bytes });

// No guard here, so the v2 routes are open; pass `guard: createGuard(...)` to require API keys.
@Module({ imports: [BallastModule.forRoot({ models: [model], v2: true })] })
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();

const ready = await fetch(`${base}/v2/health/ready`);
console.log('ready:', ready.status, await ready.text());
console.log('metadata:', await (await fetch(`${base}/v2/models/scorer`)).text());

// Two rows in one request: the batch dimension comes first, outputs are stacked back the same way.
const response = await fetch(`${base}/v2/models/scorer/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ id: 'batch-7', inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0, 0, 1] }] }),
});
console.log('infer:', response.status, await response.text());

const unknown = await fetch(`${base}/v2/models/nope/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{}',
});
console.log('unknown model:', unknown.status, await unknown.text());

const bad = await fetch(`${base}/v2/models/scorer/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 'x', 3] }] }),
});
console.log('bad element:', bad.status, await bad.text());
await app.close();
