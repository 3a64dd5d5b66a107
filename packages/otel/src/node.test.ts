import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BallastError, batching, defineModel, emit, type Model, pipeline } from '@ballast/core';
import { metrics, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelemetry, type Telemetry } from './node.js';

/** Parses the Prometheus text format into samples. */
function parseSamples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

describe('startTelemetry() with Prometheus, end to end', () => {
  let telemetry: Telemetry;
  let app: Server;
  let appUrl: string;
  let scorer: Model<number, number>;

  beforeAll(async () => {
    telemetry = await startTelemetry({
      serviceName: 'scoring-api',
      prometheus: { port: 0, host: '127.0.0.1' },
      instrument: { costs: [{ model: 'scorer', perCall: 0.002 }] },
    });
    // The app: one HTTP route that scores with a batched in-process model.
    scorer = pipeline(
      defineModel({
        name: 'scorer',
        version: '1.4.0',
        infer: async (x: number) => x / 10,
        inferBatch: async (xs: readonly number[]) => {
          await new Promise((resolve) => setTimeout(resolve, 3));
          if (xs.includes(13)) throw new BallastError('UPSTREAM', 'unlucky batch');
          return xs.map((x) => x / 10);
        },
      }),
      batching({ maxBatchSize: 8 }),
    );
    app = createServer(async (request, response) => {
      const x = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('x'));
      try {
        const score = await scorer.infer(x, { timeoutMs: 1000 });
        response.end(JSON.stringify({ score }));
      } catch (error) {
        response.statusCode = (error as BallastError).status ?? 500;
        response.end();
      }
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => app.close(() => resolve()));
    await telemetry.shutdown();
  });

  it('serves the Ballast series with plausible values after real traffic', async () => {
    expect(telemetry.instrumentation.enabled).toEqual({ traces: false, metrics: true });
    expect(telemetry.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    // 40 requests, 8 at a time; x = 13 fails its whole batch.
    const statuses: number[] = [];
    for (let wave = 0; wave < 5; wave++) {
      const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => fetch(`${appUrl}/score?x=${wave * 8 + i}`)));
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
    }
    const failed = statuses.filter((s) => s !== 200).length;
    expect(failed).toBeGreaterThan(0);
    // A call inside another Ballast call: counted for `router`, while the inner `scorer` call goes to
    // the nested histogram, so the request count of `scorer` stays 40.
    const router = pipeline(defineModel({ name: 'router', infer: (x: number) => scorer.infer(x) }));
    await router.infer(1);
    emit('breaker', { model: 'scorer', from: 'closed', to: 'open', reason: 'failure-ratio' });
    emit('breaker', { model: 'scorer', key: 'replica-b', from: 'closed', to: 'half-open', reason: 'reset' });
    // The other event sources, as the client, onnx and drift packages publish them.
    emit('retry', { model: 'scorer', attempt: 1, delayMs: 10, error: new BallastError('OVERLOADED', 'busy') });
    emit('hedge', { model: 'scorer', afterMs: 20 });
    emit('fallback', { model: 'scorer', source: 'static', index: 0, error: new BallastError('TIMEOUT', 'slow'), served: true });
    emit('cache', { model: 'scorer', result: 'hit' });
    emit('rejection', { model: 'scorer', code: 'RATE_LIMITED', source: 'rate-limit' });
    emit('modelLoad', { model: 'scorer', provider: 'cpu', durationMs: 250, attempts: [{ provider: 'cpu', ok: true }], phase: 'load' });
    emit('usage', { model: 'scorer', provider: 'cpu', inputTokens: 12, outputTokens: 3, items: 1 });
    emit('drift', {
      monitor: 'inputs',
      feature: 'x',
      test: 'ks',
      statistic: 0.4,
      pValue: 0.001,
      threshold: 0.05,
      drifted: true,
      windowSize: 200,
    });

    const scrape = await fetch(telemetry.metricsUrl as string);
    expect(scrape.status).toBe(200);
    const samples = parseSamples(await scrape.text());
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const sum = (name: string, labels: Record<string, string> = {}) => find(name, labels).reduce((total, s) => total + s.value, 0);
    const model = { gen_ai_request_model: 'scorer' };

    // This exporter keeps OTel names (dots to underscores) and adds `_total` to counters; histograms in
    // seconds carry `_seconds` in their own names, as Prometheus naming asks.
    // Every request shows up once in the duration histogram, split by outcome.
    expect(sum('ballast_inference_duration_seconds_count', model)).toBe(40);
    expect(sum('ballast_inference_duration_seconds_count', { ...model, ballast_outcome: 'success' })).toBe(40 - failed);
    expect(sum('ballast_inference_duration_seconds_count', { ...model, ballast_outcome: 'error', error_type: 'UPSTREAM' })).toBe(failed);
    const [successCount] = find('ballast_inference_duration_seconds_count', { ...model, ballast_outcome: 'success' });
    expect(successCount?.labels).toMatchObject({
      gen_ai_operation_name: 'infer',
      ballast_model_version: '1.4.0',
    });
    expect(
      samples.filter((s) => s.name.startsWith('ballast_') && /duration$|wait$/.test(s.name.replace(/_(count|sum|bucket)$/, ''))),
    ).toEqual([]);
    // Each call waited for a batch that slept 3 ms: a mean of at least 3 ms and well under a second.
    const meanSeconds = sum('ballast_inference_duration_seconds_sum', model) / 40;
    expect(meanSeconds).toBeGreaterThan(0.0025);
    expect(meanSeconds).toBeLessThan(1);
    const plusInf = find('ballast_inference_duration_seconds_bucket', { ...model, ballast_outcome: 'success', le: '+Inf' });
    expect(plusInf[0]?.value).toBe(40 - failed);
    expect(sum('ballast_inference_duration_seconds_count', { gen_ai_request_model: 'router' })).toBe(1);
    expect(sum('ballast_inference_nested_duration_seconds_count', model)).toBe(1);

    // Batches: 41 items (40 requests and the router's call) in batches of at most 8.
    expect(sum('ballast_batch_size_sum', model)).toBe(41);
    const batches = sum('ballast_batch_size_count', model);
    expect(batches).toBeGreaterThanOrEqual(5);
    expect(batches).toBeLessThanOrEqual(40);
    expect(sum('ballast_queue_wait_seconds_count', model)).toBe(batches);
    expect(sum('ballast_inference_active', model)).toBe(0);

    // Cost of the successful calls (the router's inner call included), and the breaker gauge.
    expect(sum('ballast_cost_total', model)).toBeCloseTo((40 - failed + 1) * 0.002, 9);
    const breaker = (state: string, key?: string) =>
      find('ballast_breaker_state', { ...model, ballast_breaker_state: state }).find((s) => s.labels.ballast_breaker_key === key)?.value;
    expect([breaker('open'), breaker('closed'), breaker('half-open', 'replica-b'), breaker('closed', 'replica-b')]).toEqual([1, 0, 1, 0]);

    // Every Ballast series the dashboard in examples/grafana uses is served under these names.
    const names = new Set(samples.map((s) => s.name));
    for (const name of [
      'ballast_retries_total',
      'ballast_hedges_total',
      'ballast_fallbacks_total',
      'ballast_cache_lookups_total',
      'ballast_rejections_total',
      'ballast_breaker_transitions_total',
      'ballast_model_load_duration_seconds_count',
      'ballast_model_provider',
      'gen_ai_client_token_usage_sum',
      'ballast_usage_items_total',
      'ballast_drift_score',
      'ballast_drift_p_value',
      'ballast_drift_detected',
      'ballast_drift_tests_total',
      'ballast_batch_duration_seconds_count',
    ]) {
      expect(names, name).toContain(name);
    }
    // ... and every series the Grafana dashboard queries is one the exporter serves.
    const dashboard = readFileSync(join(import.meta.dirname, '../../../examples/grafana/ballast-dashboard.json'), 'utf8');
    const queried = new Set<string>();
    for (const match of dashboard.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g))
      if (/^(ballast|gen_ai)_/.test(match[1] as string)) queried.add(match[1] as string);
    for (const match of dashboard.matchAll(/label_values\((\w+)/g)) queried.add(match[1] as string);
    expect(queried.size).toBeGreaterThan(15);
    for (const name of queried) expect(names, `dashboard queries ${name}`).toContain(name);
    // The labels it groups and filters by exist too.
    const labels = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    for (const match of dashboard.matchAll(/\b((?:ballast|gen_ai|error)_[a-z_]+)\s*(?:=~|=|,|\))/g)) {
      const label = match[1] as string;
      if (!names.has(label) && !label.endsWith('_total')) expect(labels, `dashboard uses label ${label}`).toContain(label);
    }
    expect(find('ballast_drift_score', { ballast_drift_feature: 'x', ballast_drift_test: 'ks' })[0]?.value).toBe(0.4);
    expect(find('ballast_model_load_duration_seconds_sum', model)[0]?.value).toBe(0.25);
    expect(sum('gen_ai_client_token_usage_sum', { ...model, gen_ai_token_type: 'input' })).toBe(12);

    // The resource names the service.
    expect(find('target_info')[0]?.labels.service_name).toBe('scoring-api');
  });

  it('refuses to start a second SDK while one runs', async () => {
    await expect(startTelemetry({ prometheus: { port: 0, host: '127.0.0.1' } })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('already set up'),
    });
  });

  it('answers 404 off the metrics path', async () => {
    const response = await fetch(new URL('/other', telemetry.metricsUrl).href);
    expect(response.status).toBe(404);
    await response.arrayBuffer();
  });
});

