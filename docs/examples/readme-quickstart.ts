// docs/examples/readme-quickstart.ts
import { createClient } from '@ballast/client';
import { pipeline } from '@ballast/core';
import { createProfile, DriftMonitor, driftMiddleware } from '@ballast/drift';
import { inferHandler } from '@ballast/express';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { instrument } from '@ballast/otel';
import express from 'express';
import { z } from 'zod';

instrument(); // spans + metrics into your OpenTelemetry SDK (a no-op until you register one)
const onnx = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [4, 16, 3] }), softmax: true }), workers: 1 });
const client = createClient({ model: onnx, timeoutMs: 200, retry: { maxAttempts: 2 }, breaker: true, cache: { ttlMs: 60_000 } });
const reference = createProfile(Array.from({ length: 500 }, (_, i) => ({ a: i % 10, b: Math.sin(i), c: Math.cos(i), d: 1 })));
const monitor = new DriftMonitor({ reference, onResult: (r) => r.datasetDrift && console.warn('input drift:', r.driftedFeatures) });
const toRow = ({ input }: { input: number[] }) => ({ a: input[0], b: input[1], c: input[2], d: input[3] });
const model = pipeline(client, driftMiddleware(monitor, { sampleRate: 0.1, input: toRow }));

const app = express();
const schema = z.object({ features: z.array(z.number()).length(4) });
app.post('/predict', inferHandler(model, { schema, input: (body) => ({ input: body.features }) }));
const server = app.listen(0, async () => {
  const { port } = server.address() as { port: number };
  const response = await fetch(`http://127.0.0.1:${port}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"features":[1,0.5,-0.5,1]}',
  });
  console.log(response.status, JSON.stringify(await response.json()));
  server.close();
  await client.close();
});
