import http from 'node:http';
import { PassThrough } from 'node:stream';
import { circuitBreaker } from '@ballast/client';
import {
  BallastError,
  channels,
  defineModel,
  type InferContext,
  type InferOptions,
  pipeline,
  signalOf,
  type TensorValue,
} from '@ballast/core';
import { apiKeys, auditLog, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpForward, mlpModel, randomLayers } from '@ballast/onnx/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ballastRouter } from './router.js';
import { listen } from './test-server.js';

type Row = Record<string, { data: ArrayLike<number>; dims: readonly number[] }>;

const secret = 'a-server-secret-that-is-long-enough!';
const layers = randomLayers({ sizes: [4, 8, 3], seed: 3 });

// Doubles its input "x": a plain core model speaking the row convention.
const doubler = defineModel({
  name: 'doubler',
  version: '2',
  infer: async (row: Row): Promise<Record<string, TensorValue>> => {
    const x = row.x;
    if (x === undefined) throw new BallastError('INVALID_INPUT', 'missing input "x"');
    return { y: { type: 'float32', dims: [...x.dims], data: Float32Array.from(x.data, (v) => v * 2) } };
  },
});

// Never answers on its own: only the call's deadline ends it.
const stuck = defineModel({
  name: 'stuck',
  infer: (_row: Row, options?: InferOptions) =>
    new Promise<Record<string, TensorValue>>((_, reject) => {
      signalOf(options)?.addEventListener('abort', () => reject(new Error('aborted')));
    }),
});

// Fails every call; a breaker opens after the first failure.
const breaker = circuitBreaker({ consecutiveFailures: 1, openMs: 60_000 });
const flaky = pipeline(
  defineModel({
    name: 'flaky',
    infer: async (): Promise<Record<string, TensorValue>> => {
      throw new BallastError('UPSTREAM', 'the upstream failed');
    },
  }),
  breaker,
);

let base = '';
let close: () => Promise<void> = async () => {};
const auditLines: Record<string, unknown>[] = [];
const keys: Record<string, string> = {};
let clock = Date.parse('2026-06-01T00:00:00Z');

beforeAll(async () => {
  const mlp = await onnxModel({ bytes: mlpModel({ layers }), name: 'mlp' });
  const manager = apiKeys({ secret, store: memoryKeyStore(), clock: () => clock });
  keys.admin = (await manager.create({ principalId: 'ops', roles: ['admin'] })).key;
  keys.caller = (await manager.create({ principalId: 'app', roles: ['infer'] })).key;
  keys.doublerOnly = (await manager.create({ principalId: 'narrow', roles: ['infer'], models: ['doubler'] })).key;
  keys.reader = (await manager.create({ principalId: 'viewer', roles: ['read'] })).key;
  keys.tiny = (await manager.create({ principalId: 'tiny', roles: ['infer'], attributes: { plan: 'tiny' } })).key;
  const revoked = await manager.create({ principalId: 'gone', roles: ['infer'] });
  await manager.revoke(revoked.record.id);
  keys.revoked = revoked.key;
  keys.expired = (await manager.create({ principalId: 'old', roles: ['infer'], expiresInMs: 1000 })).key;
  clock += 5000;

  const sink = new PassThrough();
  sink.on('data', (chunk) => {
    for (const line of String(chunk).trim().split('\n')) auditLines.push(JSON.parse(line));
  });
  const guard = createGuard({
    keys: manager,
    limits: { plans: { tiny: { rate: { ratePerSecond: 0.5, burst: 1 } } } },
    input: { maxBodyBytes: 4096, ranges: { x: { min: -1000, max: 1000 } } },
    audit: auditLog({ sink, includeInputs: true, redact: { patterns: [/secret-\w+/] } }),
  });
  const app = express();
  const router = ballastRouter({ models: [mlp, doubler, stuck, flaky], guard, timeoutMs: 100 });
  app.use(router);
  const started = await listen(app);
  base = started.url;
  close = async () => {
    await started.close();
    await router.shutdown();
  };
});

afterAll(() => close());