describe('startTelemetry() configuration', () => {
  it('rejects missing exporters and bad values with CONFIG', async () => {
    await expect(startTelemetry({})).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(startTelemetry({ prometheus: { port: 70000 } })).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(startTelemetry({ otlp: { url: 'ftp://collector' } })).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('reports a busy port as CONFIG', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(startTelemetry({ prometheus: { port, host: '127.0.0.1' } })).rejects.toMatchObject({ code: 'CONFIG' });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('exports traces and metrics over OTLP/HTTP to the given collector', async () => {
    const paths: string[] = [];
    const collector = createServer((request, response) => {
      paths.push(request.url ?? '');
      request.resume();
      request.on('end', () => {
        response.setHeader('content-type', 'application/json');
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const telemetry = await startTelemetry({ serviceName: 'otlp-test', otlp: { url, metricsIntervalMs: 60_000 } });
    try {
      expect(telemetry.instrumentation.enabled).toEqual({ traces: true, metrics: true });
      const model = pipeline(defineModel({ name: 'echo', infer: async (x: number) => x }));
      await model.infer(1);
    } finally {
      await telemetry.shutdown();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
    // Shutting down flushes both signals; the globals are cleared afterwards.
    expect(paths.sort()).toEqual(['/v1/metrics', '/v1/traces']);
    expect(trace.getTracerProvider().getTracer('x').startSpan('y').isRecording()).toBe(false);
    expect(metrics.getMeterProvider().getMeter('x').constructor.name).toBe('NoopMeter');
  });
});
