// docs/examples/express-readiness.ts
import type { AddressInfo } from 'node:net';
import { createClient } from '@ballast/client';
import { BallastError, defineModel, type TensorValue } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import express from 'express';

// An upstream that is down, behind a client with a breaker and a fallback answer.
const upstream = defineModel({
  name: 'risk',
  infer: async (): Promise<Record<string, TensorValue>> => {
    throw new BallastError('UPSTREAM', 'the scoring service is down');
  },
});
const risk = createClient({
  model: upstream,
  breaker: { consecutiveFailures: 2, openMs: 30_000 },
  fallback: [{ value: { score: { type: 'float32', dims: [1], data: Float32Array.of(0.5) } } }],
});

const router = ballastRouter({ models: [risk] });
const server = express().use(router).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const body = JSON.stringify({ inputs: [{ name: 'amount', shape: [1, 1], datatype: 'FP32', data: [120] }] });
for (let i = 0; i < 3; i++) {
  const answer = await fetch(`${base}/v2/models/risk/infer`, { method: 'POST', body });
  const { outputs } = (await answer.json()) as { outputs: unknown };
  console.log('infer:', answer.status, JSON.stringify(outputs));
}
console.log('breaker:', risk.breaker?.state());
// The fallback answers every call, so the replica stays in the load balancer.
const ready = await fetch(`${base}/v2/health/ready`);
console.log('ready:', ready.status, await ready.text());

await router.shutdown({ server });