function post(path: string, body: unknown, key?: string, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

interface Answer {
  outputs: { data: number[] }[];
  error: string;
  code: string;
  details: { issues: { path: string; code: string }[] };
}

const json = (response: Response) => response.json() as Promise<Answer>;

const doublerBody = { id: 'req-1', inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] };

describe('ballastRouter authentication and authorization', () => {
  it.each([
    ['missing', undefined, 401, 'missing'],
    ['wrong', 'bk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 401, 'invalid'],
    ['malformed', 'not-a-key', 401, 'malformed'],
    ['revoked', 'revoked', 401, 'revoked'],
    ['expired', 'expired', 401, 'expired'],
  ])('rejects a %s key with 401', async (_label, key, status, reason) => {
    const response = await post('/v2/models/doubler/infer', doublerBody, key === undefined ? undefined : (keys[key] ?? key));
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ code: 'UNAUTHENTICATED', details: { reason } });
  });

  it('answers 403 for a principal without the grant or outside its models', async () => {
    const reader = await post('/v2/models/doubler/infer', doublerBody, keys.reader);
    expect(reader.status).toBe(403);
    expect(await reader.json()).toMatchObject({ code: 'FORBIDDEN' });
    const narrow = await post(
      '/v2/models/mlp/infer',
      { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0, 0] }] },
      keys.doublerOnly,
    );
    expect(narrow.status).toBe(403);
    expect((await post('/v2/models/doubler/infer', doublerBody, keys.doublerOnly)).status).toBe(200);
  });

  it('lets a reader read metadata but keeps health public', async () => {
    expect((await fetch(`${base}/v2/models/doubler`)).status).toBe(401);
    const meta = await fetch(`${base}/v2/models/mlp`, { headers: { 'x-api-key': keys.reader as string } });
    expect(meta.status).toBe(200);
    expect(await meta.json()).toEqual({
      name: 'mlp',
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);
  });
});

