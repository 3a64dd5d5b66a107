import { subscribe } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byYears, FEATURES, featuresOf, loadWeather } from './data.js';
import { startRemote } from './remote-server.js';
import { startWeatherService, type WeatherService } from './service.js';

// The demo's wiring on real processes' pieces: a remote model server and the weather service,
// over HTTP on 127.0.0.1.
let remote: Awaited<ReturnType<typeof startRemote>>;
let service: WeatherService;

beforeAll(async () => {
  remote = await startRemote(0);
  service = await startWeatherService({ remoteUrl: `http://127.0.0.1:${remote.port}`, driftWindow: 30, workers: 0 });
}, 60_000);

afterAll(async () => {
  await service?.close();
  await remote?.stop();
});

async function predict(features: number[], key = service.apiKey) {
  const response = await fetch(`${service.url}/v2/models/weather/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ id: 'r1', inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: features }] }),
  });
  return {
    status: response.status,
    body: (await response.json()) as { id?: string; outputs?: { name: string; shape: number[]; data: number[] }[] },
  };
}

describe('weather service', () => {
  const days = byYears(loadWeather(), 2014).slice(0, 40);

  it('serves the remote model over v2 behind an API key', async () => {
    const { status, body } = await predict(featuresOf(days[0] as (typeof days)[number]));
    expect(status).toBe(200);
    expect(body.id).toBe('r1');
    expect(body.outputs?.[0]?.name).toBe('probabilities');
    expect(body.outputs?.[0]?.shape).toEqual([1, 5]);
    const sum = (body.outputs?.[0]?.data ?? []).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5);
    expect((await predict(featuresOf(days[0] as (typeof days)[number]), 'bk_wrong')).status).toBe(401);
  });

  it('falls back to the local ONNX model with the same answer when the remote fails', async () => {
    const features = featuresOf(days[1] as (typeof days)[number]);
    const healthy = await predict(features.map((x) => x + 0.01));
    const served: string[] = [];
    const stop = subscribe('fallback', (e) => e.served && served.push(e.source));
    remote.state.mode = 'error';
    try {
      const degraded = await predict(features.map((x) => x + 0.01).map((x, i) => (i === 0 ? x : x + 1e-3)));
      expect(degraded.status).toBe(200);
      expect(served).toEqual(['weather']);
      expect(degraded.body.outputs?.[0]?.data).toHaveLength(5);
      expect(healthy.body.outputs?.[0]?.data).toHaveLength(5);
    } finally {
      remote.state.mode = 'none';
      stop();
    }
  });

  it('feeds the drift monitor with the request features', async () => {
    const results: string[][] = [];
    const stop = subscribe('drift', (e) => results.push([e.feature, String(e.drifted)]));
    for (const day of days.slice(5, 40)) await predict(featuresOf(day));
    service.flushDrift();
    service.monitor.flush();
    stop();
    expect(results.map(([feature]) => feature)).toEqual(expect.arrayContaining([...FEATURES]));
  });
});
