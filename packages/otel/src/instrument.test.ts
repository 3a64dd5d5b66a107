import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  annotate,
  BallastError,
  batching,
  channels,
  defineModel,
  emit,
  type InferOptions,
  type Middleware,
  type Model,
  pipeline,
} from '@ballast/core';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { core } from '@opentelemetry/sdk-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHarness, type Harness, points, registerContextManager } from '../test/harness.js';
import { errorType, type Instrumentation, instrument } from './instrument.js';
import * as S from './semconv.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let harness: Harness;
let telemetry: Instrumentation | undefined;
let unregister: () => void;

beforeAll(() => {
  unregister = registerContextManager();
});
afterAll(() => unregister());
beforeEach(() => {
  harness = createHarness();
});
afterEach(async () => {
  telemetry?.shutdown();
  telemetry = undefined;
  vi.useRealTimers();
  await harness.shutdown();
});

function start(options: Parameters<typeof instrument>[0] = {}): Instrumentation {
  telemetry = instrument({ tracerProvider: harness.tracerProvider, meterProvider: harness.meterProvider, ...options });
  return telemetry;
}

describe('instrument() without an SDK', () => {
  it('subscribes to nothing and reports itself disabled', () => {
    const handle = instrument();
    expect(handle.enabled).toEqual({ traces: false, metrics: false });
    expect(channels.infer.hasSubscribers).toBe(false);
    expect(channels.httpRequest.hasSubscribers).toBe(false);
    handle.shutdown();
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => instrument({ captureInputs: 'yes' as unknown as boolean })).toThrowError(BallastError);
    expect(() => instrument({ costs: [{ model: 'm', perCall: -1 }] })).toThrowError(/perCall/);
    expect(() => instrument({ costs: [{ model: '' }] })).toThrowError(/model/);
    expect(() => instrument({ currency: 'US dollars' })).toThrowError(/currency/);
    try {
      instrument({ maxCapturedLength: 0 });
      expect.unreachable();
    } catch (error) {
      expect((error as BallastError).code).toBe('CONFIG');
    }
  });
});

