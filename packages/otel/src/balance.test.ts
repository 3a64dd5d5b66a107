import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { balance, remoteModel } from '@ballast/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, points } from '../test/harness.js';
import { type Instrumentation, instrument } from './instrument.js';
import * as S from './semconv.js';

let harness: Harness;
let telemetry: Instrumentation;
const servers: Server[] = [];

beforeEach(() => {
  harness = createHarness();
  telemetry = instrument({ tracerProvider: harness.tracerProvider, meterProvider: harness.meterProvider });
});
afterEach(async () => {
  telemetry.shutdown();
  await harness.shutdown();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A JSON model server on 127.0.0.1 answering 200, or 500 while `failing()` says so. */
async function modelServer(failing: () => boolean): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const status = failing() ? 500 : 200;
      response.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"y":1}' : '{}');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/predict`;
}

describe('balance metrics', () => {
  it('counts calls per endpoint and ejections, and reports each endpoint’s latency and availability', async () => {
    const good = await modelServer(() => false);
    const bad = await modelServer(() => true);
    const model = balance({
      name: 'scorer',
      endpoints: [
        { id: 'good', model: remoteModel({ name: 'scorer', url: good }) },
        { id: 'bad', model: remoteModel({ name: 'scorer', url: bad }) },
      ],
      strategy: 'round-robin',
      outlier: { consecutiveFailures: 2, baseEjectionMs: 60_000 },
    });
    for (let i = 0; i < 10; i++) await model.infer({ x: i });
    const metrics = await harness.collect();
    const chosen = (endpoint: string) =>
      points<number>(metrics.get(S.METRIC_BALLAST_BALANCE_CHOSEN), { [S.ATTR_BALLAST_BALANCE_ENDPOINT]: endpoint })[0]?.value;
    expect(chosen('bad')).toBe(2);
    expect(chosen('good')).toBe(10); // every call: 8 first attempts and the 2 retries of those that failed on "bad"
    expect(
      points<number>(metrics.get(S.METRIC_BALLAST_BALANCE_EJECTIONS), {
        [S.ATTR_BALLAST_BALANCE_ENDPOINT]: 'bad',
        [S.ATTR_BALLAST_BALANCE_REASON]: 'consecutive-failures',
        [S.ATTR_GEN_AI_REQUEST_MODEL]: 'scorer',
      })[0]?.value,
    ).toBe(1);
    const available = (endpoint: string) =>
      points<number>(metrics.get(S.METRIC_BALLAST_BALANCE_AVAILABLE), { [S.ATTR_BALLAST_BALANCE_ENDPOINT]: endpoint })[0]?.value;
    expect(available('bad')).toBe(0);
    expect(available('good')).toBe(1);
    const latency = points<number>(metrics.get(S.METRIC_BALLAST_BALANCE_LATENCY), { [S.ATTR_BALLAST_BALANCE_ENDPOINT]: 'good' })[0]?.value;
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(5);
    await model.close();
  });
});
