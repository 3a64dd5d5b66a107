import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { subscribe } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byYears, featuresOf, loadWeather } from './data.js';
import { type RedisServer, redisServerBinary, startRedisServer } from './redis-server.js';
import { startRemote } from './remote-server.js';
import { startRoundRobinProxy } from './round-robin-proxy.js';
import { METERED_RATE, startWeatherService, type WeatherService } from './service.js';

describe('round-robin proxy', () => {
  it('sends request n to upstream n mod N, says which served, and answers 502 for a dead one', async () => {
    const servers: Server[] = [];
    const urls: string[] = [];
    for (const name of ['a', 'b']) {
      const server = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => response.end(`${name}:${request.method}:${request.url}:${body}`));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      urls.push(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    }
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const proxy = await startRoundRobinProxy([...urls, deadUrl]);
    try {
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${proxy.url}/path?i=${i}`, { method: 'POST', body: `n${i}` });
        answers.push(`${response.status} ${response.headers.get('x-served-by')} ${await response.text()}`);
      }
      expect(answers.slice(0, 2)).toEqual(['200 replica-1 a:POST:/path?i=0:n0', '200 replica-2 b:POST:/path?i=1:n1']);
      expect(answers[2]).toMatch(/^502 replica-3 \{"error":\{"code":"UPSTREAM"/);
      expect(answers.slice(3, 5)).toEqual(['200 replica-1 a:POST:/path?i=3:n3', '200 replica-2 b:POST:/path?i=4:n4']);
    } finally {
      await proxy.close();
      for (const server of servers) server.close();
    }
  });
});

// CI installs redis-server: there a missing binary fails instead of skipping.
const haveRedis = redisServerBinary() !== undefined;
if (!haveRedis && process.env.CI) throw new Error('redis-server is not installed, and CI must run the scale-out tests');

describe.skipIf(!haveRedis)('two weather services sharing Redis', () => {
  let redis: RedisServer;
  let remote: Awaited<ReturnType<typeof startRemote>>;
  let replicas: WeatherService[] = [];
  const remoteRequests: number[] = [0, 0];
  let current = 0;
  const stop = subscribe('httpRequest', () => {
    remoteRequests[current] = (remoteRequests[current] ?? 0) + 1;
  });

  beforeAll(async () => {
    redis = await startRedisServer();
    remote = await startRemote(0);
    const shared = { redisUrl: redis.url, keySecret: randomBytes(32).toString('base64url') };
    const remoteUrl = `http://127.0.0.1:${remote.port}`;
    replicas = [await startWeatherService({ remoteUrl, workers: 0, shared }), await startWeatherService({ remoteUrl, workers: 0, shared })];
  }, 60_000);

  afterAll(async () => {
    stop();
    for (const replica of replicas) await replica.close();
    await remote?.stop();
    await redis?.stop();
  });

  async function predict(replica: number, key: string, features: readonly number[]) {
    current = replica;
    const response = await fetch(`${(replicas[replica] as WeatherService).url}/v2/models/weather/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: features }] }),
    });
    return { status: response.status, body: await response.text() };
  }

  const days = byYears(loadWeather(), 2015).slice(0, 10);

  it('answers an input computed on one replica from the shared cache on the other', async () => {
    const [a] = replicas as [WeatherService];
    const { key } = await a.keys.create({ principalId: 'dashboard', roles: ['infer'] });
    for (const day of days) {
      const features = featuresOf(day).map((x) => x + 0.003);
      const first = await predict(0, key, features);
      const before = remoteRequests[1];
      const repeat = await predict(1, key, features);
      expect(first.status).toBe(200);
      expect(repeat).toEqual(first);
      expect(remoteRequests[1]).toBe(before); // replica 2 never asked the model
    }
  });

  it('admits a burst over both replicas once under the global limit, not once per replica', async () => {
    const { key } = await (replicas[0] as WeatherService).keys.create({
      principalId: 'metered',
      roles: ['infer'],
      attributes: { plan: 'metered' },
    });
    const features = featuresOf(days[0] as (typeof days)[number]);
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: 160 }, (_, i) => predict(i % 2, key, features).then((r) => r.status)));
    const seconds = (performance.now() - started) / 1000;
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(admitted).toBeGreaterThanOrEqual(METERED_RATE.burst * 0.9);
    expect(admitted).toBeLessThanOrEqual(METERED_RATE.burst + METERED_RATE.ratePerSecond * seconds + 2);
  });

  it('refuses on the other replica a key revoked on one', async () => {
    const [a] = replicas as [WeatherService];
    const { key, record } = await a.keys.create({ principalId: 'leaked', roles: ['infer'] });
    const features = featuresOf(days[1] as (typeof days)[number]);
    expect((await predict(1, key, features)).status).toBe(200);
    await a.keys.revoke(record.id);
    const until = performance.now() + 1_000;
    let status = 200;
    while (status === 200 && performance.now() < until) status = (await predict(1, key, features)).status;
    expect(status).toBe(401);
  });
});
