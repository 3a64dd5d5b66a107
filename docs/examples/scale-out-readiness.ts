// docs/examples/scale-out-readiness.ts
import { createClient } from '@ballast/client';
import { defineModel, type Model } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { redisCacheStore } from '@ballast/redis';
import express from 'express';
// This example starts its own redis-server (the test harness); in production, give your Redis URL.
import { startRedis } from '../../packages/redis/test/redis-server.js';

const redis = await startRedis();
const store = redisCacheStore({ url: redis.url, commandTimeoutMs: 100 });
const scorer = defineModel({ name: 'scorer', infer: async (input: number[]) => input.map((x) => x * 2) });
const client = createClient({ model: scorer, timeoutMs: 500, cache: { store, ttlMs: 60_000 } });

// Readiness follows the models' health(). By default Redis is not part of it (a replica without
// Redis still answers); this wrapper makes the replica unready while its cache store is unusable.
const served: Model = defineModel({
  name: 'scorer',
  infer: (input: number[], options) => client.infer(input, options),
  health: async () =>
    store.usable ? { ready: true, status: 'ready' } : { ready: false, status: 'unavailable', message: 'Redis is unreachable' },
});
const app = express().use(ballastRouter({ models: { scorer: served } }));
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address() as { port: number };
const ready = async () => {
  const response = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
  return `${response.status} ${await response.text()}`;
};

while (!store.usable) await new Promise((resolve) => setTimeout(resolve, 10));
console.log('with Redis:   ', await ready());
await redis.kill();
while (store.usable) await new Promise((resolve) => setTimeout(resolve, 10));
console.log('without Redis:', await ready());

server.close();
await store.close();
await redis.stop();
