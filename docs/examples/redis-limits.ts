// docs/examples/redis-limits.ts
import { circuitBreaker, createClient as createBallastClient } from '@ballast/client';
import { type BallastError, defineModel, pipeline } from '@ballast/core';
import { redisBreakerState, redisRateLimiter } from '@ballast/redis';
import { createClient } from 'redis';
import { startRedis } from '../../packages/redis/test/redis-server.js';

// A throwaway redis-server on 127.0.0.1 for the demo; in production, your Redis URL.
const server = await startRedis();
const redis = createClient({ url: server.url });
redis.on('error', () => {}); // node-redis reconnects by itself; the limiter falls back meanwhile
await redis.connect();

// Two "replicas" in one process, each with its own Ballast client, sharing one limit of 5/s.
const model = defineModel({ name: 'scorer', infer: async (x: number) => x * 2 });
const replica = () =>
  createBallastClient({
    model,
    rateLimit: { limiter: redisRateLimiter({ client: redis, ratePerSecond: 5, burst: 5, replicas: 2, prefix: 'demo:rate:' }) },
  });
const [a, b] = [replica(), replica()];
const outcomes: string[] = [];
for (let i = 0; i < 8; i++) {
  const client = i % 2 === 0 ? a : b;
  outcomes.push(await client.infer(i).then(String, (error: BallastError) => error.code));
}
console.log(`8 calls over two replicas, 5 allowed in total: ${outcomes.join(', ')}`);

// A breaker whose state is shared: opening it on one replica opens it on the other.
const failing = defineModel({
  name: 'upstream',
  infer: async (): Promise<number> => {
    throw new Error('down');
  },
});
const [stateA, stateB] = [
  redisBreakerState({ client: redis, prefix: 'demo:breaker:' }),
  redisBreakerState({ client: redis, prefix: 'demo:breaker:' }),
];
const breakerA = circuitBreaker({ consecutiveFailures: 2, openMs: 5000, state: stateA });
const breakerB = circuitBreaker({ consecutiveFailures: 2, openMs: 5000, state: stateB });
const upstreamA = pipeline(failing, breakerA);
pipeline(failing, breakerB);
await new Promise((resolve) => setTimeout(resolve, 100)); // the subscriptions connect
for (let i = 0; i < 2; i++) await upstreamA.infer(0).catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 100)); // the open message arrives
console.log(`replica A: ${breakerA.state()}, replica B: ${breakerB.state()}`);

stateA.close();
stateB.close();
redis.destroy();
await server.stop();
