// docs/examples/redis-keys.ts
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { isBallastError } from '@ballast/core';
import { apiKeys } from '@ballast/guard';
import { redisKeyStore } from '@ballast/redis';
import { createClient } from 'redis';

// A throwaway redis-server on a free port (in production: your Redis URL).
const port = await new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    server.close(() => resolve(port));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
const url = `redis://127.0.0.1:${port}`;
// Wait until it answers (node-redis retries the connection until then).
const probe = createClient({ url, socket: { reconnectStrategy: () => 20 } });
probe.on('error', () => {});
await probe.connect();
await probe.ping();
probe.destroy();

// Two replicas: each its own store (its own connections) and its own verifier with a cache.
const secret = 'a-server-secret-of-at-least-32-bytes';
const storeA = redisKeyStore({ url, staleForMs: 30_000, commandTimeoutMs: 1000 });
const storeB = redisKeyStore({ url, staleForMs: 30_000, commandTimeoutMs: 1000 });
const replicaA = apiKeys({ secret, store: storeA });
const replicaB = apiKeys({ secret, store: storeB, cache: { ttlMs: 60_000 } });

const { key, record } = await replicaA.create({ principalId: 'checkout', roles: ['infer'] });
const principal = await replicaB.verify(key, { deadline: performance.now() + 50 });
console.log('replica B verified:', principal.id);

await replicaA.revoke(record.id);
const revokedAt = performance.now();
for (;;) {
  try {
    await replicaB.verify(key);
    await new Promise((resolve) => setTimeout(resolve, 1));
  } catch (error) {
    if (!isBallastError(error)) throw error;
    console.log(`replica B refuses it: ${error.details?.reason}, ${Math.round(performance.now() - revokedAt)} ms after the revocation`);
    break;
  }
}

replicaA.close();
replicaB.close();
await Promise.all([storeA.close(), storeB.close()]);
redis.kill();