describe('spans and metrics of a call', () => {
  it('records one INTERNAL span and the duration, requests and active metrics', async () => {
    vi.useFakeTimers();
    start();
    const model = pipeline(
      defineModel({
        name: 'sentiment',
        version: '3',
        infer: async (text: string) => {
          await sleep(40);
          return text.length;
        },
      }),
    );
    const result = model.infer('hello', { attributes: { tenant: 'acme' } });
    await vi.advanceTimersByTimeAsync(40);
    expect(await result).toBe(5);
    vi.useRealTimers();

    const span = harness.span('infer sentiment');
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toMatchObject({
      [S.ATTR_GEN_AI_OPERATION_NAME]: 'infer',
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'sentiment',
      [S.ATTR_BALLAST_MODEL_VERSION]: '3',
      [S.ATTR_BALLAST_MODEL_KIND]: 'internal',
      [S.ATTR_BALLAST_OUTCOME]: 'success',
      tenant: 'acme',
    });
    expect(span.attributes[S.ATTR_BALLAST_INPUT]).toBeUndefined();

    const metrics = await harness.collect();
    const duration = metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION);
    expect(duration?.descriptor.unit).toBe('s');
    const [point] = points<Histogram>(duration, { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'sentiment' });
    expect(point?.value.count).toBe(1);
    expect(point?.value.sum).toBeCloseTo(0.04, 6);
    expect(point?.value.buckets.boundaries).toEqual(S.DURATION_BUCKETS);
    expect(point?.attributes).toEqual({
      [S.ATTR_GEN_AI_OPERATION_NAME]: 'infer',
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'sentiment',
      [S.ATTR_BALLAST_MODEL_KIND]: 'internal',
      [S.ATTR_BALLAST_MODEL_VERSION]: '3',
      [S.ATTR_BALLAST_OUTCOME]: 'success',
    });
    const active = metrics.get(S.METRIC_BALLAST_INFERENCE_ACTIVE);
    expect(active?.descriptor.unit).toBe('{request}');
    expect(points<number>(active, { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'sentiment' })[0]?.value).toBe(0);
  });

  it('marks failures with error.type, status and the exception', async () => {
    start();
    const upstream = pipeline(
      defineModel({
        name: 'remote',
        kind: 'client',
        infer: async () => {
          throw new BallastError('UPSTREAM', 'bad gateway');
        },
      }),
    );
    const broken = pipeline(
      defineModel({
        name: 'broken',
        infer: async () => {
          throw new TypeError('not a tensor');
        },
      }),
    );
    await expect(upstream.infer(1)).rejects.toMatchObject({ code: 'UPSTREAM' });
    // pipeline() classifies what a model throws: an unknown value is INTERNAL, the original its cause.
    await expect(broken.infer(1)).rejects.toMatchObject({ code: 'INTERNAL', cause: expect.any(TypeError) });

    const remote = harness.span('infer remote');
    expect(remote.kind).toBe(SpanKind.CLIENT);
    expect(remote.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad gateway' });
    expect(remote.attributes[S.ATTR_ERROR_TYPE]).toBe('UPSTREAM');
    expect(remote.events.map((e) => e.name)).toContain('exception');
    expect(harness.span('infer broken').attributes[S.ATTR_ERROR_TYPE]).toBe('INTERNAL');

    const metrics = await harness.collect();
    const failed = points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION), { [S.ATTR_BALLAST_OUTCOME]: 'error' });
    expect(failed.map((p) => [p.attributes[S.ATTR_GEN_AI_REQUEST_MODEL], p.attributes[S.ATTR_ERROR_TYPE], p.value.count]).sort()).toEqual([
      ['broken', 'INTERNAL', 1],
      ['remote', 'UPSTREAM', 1],
    ]);
  });

  it('copies what middleware annotate onto the span and counts fallback-served calls', async () => {
    start({ captureInputs: true, maxCapturedLength: 8 });
    const annotating: Middleware = (next) => ({
      ...next,
      infer: async (input, options) => {
        annotate(options, S.ATTR_BALLAST_CACHE_RESULT, 'miss');
        annotate(options, S.ATTR_BALLAST_ATTEMPTS, 2);
        annotate(options, S.ATTR_BALLAST_FALLBACK_SOURCE, 'static');
        annotate(options, S.ATTR_BALLAST_PROVIDER, 'cpu');
        return next.infer(input, options);
      },
    });
    const model = pipeline(defineModel({ name: 'm', infer: async (x: number[]) => x.length }), annotating);
    await model.infer([1, 2, 3, 4, 5, 6]);
    const span = harness.span('infer m');
    expect(span.attributes).toMatchObject({
      [S.ATTR_BALLAST_CACHE_RESULT]: 'miss',
      [S.ATTR_BALLAST_ATTEMPTS]: 2,
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'static',
      [S.ATTR_BALLAST_OUTCOME]: 'fallback',
      [S.ATTR_BALLAST_INPUT]: '[1,2,3,4…',
    });
    const metrics = await harness.collect();
    const [point] = points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION));
    expect(point?.attributes[S.ATTR_BALLAST_OUTCOME]).toBe('fallback');
    expect(point?.attributes[S.ATTR_BALLAST_PROVIDER]).toBe('cpu');
  });

  it('captures inputs with a function and survives one that throws', async () => {
    start({ captureInputs: (input) => (typeof input === 'number' && input > 1 ? `n=${input}` : JSON.parse('{')) });
    const model = pipeline(defineModel({ name: 'm', infer: async (x: number) => x }));
    await model.infer(5);
    await model.infer(0);
    const [five, zero] = harness.spans.getFinishedSpans();
    expect(five?.attributes[S.ATTR_BALLAST_INPUT]).toBe('n=5');
    expect(zero?.attributes[S.ATTR_BALLAST_INPUT]).toBeUndefined();
    expect(zero?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('names error types: Ballast codes, error names, _OTHER', () => {
    expect(errorType(new BallastError('RATE_LIMITED', 'slow down'))).toBe('RATE_LIMITED');
    expect(errorType(new RangeError('bad'))).toBe('RangeError');
    expect(errorType('a string')).toBe('_OTHER');
    expect(errorType(undefined)).toBe('_OTHER');
  });

  it('parents the call span on the span active in the caller', async () => {
    start();
    const model = pipeline(defineModel({ name: 'm', infer: async () => 1 }));
    const tracer = harness.tracerProvider.getTracer('app');
    const request = tracer.startSpan('GET /predict');
    await context.with(trace.setSpan(ROOT_CONTEXT, request), () => model.infer(0));
    request.end();
    const span = harness.span('infer m');
    expect(span.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(span.spanContext().traceId).toBe(request.spanContext().traceId);
  });
});

/** A stand-in for a retry middleware: retries `next` once, publishing `ballast:retry` like the client does. */
const retryOnce: Middleware = (next) => ({
  ...next,
  async infer(input, options) {
    try {
      return await next.infer(input, options);
    } catch (error) {
      emit('retry', { model: next.name, attempt: 1, delayMs: 5, error });
      annotate(options, S.ATTR_BALLAST_ATTEMPTS, 2);
      return next.infer(input, options);
    }
  },
});

/** A stand-in for a fallback middleware: serves from `backup` when `next` fails. */
const fallbackTo =
  (backup: Model<number, string>): Middleware =>
  <I, O>(next: Model<I, O>) => ({
    ...next,
    async infer(input: I, options?: InferOptions) {
      try {
        return await next.infer(input, options);
      } catch (error) {
        const result = (await backup.infer(input as number, options)) as O;
        emit('fallback', { model: next.name, source: backup.name, index: 0, error, served: true });
        annotate(options, S.ATTR_BALLAST_FALLBACK_SOURCE, backup.name);
        return result;
      }
    },
  });

describe('nested calls', () => {
  it('makes each retried attempt a child span and the retry a span event', async () => {
    start({ costs: [{ model: 'scorer', perCall: 1 }] });
    let calls = 0;
    const attempt = pipeline(
      defineModel({
        name: 'scorer',
        kind: 'client',
        infer: async (x: number) => {
          if (++calls === 1) throw new BallastError('MODEL_UNAVAILABLE', 'warming up');
          return `${x}`;
        },
      }),
    );
    const client = pipeline(attempt, retryOnce);
    expect(await client.infer(7)).toBe('7');

    const spans = harness.spans.getFinishedSpans().filter((s) => s.name === 'infer scorer');
    expect(spans).toHaveLength(3);
    const outer = spans.find((s) => s.attributes[S.ATTR_BALLAST_ATTEMPTS] === 2);
    const children = spans.filter((s) => s !== outer);
    expect(outer).toBeDefined();
    for (const child of children) {
      expect(child.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
      expect(child.spanContext().traceId).toBe(outer?.spanContext().traceId);
    }
    expect(children.map((c) => c.status.code).sort()).toEqual([SpanStatusCode.UNSET, SpanStatusCode.ERROR]);
    const retry = outer?.events.find((e) => e.name === S.EVENT_BALLAST_RETRY);
    expect(retry?.attributes).toEqual({
      [S.ATTR_BALLAST_RETRY_ATTEMPT]: 1,
      [S.ATTR_BALLAST_RETRY_DELAY_MS]: 5,
      [S.ATTR_ERROR_TYPE]: 'MODEL_UNAVAILABLE',
    });

    const metrics = await harness.collect();
    expect(points<number>(metrics.get(S.METRIC_BALLAST_RETRIES), { [S.ATTR_ERROR_TYPE]: 'MODEL_UNAVAILABLE' })[0]?.value).toBe(1);
    const requests = metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION);
    // The caller's call is counted once in the request histogram, with no filter; its attempts go to their own.
    expect(points<Histogram>(requests).map((p) => p.value.count)).toEqual([1]);
    // Cost is charged once, for the attempt that succeeded; not for the failed one or the wrapping call.
    expect(points<number>(metrics.get(S.METRIC_BALLAST_COST)).map((p) => p.value)).toEqual([1]);
    const nested = points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_NESTED_DURATION));
    expect(nested.map((p) => [p.attributes[S.ATTR_BALLAST_OUTCOME], p.value.count]).sort()).toEqual([
      ['error', 1],
      ['success', 1],
    ]);
  });

  it('makes the fallback model a child span and the fallback a span event', async () => {
    start();
    const backup = pipeline(defineModel({ name: 'rules', infer: async (x: number) => `rule:${x}` }));
    const primary = pipeline(
      defineModel({
        name: 'primary',
        infer: async (): Promise<string> => {
          throw new BallastError('TIMEOUT', 'slow');
        },
      }),
    );
    const client = pipeline(primary, fallbackTo(backup));
    expect(await client.infer(3)).toBe('rule:3');

    const outer = harness.spans.getFinishedSpans().find((s) => s.name === 'infer primary' && s.parentSpanContext === undefined);
    const failedPrimary = harness.spans.getFinishedSpans().find((s) => s.name === 'infer primary' && s !== outer);
    const rules = harness.span('infer rules');
    expect(rules.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(failedPrimary?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(outer?.attributes[S.ATTR_BALLAST_OUTCOME]).toBe('fallback');
    expect(outer?.events.find((e) => e.name === S.EVENT_BALLAST_FALLBACK)?.attributes).toEqual({
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'rules',
      [S.ATTR_BALLAST_FALLBACK_INDEX]: 0,
      [S.ATTR_BALLAST_FALLBACK_SERVED]: true,
      [S.ATTR_ERROR_TYPE]: 'TIMEOUT',
    });
    const metrics = await harness.collect();
    const [point] = points<number>(metrics.get(S.METRIC_BALLAST_FALLBACKS));
    expect(point?.attributes).toEqual({
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'primary',
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'rules',
      [S.ATTR_BALLAST_FALLBACK_SERVED]: true,
    });
    expect(point?.value).toBe(1);
  });

  it('keeps parent/child relations without a global context manager', async () => {
    unregister();
    try {
      start();
      const inner = pipeline(defineModel({ name: 'inner', infer: async (x: number) => x + 1 }));
      const outer = pipeline(defineModel({ name: 'outer', infer: async (x: number) => inner.infer(x) }));
      expect(await outer.infer(1)).toBe(2);
      expect(harness.span('infer inner').parentSpanContext?.spanId).toBe(harness.span('infer outer').spanContext().spanId);
    } finally {
      unregister = registerContextManager();
    }
  });
});

describe('remote calls over HTTP', () => {
  let server: Server;
  let url: string;
  const received: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    // What the NodeSDK registers by default.
    propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
    server = createServer((request, response) => {
      received.push(request.headers);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/models/m/infer`;
  });
  afterAll(async () => {
    propagation.disable();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('continues an incoming trace handed over in the call attributes, unless a span is active', async () => {
    start();
    const model = pipeline(defineModel({ name: 'served', infer: async (x: number) => x }));
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const incoming = '00f067aa0ba902b7';
    const attributes = {
      [S.ATTR_HTTP_REQUEST_HEADER_TRACEPARENT]: `00-${traceId}-${incoming}-01`,
      [S.ATTR_HTTP_REQUEST_HEADER_TRACESTATE]: 'vendor=1',
    };
    await model.infer(1, { attributes });
    const span = harness.span('infer served');
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe(incoming);
    expect(span.parentSpanContext?.isRemote).toBe(true);
    expect(span.spanContext().traceState?.get('vendor')).toBe('1');

    harness.spans.reset();
    const server = harness.tracerProvider.getTracer('app').startSpan('POST /infer');
    await context.with(trace.setSpan(ROOT_CONTEXT, server), () => model.infer(2, { attributes }));
    server.end();
    expect(harness.span('infer served').parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('injects the attempt span as W3C traceparent into the request', async () => {
    start();
    // A remote model as the client builds one: publishes ballast:http-request with mutable headers, then sends.
    const remote = pipeline(
      defineModel({
        name: 'm',
        kind: 'client',
        infer: async (input: number) => {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          emit('httpRequest', { model: 'm', url, method: 'POST', headers });
          const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ input }) });
          return (await response.json()) as { ok: boolean };
        },
      }),
    );
    expect(await remote.infer(1)).toEqual({ ok: true });
    const span = harness.span('infer m');
    const traceparent = received.at(-1)?.traceparent;
    expect(traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });
});

describe('batches', () => {
  it('records batch size, queue wait and batch duration', async () => {
    start();
    const model = pipeline(
      defineModel({
        name: 'mlp',
        infer: async (x: number) => x * 2,
        inferBatch: async (xs: readonly number[]) => {
          await sleep(5);
          return xs.map((x) => x * 2);
        },
      }),
      batching({ maxBatchSize: 4 }),
    );
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => model.infer(x)));
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
    expect(harness.spans.getFinishedSpans().filter((s) => s.name === 'infer mlp')).toHaveLength(6);

    const metrics = await harness.collect();
    const size = metrics.get(S.METRIC_BALLAST_BATCH_SIZE);
    expect(size?.descriptor.unit).toBe('{item}');
    const [sizes] = points<Histogram>(size, { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'mlp' });
    expect(sizes?.value.count).toBe(2);
    expect(sizes?.value.sum).toBe(6);
    expect(sizes?.value.max).toBe(4);
    expect(sizes?.value.buckets.boundaries).toEqual(S.BATCH_SIZE_BUCKETS);
    const wait = points<Histogram>(metrics.get(S.METRIC_BALLAST_QUEUE_WAIT))[0];
    expect(metrics.get(S.METRIC_BALLAST_QUEUE_WAIT)?.descriptor.unit).toBe('s');
    expect(wait?.value.count).toBe(2);
    // The second batch waited for the first (about 5 ms); a wait is never negative or absurd.
    expect(wait?.value.max).toBeGreaterThan(0.002);
    expect(wait?.value.max).toBeLessThan(1);
    const batchDuration = points<Histogram>(metrics.get(S.METRIC_BALLAST_BATCH_DURATION), { [S.ATTR_BALLAST_OUTCOME]: 'success' })[0];
    expect(batchDuration?.value.count).toBe(2);
    expect(batchDuration?.value.min).toBeGreaterThan(0.003);
  });
});

describe('events without a call', () => {
  it('follows breaker transitions in the state gauge', async () => {
    start();
    const state = async () => {
      const metrics = await harness.collect();
      const gauge = metrics.get(S.METRIC_BALLAST_BREAKER_STATE);
      if (gauge !== undefined) expect(gauge.descriptor.unit).toBe('1');
      return Object.fromEntries(
        points<number>(gauge, { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'remote' }).map((p) => [
          p.attributes[S.ATTR_BALLAST_BREAKER_STATE],
          p.value,
        ]),
      );
    };
    expect(await state()).toEqual({});
    emit('breaker', { model: 'remote', from: 'closed', to: 'open', reason: 'consecutive-failures' });
    expect(await state()).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
    emit('breaker', { model: 'remote', from: 'open', to: 'half-open', reason: 'timer' });
    expect(await state()).toEqual({ closed: 0, open: 0, 'half-open': 1, isolated: 0 });
    emit('breaker', { model: 'remote', from: 'half-open', to: 'closed', reason: 'trial-succeeded' });
    expect(await state()).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });

    const transitions = points<number>((await harness.collect()).get(S.METRIC_BALLAST_BREAKER_TRANSITIONS));
    expect(
      transitions.map((p) => `${p.attributes[S.ATTR_BALLAST_BREAKER_FROM]}->${p.attributes[S.ATTR_BALLAST_BREAKER_STATE]}`).sort(),
    ).toEqual(['closed->open', 'half-open->closed', 'open->half-open']);
  });

  it('keeps the 256 most recently changed keyed breakers in the gauge', async () => {
    start();
    for (let i = 0; i <= 1000; i++)
      emit('breaker', { model: 'm', key: `k${i}`, from: 'closed', to: 'open', reason: 'consecutive-failures' });
    emit('breaker', { model: 'm', key: 'k1', from: 'open', to: 'half-open', reason: 'timer' });
    emit('breaker', { model: 'm', key: 'k257', from: 'closed', to: 'open', reason: 'consecutive-failures' });
    const gauge = (await harness.collect()).get(S.METRIC_BALLAST_BREAKER_STATE);
    const keys = new Set(points<number>(gauge).map((p) => p.attributes[S.ATTR_BALLAST_BREAKER_KEY]));
    expect(keys.size).toBe(256);
    expect(keys.has('k0')).toBe(false);
    expect(keys.has('k2')).toBe(false);
    expect(keys.has('k1')).toBe(true);
    expect(points<number>(gauge, { [S.ATTR_BALLAST_BREAKER_KEY]: 'k1', [S.ATTR_BALLAST_BREAKER_STATE]: 'half-open' })[0]?.value).toBe(1);
  });

  it('records drift score, p-value and verdict per feature', async () => {
    start();
    emit('drift', {
      monitor: 'inputs',
      feature: 'temp_max',
      test: 'ks',
      statistic: 0.31,
      pValue: 0.0004,
      threshold: 0.05,
      drifted: true,
      windowSize: 500,
    });
    emit('drift', { monitor: 'inputs', feature: 'wind', test: 'psi', statistic: 0.02, threshold: 0.2, drifted: false, windowSize: 500 });
    emit('drift', {
      monitor: 'inputs',
      feature: 'temp_max',
      test: 'ks',
      statistic: 0.05,
      pValue: 0.4,
      threshold: 0.05,
      drifted: false,
      windowSize: 500,
    });
    const metrics = await harness.collect();
    const temp = { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'temp_max' };
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_SCORE), temp)[0]?.value).toBe(0.05);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_P_VALUE), temp)[0]?.value).toBe(0.4);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_DETECTED), temp)[0]?.value).toBe(0);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_SCORE), { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind' })[0]?.attributes).toEqual({
      [S.ATTR_BALLAST_DRIFT_MONITOR]: 'inputs',
      [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind',
      [S.ATTR_BALLAST_DRIFT_TEST]: 'psi',
    });
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_P_VALUE), { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind' })).toEqual([]);
    const tests = points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_TESTS), temp);
    expect(tests.map((p) => [p.attributes[S.ATTR_BALLAST_DRIFT_DRIFTED], p.value]).sort()).toEqual([
      [false, 1],
      [true, 1],
    ]);
  });

  it('counts cache lookups, hedges and rejections', async () => {
    start();
    for (const result of ['hit', 'hit', 'miss', 'stale'] as const) emit('cache', { model: 'm', result });
    emit('hedge', { model: 'm', afterMs: 12 });
    emit('hedge', { model: 'm', afterMs: 12, winner: 'hedge' });
    emit('rejection', { model: 'm', code: 'RATE_LIMITED', source: 'rate-limit' });
    emit('rejection', { model: 'm', code: 'OVERLOADED', source: 'bulkhead' });
    const metrics = await harness.collect();
    const cache = Object.fromEntries(
      points<number>(metrics.get(S.METRIC_BALLAST_CACHE_LOOKUPS)).map((p) => [p.attributes[S.ATTR_BALLAST_CACHE_RESULT], p.value]),
    );
    expect(cache).toEqual({ hit: 2, miss: 1, stale: 1 });
    expect(points<number>(metrics.get(S.METRIC_BALLAST_HEDGES))[0]?.value).toBe(1);
    const rejections = points<number>(metrics.get(S.METRIC_BALLAST_REJECTIONS));
    expect(
      rejections.map((p) => `${p.attributes[S.ATTR_BALLAST_REJECTION_CODE]}/${p.attributes[S.ATTR_BALLAST_REJECTION_SOURCE]}`).sort(),
    ).toEqual(['OVERLOADED/bulkhead', 'RATE_LIMITED/rate-limit']);
  });

  it('records model loads, the provider in use, token usage and cost', async () => {
    start({
      costs: [
        { model: 'tagger', provider: 'cuda', perCall: 0.5, perSecond: 0 },
        { model: 'tagger', perCall: 0.25 },
        { model: '*', perInputToken: 0.001, perOutputToken: 0.002 },
      ],
      currency: 'EUR',
    });
    emit('modelLoad', {
      model: 'tagger',
      version: '2',
      provider: 'cuda',
      durationMs: 1500,
      attempts: [{ provider: 'cuda', ok: true }],
      phase: 'load',
    });
    const tagger = pipeline(defineModel({ name: 'tagger', infer: async () => 'tag' }));
    await tagger.infer(1);
    await tagger.infer(2);
    const chat = pipeline(
      defineModel({
        name: 'chat',
        kind: 'client',
        infer: async () => {
          emit('usage', { model: 'chat', provider: 'openai', inputTokens: 100, outputTokens: 20 });
          return 'hi';
        },
      }),
    );
    await chat.infer('hello');

    const span = harness.span('infer chat');
    expect(span.attributes).toMatchObject({
      [S.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 100,
      [S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 20,
      [S.ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
    });
    const metrics = await harness.collect();
    const load = points<Histogram>(metrics.get(S.METRIC_BALLAST_MODEL_LOAD_DURATION))[0];
    expect(metrics.get(S.METRIC_BALLAST_MODEL_LOAD_DURATION)?.descriptor.unit).toBe('s');
    expect(load?.value.sum).toBe(1.5);
    expect(load?.attributes).toMatchObject({ [S.ATTR_BALLAST_PROVIDER]: 'cuda', [S.ATTR_BALLAST_LOAD_PHASE]: 'load' });
    expect(points<number>(metrics.get(S.METRIC_BALLAST_MODEL_PROVIDER))[0]?.attributes).toEqual({
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'tagger',
      [S.ATTR_BALLAST_PROVIDER]: 'cuda',
      [S.ATTR_BALLAST_MODEL_VERSION]: '2',
    });
    const tokens = metrics.get(S.METRIC_GEN_AI_CLIENT_TOKEN_USAGE);
    expect(tokens?.descriptor.unit).toBe('{token}');
    expect(points<Histogram>(tokens, { [S.ATTR_GEN_AI_TOKEN_TYPE]: 'input' })[0]?.value.sum).toBe(100);
    expect(points<Histogram>(tokens, { [S.ATTR_GEN_AI_TOKEN_TYPE]: 'output' })[0]?.value.sum).toBe(20);

    const costMetric = metrics.get(S.METRIC_BALLAST_COST);
    expect(costMetric?.descriptor.unit).toBe('{EUR}');
    const spend = Object.fromEntries(
      points<number>(costMetric).map((p) => [
        `${p.attributes[S.ATTR_GEN_AI_REQUEST_MODEL]}/${p.attributes[S.ATTR_BALLAST_COST_KIND]}`,
        p.value,
      ]),
    );
    // tagger runs on cuda (from its load event): 2 calls at 0.5; chat: 100 x 0.001 + 20 x 0.002.
    expect(spend['tagger/call']).toBeCloseTo(1, 10);
    expect(spend['chat/input_token']).toBeCloseTo(0.1, 10);
    expect(spend['chat/output_token']).toBeCloseTo(0.04, 10);
    expect(Object.keys(spend).sort()).toEqual(['chat/input_token', 'chat/output_token', 'tagger/call']);
  });
});

describe('shutdown()', () => {
  it('unsubscribes, so later calls record nothing', async () => {
    const handle = start();
    expect(handle.enabled).toEqual({ traces: true, metrics: true });
    expect(channels.infer.hasSubscribers).toBe(true);
    handle.shutdown();
    handle.shutdown();
    expect(channels.infer.hasSubscribers).toBe(false);
    expect(channels.retry.hasSubscribers).toBe(false);
    await pipeline(defineModel({ name: 'm', infer: async () => 1 })).infer(0);
    expect(harness.spans.getFinishedSpans()).toEqual([]);
  });
});