describe('ballastRouter Open Inference Protocol v2', () => {
  it('round-trips a real ONNX model, batch rows split and stacked, id echoed', async () => {
    const rows = [
      [0.5, -1, 2, 0.25],
      [1, 1, 1, 1],
      [-2, 0, 3, 0.5],
    ];
    const response = await post(
      '/v2/models/mlp/infer',
      { id: 'abc', inputs: [{ name: 'input', shape: [3, 4], datatype: 'FP32', data: rows.flat() }] },
      keys.caller,
      { 'x-request-id': 'trace-me-1' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('trace-me-1');
    const body = await json(response);
    expect(body).toMatchObject({ model_name: 'mlp', id: 'abc', outputs: [{ name: 'output', shape: [3, 3], datatype: 'FP32' }] });
    const expected = rows.flatMap((row) => mlpForward(layers, row));
    body.outputs[0]?.data.forEach((value: number, i: number) => {
      expect(value).toBeCloseTo(expected[i] as number, 4);
    });
  });

  it('serves a core model by version and answers 404 for unknown models and versions', async () => {
    const response = await post('/v2/models/doubler/versions/2/infer', doublerBody, keys.caller);
    expect(await response.json()).toEqual({
      model_name: 'doubler',
      model_version: '2',
      id: 'req-1',
      outputs: [{ name: 'y', shape: [2, 3], datatype: 'FP32', data: [2, 4, 6, 8, 10, 12] }],
    });
    const unknown = await post('/v2/models/nope/infer', doublerBody, keys.caller);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await post('/v2/models/doubler/versions/9/infer', doublerBody, keys.caller)).status).toBe(404);
    expect((await fetch(`${base}/v2/nothing-here`)).status).toBe(404);
  });

  it('answers 400 for malformed JSON and schema violations with field paths', async () => {
    const malformed = await post('/v2/models/doubler/infer', '{"inputs": [', keys.caller);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'INVALID_INPUT' });

    const wrongShape = await post(
      '/v2/models/doubler/infer',
      { inputs: [{ name: 'x', shape: ['2'], datatype: 'FP32', data: [] }] },
      keys.caller,
    );
    expect(wrongShape.status).toBe(400);
    const issues = (await json(wrongShape)).details.issues;
    expect(issues.map((i: { path: string }) => i.path)).toContain('inputs[0].shape[0]');

    const badElement = await post(
      '/v2/models/doubler/infer',
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'INT8', data: [1, 300] }] },
      keys.caller,
    );
    expect((await json(badElement)).details.issues[0]!.path).toBe('inputs[0].data[1]');

    const outOfRange = await post(
      '/v2/models/doubler/infer',
      { inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 5000] }] },
      keys.caller,
    );
    expect(outOfRange.status).toBe(400);
    expect((await json(outOfRange)).details.issues[0]).toMatchObject({ path: 'x[1]', code: 'range' });
  });

  it('answers 413 above the body limit', async () => {
    const data = Array.from({ length: 2000 }, () => 1.5);
    const response = await post(
      '/v2/models/doubler/infer',
      { inputs: [{ name: 'x', shape: [1, 2000], datatype: 'FP32', data }] },
      keys.caller,
    );
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers 429 with Retry-After over the principal rate limit', async () => {
    expect((await post('/v2/models/doubler/infer', doublerBody, keys.tiny)).status).toBe(200);
    const limited = await post('/v2/models/doubler/infer', doublerBody, keys.tiny);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('answers 504 when the deadline passes', async () => {
    const response = await post('/v2/models/stuck/infer', doublerBody, keys.caller);
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ code: 'TIMEOUT' });
  });

  it('answers 503 with Retry-After while a breaker is open, and readiness reports it', async () => {
    const failing = await post('/v2/models/flaky/infer', doublerBody, keys.caller);
    expect(failing.status).toBe(502);
    const open = await post('/v2/models/flaky/infer', doublerBody, keys.caller);
    expect(open.status).toBe(503);
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await open.json()).toMatchObject({ code: 'CIRCUIT_OPEN' });
    const ready = await fetch(`${base}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      ready: false,
      models: { flaky: { ready: false, reason: 'circuit breaker open' }, mlp: { ready: true } },
    });
    const modelReady = await fetch(`${base}/v2/models/mlp/ready`, { headers: { 'x-api-key': keys.reader as string } });
    expect(modelReady.status).toBe(200);
    breaker.reset();
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  });

  it('hands the caller trace context and the request id to the ballast:infer tracing channel', async () => {
    const seen: (Record<string, unknown> | undefined)[] = [];
    const noop = () => {};
    const handlers = {
      start: (context: InferContext) => {
        seen.push(context.options?.attributes);
      },
      end: noop,
      asyncStart: noop,
      asyncEnd: noop,
      error: noop,
    };
    channels.infer.subscribe(handlers);
    try {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const response = await post('/v2/models/doubler/infer', doublerBody, keys.caller, {
        traceparent,
        authorization: `Bearer ${keys.caller}`,
        'x-request-id': 'tp-1',
      });
      expect(response.status).toBe(200);
      expect(seen.length).toBeGreaterThan(0);
      for (const attributes of seen) {
        expect(attributes).toMatchObject({ 'http.request.header.traceparent': traceparent, 'ballast.request.id': 'tp-1' });
        expect(JSON.stringify(attributes)).not.toContain(keys.caller as string);
      }
    } finally {
      channels.infer.unsubscribe(handlers);
    }
  });

  it('writes one redacted audit line per infer request', async () => {
    const before = auditLines.length;
    await post(
      '/v2/models/doubler/infer',
      {
        inputs: [
          { name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] },
          { name: 'note', shape: [1, 1], datatype: 'BYTES', data: ['secret-token'] },
        ],
      },
      keys.caller,
      { 'x-request-id': 'audit-1' },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    const line = auditLines.slice(before).find((l) => l.requestId === 'audit-1');
    expect(line).toMatchObject({ principal: 'app', model: 'doubler', version: '2', action: 'infer', outcome: 'ok', status: 200 });
    expect(line?.inputHash).toMatch(/^[0-9a-f]{64}$/);
    expect(line?.input).toEqual({ x: [1], note: ['[REDACTED]'] });
    expect(auditLines.some((l) => l.outcome === 'UNAUTHENTICATED' && l.principal === 'anonymous')).toBe(true);
  });
});

describe('ballastRouter infer answers and disconnects', () => {
  it('answers JSON with its length, and honours the app JSON settings', async () => {
    const plain = await post('/v2/models/doubler/infer', doublerBody, keys.caller);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const text = await plain.text();
    expect(Number(plain.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text)).toMatchObject({ model_name: 'doubler', id: 'req-1', outputs: [{ data: [2, 4, 6, 8, 10, 12] }] });

    const app = express();
    app.set('json spaces', 2);
    const router = ballastRouter({ models: [doubler] });
    app.use(router);
    const started = await listen(app);
    try {
      const response = await fetch(`${started.url}/v2/models/doubler/infer`, { method: 'POST', body: JSON.stringify(doublerBody) });
      expect(await response.text()).toContain('\n  "model_name": "doubler"');
    } finally {
      await started.close();
      await router.shutdown();
    }
  });

  it('aborts the model call when the client goes away', async () => {
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let aborted: (reason: unknown) => void = () => {};
    const abort = new Promise<unknown>((resolve) => {
      aborted = resolve;
    });
    const waiting = defineModel({
      name: 'waiting',
      infer: (_row: Row, options?: InferOptions) =>
        new Promise<Record<string, TensorValue>>((_, reject) => {
          const signal = signalOf(options);
          signal?.addEventListener('abort', () => {
            aborted(signal.reason);
            reject(signal.reason);
          });
          started();
        }),
    });
    const app = express();
    const router = ballastRouter({ models: [waiting], timeoutMs: 10_000 });
    app.use(router);
    const server = await listen(app);
    try {
      const controller = new AbortController();
      const request = fetch(`${server.url}/v2/models/waiting/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] }),
        signal: controller.signal,
      }).catch(() => undefined);
      await running;
      controller.abort();
      await request;
      expect(await abort).toMatchObject({ code: 'CANCELLED' });
    } finally {
      await server.close();
      await router.shutdown();
    }
  });

  it('shares one disconnect signal across the single-row requests of a connection, unless a request leaves a listener on it', async () => {
    const seen: (AbortSignal | undefined)[] = [];
    let leave = false;
    const recorder = defineModel({
      name: 'recorder',
      infer: async (row: Row, options?: InferOptions): Promise<Record<string, TensorValue>> => {
        seen.push(options?.signal);
        // Code that subscribes to the caller's signal and never unsubscribes.
        if (leave) options?.signal?.addEventListener('abort', () => {});
        return { y: { type: 'float32', dims: [...(row.x?.dims ?? [1])], data: Float32Array.from(row.x?.data ?? [0]) } };
      },
    });
    const app = express();
    const router = ballastRouter({ models: [recorder] });
    app.use(router);
    const server = await listen(app);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (rows: number) =>
      new Promise<number>((resolve, reject) => {
        const request = http.request(`${server.url}/v2/models/recorder/infer`, { method: 'POST', agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        });
        request.on('error', reject);
        request.end(
          JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 1], datatype: 'FP32', data: Array.from({ length: rows }, () => 1) }] }),
        );
      });
    try {
      expect(await send(1)).toBe(200);
      expect(await send(1)).toBe(200);
      expect(seen[1]).toBe(seen[0]);
      // Several rows get their own controller (a failed row aborts its siblings).
      expect(await send(2)).toBe(200);
      expect(seen[2]).not.toBe(seen[0]);
      expect(seen[3]).toBe(seen[2]);
      leave = true;
      expect(await send(1)).toBe(200);
      expect(seen[4]).toBe(seen[0]);
      leave = false;
      expect(await send(1)).toBe(200);
      expect(seen[5]).not.toBe(seen[0]);
      expect(seen.every((signal) => signal?.aborted === false)).toBe(true);
    } finally {
      agent.destroy();
      await server.close();
      await router.shutdown();
    }
  });
});
