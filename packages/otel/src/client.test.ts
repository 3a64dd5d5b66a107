import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, remoteModel } from '@ballast/client';
import { BallastError, defineModel, pipeline } from '@ballast/core';
import { propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { core } from '@opentelemetry/sdk-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHarness, type Harness, points, registerContextManager } from '../test/harness.js';
import { type Instrumentation, instrument } from './instrument.js';
import * as S from './semconv.js';

let harness: Harness;
let telemetry: Instrumentation;
let unregister: () => void;

beforeAll(() => {
  unregister = registerContextManager();
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
});
afterAll(() => {
  propagation.disable();
  unregister();
});
beforeEach(() => {
  harness = createHarness();
  telemetry = instrument({ tracerProvider: harness.tracerProvider, meterProvider: harness.meterProvider });
});
afterEach(async () => {
  telemetry.shutdown();
  vi.useRealTimers();
  await harness.shutdown();
});

/** A model server on 127.0.0.1 answering with the queued statuses (then 200) and recording each request's traceparent. */
class ModelServer {
  readonly traceparents: (string | undefined)[] = [];
  statuses: number[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      this.traceparents.push(request.headers.traceparent as string | undefined);
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const status = this.statuses.shift() ?? 200;
        response.statusCode = status;
        response.setHeader('content-type', 'application/json');
        response.end(status === 200 ? JSON.stringify({ y: (JSON.parse(body) as { x: number }).x * 2 }) : '{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/predict`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/** The client's remote model (`json` protocol): a `pipeline()`, so every attempt is a traced call that publishes `ballast:http-request`. */
function httpModel(url: string) {
  return remoteModel<{ x: number }, { y: number }>({ url, name: 'scorer' });
}

const byStart = (spans: ReadableSpan[]) => [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
const idOf = (span: ReadableSpan | undefined) => span?.spanContext().spanId;

describe('the client over real HTTP', () => {
  const server = new ModelServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('traces a retried remote call: one span per attempt under the call, traceparent in each request', async () => {
    server.statuses = [503];
    const before = server.traceparents.length;
    const client = createClient({
      model: httpModel(server.url),
      timeoutMs: 5_000,
      retry: { maxAttempts: 3, baseDelayMs: 1, jitter: 'none', budget: false },
    });
    expect(await client.infer({ x: 21 })).toEqual({ y: 42 });

    const spans = harness.spans.getFinishedSpans().filter((s) => s.name === 'infer scorer');
    const root = spans.find((s) => s.parentSpanContext === undefined);
    const attempts = byStart(spans.filter((s) => s !== root));
    expect(attempts).toHaveLength(2);
    expect(root?.kind).toBe(SpanKind.CLIENT);
    expect(root?.attributes).toMatchObject({ [S.ATTR_BALLAST_ATTEMPTS]: 2, [S.ATTR_BALLAST_OUTCOME]: 'success' });
    for (const attempt of attempts) {
      expect(attempt.kind).toBe(SpanKind.CLIENT);
      expect(attempt.parentSpanContext?.spanId).toBe(idOf(root));
      expect(attempt.spanContext().traceId).toBe(root?.spanContext().traceId);
    }
    expect(attempts[0]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempts[0]?.attributes[S.ATTR_ERROR_TYPE]).toBe('MODEL_UNAVAILABLE');
    expect(attempts[1]?.status.code).toBe(SpanStatusCode.UNSET);
    const retry = root?.events.find((e) => e.name === S.EVENT_BALLAST_RETRY);
    expect(retry?.attributes).toMatchObject({ [S.ATTR_BALLAST_RETRY_ATTEMPT]: 1, [S.ATTR_ERROR_TYPE]: 'MODEL_UNAVAILABLE' });

    // The server saw each attempt's own span as its parent.
    expect(server.traceparents.slice(before)).toEqual(attempts.map((a) => `00-${a.spanContext().traceId}-${idOf(a)}-01`));

    const metrics = await harness.collect();
    expect(points<number>(metrics.get(S.METRIC_BALLAST_RETRIES), { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'scorer' })[0]?.value).toBe(1);
    const requests = metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION);
    expect(points<Histogram>(requests).map((p) => p.value.count)).toEqual([1]);
    const attemptDurations = metrics.get(S.METRIC_BALLAST_INFERENCE_NESTED_DURATION);
    expect(points<Histogram>(attemptDurations, { [S.ATTR_BALLAST_OUTCOME]: 'error' })[0]?.value.count).toBe(1);
  });

  it('traces a fallback to another model: primary path and backup model are children of the call', async () => {
    server.statuses = [500];
    const backup = pipeline(defineModel({ name: 'backup', infer: async ({ x }: { x: number }) => ({ y: -x }) }));
    const client = createClient({
      model: httpModel(server.url),
      timeoutMs: 5_000,
      retry: { maxAttempts: 2, baseDelayMs: 1, jitter: 'none', budget: false },
      fallback: [backup],
    });
    expect(await client.infer({ x: 5 })).toEqual({ y: -5 });

    const spans = harness.spans.getFinishedSpans();
    const root = spans.find((s) => s.parentSpanContext === undefined);
    expect(root?.name).toBe('infer scorer');
    expect(root?.attributes).toMatchObject({ [S.ATTR_BALLAST_OUTCOME]: 'fallback', [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'backup' });
    expect(root?.status.code).toBe(SpanStatusCode.UNSET);
    const children = spans.filter((s) => s.parentSpanContext?.spanId === idOf(root));
    expect(children.map((s) => s.name).sort()).toEqual(['infer backup', 'infer scorer']);
    const primary = children.find((s) => s.name === 'infer scorer');
    expect(primary?.attributes[S.ATTR_ERROR_TYPE]).toBe('UPSTREAM');
    // HTTP 500 is UPSTREAM, not retryable: one HTTP attempt, under the primary path.
    const attempts = spans.filter((s) => s.parentSpanContext?.spanId === idOf(primary));
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.status.code).toBe(SpanStatusCode.ERROR);
    const event = root?.events.find((e) => e.name === S.EVENT_BALLAST_FALLBACK);
    expect(event?.attributes).toMatchObject({ [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'backup', [S.ATTR_BALLAST_FALLBACK_SERVED]: true });

    const metrics = await harness.collect();
    expect(points<number>(metrics.get(S.METRIC_BALLAST_FALLBACKS), { [S.ATTR_BALLAST_FALLBACK_SOURCE]: 'backup' })[0]?.value).toBe(1);
    expect(
      points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION)).map((p) => [p.attributes[S.ATTR_BALLAST_OUTCOME], p.value.count]),
    ).toEqual([['fallback', 1]]);
  });
});

describe('the client breaker', () => {
  it('moves the state gauge closed → open → half-open → closed and counts the rejection', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let healthy = false;
    const client = createClient({
      model: pipeline(
        defineModel({
          name: 'flaky',
          infer: async () => {
            if (!healthy) throw new BallastError('MODEL_UNAVAILABLE', 'down');
            return 1;
          },
        }),
      ),
      breaker: { consecutiveFailures: 2, openMs: 1_000 },
    });
    const gauge = async () => {
      const metrics = await harness.collect();
      const current = points<number>(metrics.get(S.METRIC_BALLAST_BREAKER_STATE), { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'flaky' }).find(
        (p) => p.value === 1,
      );
      return current?.attributes[S.ATTR_BALLAST_BREAKER_STATE];
    };

    await expect(client.infer(0)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    await expect(client.infer(0)).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(await gauge()).toBe('open');
    await expect(client.infer(0)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    const rejected = harness.spans.getFinishedSpans().filter((s) => s.attributes[S.ATTR_ERROR_TYPE] === 'CIRCUIT_OPEN');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.events.map((e) => e.name)).toContain(S.EVENT_BALLAST_REJECTION);

    vi.advanceTimersByTime(1_000);
    healthy = true;
    expect(await client.infer(0)).toBe(1);
    expect(await gauge()).toBe('closed');

    const metrics = await harness.collect();
    const transitions = points<number>(metrics.get(S.METRIC_BALLAST_BREAKER_TRANSITIONS)).map(
      (p) => `${p.attributes[S.ATTR_BALLAST_BREAKER_FROM]}->${p.attributes[S.ATTR_BALLAST_BREAKER_STATE]}`,
    );
    expect(transitions.sort()).toEqual(['closed->open', 'half-open->closed', 'open->half-open']);
    const rejections = points<number>(metrics.get(S.METRIC_BALLAST_REJECTIONS), { [S.ATTR_BALLAST_REJECTION_CODE]: 'CIRCUIT_OPEN' });
    expect(rejections[0]?.value).toBe(1);
    expect(rejections[0]?.attributes[S.ATTR_BALLAST_REJECTION_SOURCE]).toBe('breaker');
  });
});

describe('the client hedge and cache', () => {
  it('records a hedge as span events and a counter, with both attempts as child spans', async () => {
    let calls = 0;
    const model = pipeline(
      defineModel({
        name: 'slow',
        infer: async (x: number) => {
          const wait = ++calls === 1 ? 1_000 : 1;
          await new Promise((resolve) => setTimeout(resolve, wait));
          return x;
        },
      }),
    );
    const client = createClient({ model, timeoutMs: 5_000, hedge: { delayMs: 20 } });
    expect(await client.infer(4)).toBe(4);
    await vi.waitFor(() => expect(harness.spans.getFinishedSpans().filter((s) => s.name === 'infer slow')).toHaveLength(3));

    const spans = harness.spans.getFinishedSpans();
    const root = spans.find((s) => s.parentSpanContext === undefined);
    const attempts = spans.filter((s) => s.parentSpanContext?.spanId === idOf(root));
    expect(attempts).toHaveLength(2);
    const hedges = root?.events.filter((e) => e.name === S.EVENT_BALLAST_HEDGE).map((e) => e.attributes);
    expect(hedges).toEqual([
      { [S.ATTR_BALLAST_HEDGE_AFTER_MS]: 20 },
      { [S.ATTR_BALLAST_HEDGE_AFTER_MS]: 20, [S.ATTR_BALLAST_HEDGE_WINNER]: 'hedge' },
    ]);
    // The losing primary attempt was cancelled.
    expect(attempts.map((a) => a.attributes[S.ATTR_ERROR_TYPE] ?? 'ok').sort()).toEqual(['CANCELLED', 'ok']);
    const metrics = await harness.collect();
    expect(points<number>(metrics.get(S.METRIC_BALLAST_HEDGES), { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'slow' })[0]?.value).toBe(1);
  });

  it('marks cache hits on the span and counts lookups by result', async () => {
    let runs = 0;
    const model = pipeline(
      defineModel({
        name: 'cached',
        infer: async (x: number) => {
          runs++;
          return x * 3;
        },
      }),
    );
    const client = createClient({ model, cache: { ttlMs: 60_000 } });
    expect(await client.infer(2)).toBe(6);
    expect(await client.infer(2)).toBe(6);
    expect(runs).toBe(1);
    const spans = harness.spans.getFinishedSpans();
    const roots = byStart(spans.filter((s) => s.parentSpanContext === undefined));
    expect(roots.map((r) => r.attributes[S.ATTR_BALLAST_CACHE_RESULT])).toEqual(['miss', 'hit']);
    // Only the miss reached the model.
    expect(spans.filter((s) => s.parentSpanContext?.spanId === idOf(roots[1]))).toEqual([]);
    expect(spans.filter((s) => s.parentSpanContext?.spanId === idOf(roots[0]))).toHaveLength(1);
    const metrics = await harness.collect();
    const lookups = Object.fromEntries(
      points<number>(metrics.get(S.METRIC_BALLAST_CACHE_LOOKUPS)).map((p) => [p.attributes[S.ATTR_BALLAST_CACHE_RESULT], p.value]),
    );
    expect(lookups).toEqual({ miss: 1, hit: 1 });
  });
});
