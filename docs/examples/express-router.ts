// docs/examples/express-router.ts
import type { AddressInfo } from 'node:net';
import { ballastRouter } from '@ballast/express';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpModel } from '@ballast/onnx/testing';
import express from 'express';

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
const scorer = await onnxModel({ name: 'scorer', version: '1', bytes });

const keys = apiKeys({ secret: 'a-server-secret-of-at-least-32-bytes', store: memoryKeyStore() });
const { key } = await keys.create({ principalId: 'web', roles: ['infer'] });
const guard = createGuard({ keys, limits: { rate: { ratePerSecond: 100, burst: 200 } } });

const router = ballastRouter({ models: [scorer], guard, timeoutMs: 1_000 });
const app = express();
app.use(router);
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

console.log('live:', (await fetch(`${base}/v2/health/live`)).status);
console.log('ready:', await (await fetch(`${base}/v2/health/ready`)).text());

// Two rows in one request: the batch dimension comes first; outputs are stacked back the same way.
const response = await fetch(`${base}/v2/models/scorer/infer`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'req-42' },
  body: JSON.stringify({ id: 'batch-7', inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 0, 0, 1] }] }),
});
console.log('infer:', response.status, response.headers.get('x-request-id'), await response.text());

const anonymous = await fetch(`${base}/v2/models/scorer/infer`, { method: 'POST', body: '{}' });
console.log('without a key:', anonymous.status, await anonymous.text());

// Graceful shutdown: readiness turns 503, in-flight requests finish, the server and models close.
await router.shutdown({ server });
console.log('stopped');
