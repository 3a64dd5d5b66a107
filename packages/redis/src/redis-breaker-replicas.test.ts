import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LimiterReplica, startLimiterReplica } from '../test/limiter-replica-process.js';
import { type RedisServer, redisAvailable, startRedis } from '../test/redis-server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!redisAvailable)('redisBreakerState across three replica processes', () => {
  let redis: RedisServer;
  let replicas: LimiterReplica[] = [];
  let upstream: Server;
  let hits = 0;
  let failing = true;

  beforeAll(async () => {
    redis = await startRedis();
    upstream = createServer((_, response) => {
      hits++;
      response.statusCode = failing ? 503 : 200;
      response.end(failing ? 'down' : 'ok');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    replicas = await Promise.all([0, 1, 2].map(() => startLimiterReplica(redis.url)));
  }, 30_000);

  afterAll(async () => {
    for (const replica of replicas) replica.process.send({ type: 'exit' });
    await Promise.all(
      replicas.map(
        (replica) => new Promise((resolve) => (replica.process.exitCode !== null ? resolve(null) : replica.process.once('exit', resolve))),
      ),
    );
    await new Promise((resolve) => upstream?.close(resolve));
    await redis?.stop();
  });

  const states = () =>
    Promise.all(replicas.map((replica) => replica.ask<{ state: string }>({ type: 'breaker-state' }).then((answer) => answer.state)));
  const callAll = () =>
    Promise.all(replicas.map((replica) => replica.ask<{ code: string }>({ type: 'breaker-call' }).then((answer) => answer.code)));

  it('opens on every replica once failures reach the threshold in total, and leases one half-open trial', async () => {
    const { port } = upstream.address() as AddressInfo;
    await Promise.all(
      replicas.map((replica) =>
        replica.ask({ type: 'breaker-setup', upstreamUrl: `http://127.0.0.1:${port}/`, consecutiveFailures: 6, openMs: 1500 }),
      ),
    );
    // Every replica's subscriber is listening before the first failure.
    const observer = createClient({ url: redis.url });
    await observer.connect();
    await expect
      .poll(async () => ((await observer.sendCommand(['PUBSUB', 'NUMSUB', 'test:breaker:events'])) as [string, number])[1], {
        timeout: 5000,
      })
      .toBe(3);
    observer.destroy();
    // Two failures on each replica: none reaches 6 alone, six in total.
    expect(await callAll()).toEqual(['MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE']);
    expect(await callAll()).toEqual(['MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE']);
    await expect.poll(states, { timeout: 1000, interval: 20 }).toEqual(['open', 'open', 'open']);
    const before = hits;
    expect(await callAll()).toEqual(['CIRCUIT_OPEN', 'CIRCUIT_OPEN', 'CIRCUIT_OPEN']);
    expect(hits).toBe(before);

    // The upstream recovers; after openMs all three half-open, and one replica runs the trial.
    failing = false;
    await sleep(1700);
    const codes = await callAll();
    expect(codes.filter((code) => code === 'OK')).toHaveLength(1);
    expect(codes.filter((code) => code === 'CIRCUIT_OPEN')).toHaveLength(2);
    expect(hits).toBe(before + 1);
    // Its success closes the circuit everywhere.
    await expect.poll(states, { timeout: 1000, interval: 20 }).toEqual(['closed', 'closed', 'closed']);
    expect(await callAll()).toEqual(['OK', 'OK', 'OK']);
  }, 30_000);
});
