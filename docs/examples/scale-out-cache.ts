// docs/examples/scale-out-cache.ts
import { createClient } from '@ballast/client';
import { subscribe } from '@ballast/core';
import { redisCacheStore } from '@ballast/redis';
// This example starts its own redis-server (the test harness); in production, give your Redis URL.
import { startRedis } from '../../packages/redis/test/redis-server.js';

const redis = await startRedis();
let upstreamCalls = 0;
const model = {
  name: 'scorer',
  version: '3',
  infer: async (input: number[]) => {
    upstreamCalls++;
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { type: 'float32', dims: [1, input.length], data: Float32Array.from(input, (x) => x / 3) };
  },
};

// Two replicas: each has its own Redis connection and its own client, sharing one cache.
const replicas = [0, 1].map(() => {
  const store = redisCacheStore({ url: redis.url, prefix: 'app:cache:', commandTimeoutMs: 100 });
  return { store, client: createClient({ model, timeoutMs: 500, cache: { store, ttlMs: 60_000 } }) };
});
while (!replicas.every((replica) => replica.store.usable)) await new Promise((resolve) => setTimeout(resolve, 10));

// Ten identical calls at once, five on each replica: one computes, the other replica waits for it.
const results = await Promise.all(Array.from({ length: 10 }, (_, i) => replicas[i % 2]?.client.infer([1, 2, 3])));
console.log(`10 calls over 2 replicas, upstream calls: ${upstreamCalls}`, results[1]);

// Redis down: calls go upstream, the store's failures are counted and published on ballast:store.
const stop = subscribe('store', (event) => {
  if (event.outcome !== 'ok') console.log(`ballast:store ${event.store} ${event.op} ${event.outcome}`);
});
await redis.kill();
console.log('while Redis is down:', await replicas[0]?.client.infer([4, 5]), replicas[0]?.client.stats().cache);
stop();

for (const replica of replicas) await replica.store.close();
await redis.stop();
