import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { annotate, BallastError, defineModel, emit, type InferOptions, type Middleware, type Model, pipeline } from '@ballast/core';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { core } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { points, registerContextManager, useTelemetry } from '../test/harness.js';
import type { instrument } from './instrument.js';
import * as S from './semconv.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const fixture = useTelemetry();
const start = (options?: Parameters<typeof instrument>[0]) => fixture.start(options);

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

    const span = fixture.harness.span('infer sentiment');
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

    const metrics = await fixture.harness.collect();
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

    const remote = fixture.harness.span('infer remote');
    expect(remote.kind).toBe(SpanKind.CLIENT);
    expect(remote.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad gateway' });
    expect(remote.attributes[S.ATTR_ERROR_TYPE]).toBe('UPSTREAM');
    expect(remote.events.map((e) => e.name)).toContain('exception');
    expect(fixture.harness.span('infer broken').attributes[S.ATTR_ERROR_TYPE]).toBe('INTERNAL');

    const metrics = await fixture.harness.collect();
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
    const span = fixture.harness.span('infer m');
    expect(span.attributes).toMatchObject({
      [S.ATTR_BALLAST_CACHE_RESULT]: 'miss',
      [S.ATTR_BALLAST_ATTEMPTS]: 2,
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'static',
      [S.ATTR_BALLAST_OUTCOME]: 'fallback',
      [S.ATTR_BALLAST_INPUT]: '[1,2,3,4…',
    });
    const metrics = await fixture.harness.collect();
    const [point] = points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION));
    expect(point?.attributes[S.ATTR_BALLAST_OUTCOME]).toBe('fallback');
    expect(point?.attributes[S.ATTR_BALLAST_PROVIDER]).toBe('cpu');
  });

  it('captures inputs with a function and survives one that throws', async () => {
    start({ captureInputs: (input) => (typeof input === 'number' && input > 1 ? `n=${input}` : JSON.parse('{')) });
    const model = pipeline(defineModel({ name: 'm', infer: async (x: number) => x }));
    await model.infer(5);
    await model.infer(0);
    const [five, zero] = fixture.harness.spans.getFinishedSpans();
    expect(five?.attributes[S.ATTR_BALLAST_INPUT]).toBe('n=5');
    expect(zero?.attributes[S.ATTR_BALLAST_INPUT]).toBeUndefined();
    expect(zero?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('parents the call span on the span active in the caller', async () => {
    start();
    const model = pipeline(defineModel({ name: 'm', infer: async () => 1 }));
    const tracer = fixture.harness.tracerProvider.getTracer('app');
    const request = tracer.startSpan('GET /predict');
    await context.with(trace.setSpan(ROOT_CONTEXT, request), () => model.infer(0));
    request.end();
    const span = fixture.harness.span('infer m');
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

    const spans = fixture.harness.spans.getFinishedSpans().filter((s) => s.name === 'infer scorer');
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

    const metrics = await fixture.harness.collect();
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

    const outer = fixture.harness.spans.getFinishedSpans().find((s) => s.name === 'infer primary' && s.parentSpanContext === undefined);
    const failedPrimary = fixture.harness.spans.getFinishedSpans().find((s) => s.name === 'infer primary' && s !== outer);
    const rules = fixture.harness.span('infer rules');
    expect(rules.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(failedPrimary?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(outer?.attributes[S.ATTR_BALLAST_OUTCOME]).toBe('fallback');
    expect(outer?.events.find((e) => e.name === S.EVENT_BALLAST_FALLBACK)?.attributes).toEqual({
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'rules',
      [S.ATTR_BALLAST_FALLBACK_INDEX]: 0,
      [S.ATTR_BALLAST_FALLBACK_SERVED]: true,
      [S.ATTR_ERROR_TYPE]: 'TIMEOUT',
    });
    const metrics = await fixture.harness.collect();
    const [point] = points<number>(metrics.get(S.METRIC_BALLAST_FALLBACKS));
    expect(point?.attributes).toEqual({
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'primary',
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'rules',
      [S.ATTR_BALLAST_FALLBACK_SERVED]: true,
    });
    expect(point?.value).toBe(1);
  });

  it('keeps parent/child relations without a global context manager', async () => {
    context.disable(); // the file's context manager (useTelemetry) is put back below
    try {
      start();
      const inner = pipeline(defineModel({ name: 'inner', infer: async (x: number) => x + 1 }));
      const outer = pipeline(defineModel({ name: 'outer', infer: async (x: number) => inner.infer(x) }));
      expect(await outer.infer(1)).toBe(2);
      expect(fixture.harness.span('infer inner').parentSpanContext?.spanId).toBe(fixture.harness.span('infer outer').spanContext().spanId);
    } finally {
      registerContextManager();
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
    const span = fixture.harness.span('infer served');
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe(incoming);
    expect(span.parentSpanContext?.isRemote).toBe(true);
    expect(span.spanContext().traceState?.get('vendor')).toBe('1');

    fixture.harness.spans.reset();
    const server = fixture.harness.tracerProvider.getTracer('app').startSpan('POST /infer');
    await context.with(trace.setSpan(ROOT_CONTEXT, server), () => model.infer(2, { attributes }));
    server.end();
    expect(fixture.harness.span('infer served').parentSpanContext?.spanId).toBe(server.spanContext().spanId);
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
    const span = fixture.harness.span('infer m');
    const traceparent = received.at(-1)?.traceparent;
    expect(traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
  });
});
