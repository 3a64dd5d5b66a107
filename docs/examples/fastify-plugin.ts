// docs/examples/fastify-plugin.ts
import type { TensorValue } from '@ballast/core';
import { defineModel } from '@ballast/core';
import { ballastFastify } from '@ballast/fastify';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import Fastify from 'fastify';

type Row = Record<string, TensorValue>;

// A model over per-row tensors: y = 2x. `inferBatch` takes a whole v2 batch in one call.
const double = (row: Row): Row => {
  const x = row.x as TensorValue;
  return { y: { type: 'float32', dims: [...x.dims], data: Float32Array.from(x.data as ArrayLike<number>, (v) => 2 * v) } };
};
const doubler = defineModel<Row, Row>({
  name: 'doubler',
  version: '1',
  infer: async (row) => double(row),
  inferBatch: async (rows) => rows.map(double),
});

const keys = apiKeys({ secret: 'docs-example-secret-with-32-characters', store: memoryKeyStore() });
const { key } = await keys.create({ principalId: 'checkout', roles: ['infer'] });

// The same routes, guard checks, drain and error bodies as ballastRouter() for Express.
const ballast = ballastFastify({ models: [doubler], guard: createGuard({ keys }) });
const app = Fastify();
await app.register(ballast);
const base = await app.listen({ port: 0, host: '127.0.0.1' });

const body = JSON.stringify({ id: 'a-1', inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] }] });
const answer = await fetch(`${base}/v2/models/doubler/infer`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body });
console.log('infer:', answer.status, await answer.text());

const anonymous = await fetch(`${base}/v2/models/doubler/infer`, { method: 'POST', body });
console.log('without a key:', anonymous.status, await anonymous.text());

console.log('ready:', (await fetch(`${base}/v2/health/ready`)).status);

// On SIGTERM: stop taking work, wait for in-flight requests, close the models, then Fastify.
await ballast.shutdown();
await app.close();
