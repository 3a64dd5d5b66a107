import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HttpRequestEvent, subscribe } from '@ballast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from './client.js';
import { httpError, parseRetryAfter, remoteModel } from './remote-model.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const routes = new Map<string, Handler>();
const seen: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let server: Server;
let base: string;
const aborted: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      res.on('close', () => {
        if (!res.writableFinished) aborted.push(req.url ?? '');
      });
      const route = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (route) route(req, res, body);
      else res.writeHead(404).end('no route');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
}

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0')).toBe(0);
    const now = Date.parse('Wed, 21 Oct 2026 07:27:30 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it('maps statuses to codes', () => {
    expect(httpError('m', 429, '1', '')).toMatchObject({ code: 'RATE_LIMITED', retryable: true, retryAfterMs: 1000 });
    expect(httpError('m', 503, null, '')).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true });
    expect(httpError('m', 504, null, '')).toMatchObject({ code: 'UPSTREAM', retryable: true });
    expect(httpError('m', 400, null, '')).toMatchObject({ code: 'INVALID_INPUT', retryable: false });
    expect(httpError('m', 401, null, '')).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(httpError('m', 409, null, '')).toMatchObject({ code: 'UPSTREAM', retryable: false });
    expect(httpError('m', 500, null, '')).toMatchObject({ code: 'UPSTREAM', retryable: false });
  });
});

describe('remoteModel against real HTTP servers', () => {
  it('json: posts the input and returns the validated body', async () => {
    routes.set('/score', (_req, res, body) => json(res, 200, { score: (JSON.parse(body) as { x: number }).x * 2 }));
    const model = remoteModel<{ x: number }, { score: number }>({
      url: `${base}/score`,
      name: 'scorer',
      output: z.object({ score: z.number() }),
    });
    expect(model.kind).toBe('client');
    await expect(model.infer({ x: 21 })).resolves.toEqual({ score: 42 });
    routes.set('/score', (_req, res) => json(res, 200, { score: 'high' }));
    await expect(model.infer({ x: 1 })).rejects.toMatchObject({ code: 'UPSTREAM', retryable: false });
  });

  it('503 with Retry-After (seconds and HTTP-date) is retryable MODEL_UNAVAILABLE with retryAfterMs', async () => {
    routes.set('/busy', (_req, res) => json(res, 503, { error: 'warming up' }, { 'retry-after': '2' }));
    const model = remoteModel({ url: `${base}/busy`, name: 'busy' });
    const error = await model.infer({}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true, retryAfterMs: 2000, details: { status: 503 } });
    const at = new Date(Date.now() + 5000).toUTCString();
    routes.set('/busy', (_req, res) => json(res, 503, {}, { 'retry-after': at }));
    const dated = (await model.infer({}).catch((e: unknown) => e)) as { retryAfterMs: number };
    expect(dated.retryAfterMs).toBeGreaterThan(3000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(5000);
  });

  it('429 is RATE_LIMITED; a client retries it after the hint and succeeds', async () => {
    let calls = 0;
    routes.set('/limited', (_req, res) => {
      calls++;
      if (calls === 1) json(res, 429, {}, { 'retry-after': '0' });
      else json(res, 200, { ok: true });
    });
    const model = remoteModel({ url: `${base}/limited`, name: 'limited' });
    const client = createClient({ model, retry: { maxAttempts: 2, baseDelayMs: 1 } });
    await expect(client.infer({}, { timeoutMs: 2000 })).resolves.toEqual({ ok: true });
    expect(calls).toBe(2);
  });

  it('a server that hangs: the call fails with TIMEOUT at its deadline and the request is aborted', async () => {
    routes.set('/hang', () => {});
    const model = remoteModel({ url: `${base}/hang`, name: 'hang' });
    const started = performance.now();
    const error = await model.infer({}, { timeoutMs: 100 }).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toMatchObject({ code: 'TIMEOUT' });
    expect(took).toBeGreaterThanOrEqual(99);
    // Not the server's pace: the deadline answered (generous bound for a loaded machine).
    expect(took).toBeLessThan(1000);
    for (let i = 0; i < 50 && !aborted.includes('/hang'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(aborted).toContain('/hang');
  });

  it('a connection reset is a retryable UPSTREAM error', async () => {
    routes.set('/reset', (req) => req.socket.destroy());
    const model = remoteModel({ url: `${base}/reset`, name: 'reset' });
    const error = await model.infer({}, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM', retryable: true });
  });

  it('a reset in the middle of the body is a retryable UPSTREAM error', async () => {
    routes.set('/half', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const model = remoteModel({ url: `${base}/half`, name: 'half' });
    await expect(model.infer({}, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'UPSTREAM', retryable: true });
  });

  it('malformed JSON is a non-retryable UPSTREAM error', async () => {
    routes.set('/garbage', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"oops":'));
    const model = remoteModel({ url: `${base}/garbage`, name: 'garbage' });
    await expect(model.infer({})).rejects.toMatchObject({ code: 'UPSTREAM', retryable: false, details: { reason: 'malformed-json' } });
  });

  it('a slow first byte: answered within the budget it succeeds, past it TIMEOUT', async () => {
    routes.set('/slow', (_req, res) => setTimeout(() => json(res, 200, { late: true }), 150));
    const model = remoteModel({ url: `${base}/slow`, name: 'slow' });
    await expect(model.infer({}, { timeoutMs: 1000 })).resolves.toEqual({ late: true });
    await expect(model.infer({}, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('4xx are not retryable', async () => {
    routes.set('/bad', (_req, res) => json(res, 400, { error: 'shape' }));
    const model = remoteModel({ url: `${base}/bad`, name: 'bad' });
    await expect(model.infer({})).rejects.toMatchObject({ code: 'INVALID_INPUT', retryable: false, details: { status: 400 } });
  });

  it('publishes ballast:http-request with mutable headers that are sent', async () => {
    routes.set('/traced', (req, res) => json(res, 200, { traceparent: req.headers.traceparent, auth: req.headers.authorization }));
    const events: HttpRequestEvent[] = [];
    const stop = subscribe('httpRequest', (e) => {
      events.push(e);
      e.headers.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    });
    try {
      const model = remoteModel({ url: `${base}/traced`, name: 'traced', headers: { Authorization: 'Bearer t' } });
      await expect(model.infer({})).resolves.toEqual({
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        auth: 'Bearer t',
      });
      expect(events[0]).toMatchObject({ model: 'traced', url: `${base}/traced`, method: 'POST' });
    } finally {
      stop();
    }
  });

  it('open-inference-v2: encodes a batch of one and decodes TensorValues without the batch dimension', async () => {
    routes.set('/v2/models/iris/versions/3/infer', (_req, res, body) => {
      const request = JSON.parse(body) as { inputs: { name: string; shape: number[]; datatype: string; data: number[] }[] };
      const x = request.inputs[0] as { data: number[] };
      json(res, 200, {
        model_name: 'iris',
        model_version: '3',
        outputs: [
          { name: 'probabilities', shape: [1, 3], datatype: 'FP32', data: [0.1, 0.2, x.data.length / 10] },
          { name: 'label', shape: [1], datatype: 'INT64', data: [2] },
          { name: 'flags', shape: [1, 2], datatype: 'BOOL', data: [true, false] },
        ],
      });
    });
    const model = remoteModel({ url: base, protocol: 'open-inference-v2', name: 'iris', version: '3' });
    const out = await model.infer({
      features: new Float32Array([5.1, 3.5, 1.4, 0.2]),
      ids: { data: [1n, 2n], dims: [2] },
      mask: [[true], [false]],
    });
    const request = JSON.parse(seen.at(-1)?.body ?? '{}');
    expect(request.inputs).toEqual([
      { name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.099999904632568, 3.5, 1.399999976158142, 0.20000000298023224] },
      { name: 'ids', shape: [1, 2], datatype: 'INT64', data: [1, 2] },
      { name: 'mask', shape: [1, 2, 1], datatype: 'BOOL', data: [true, false] },
    ]);
    expect(out.probabilities).toEqual({ type: 'float32', dims: [3], data: new Float32Array([0.1, 0.2, 0.4]) });
    expect(out.label).toEqual({ type: 'int64', dims: [], data: new BigInt64Array([2n]) });
    expect(out.flags).toEqual({ type: 'bool', dims: [2], data: [true, false] });
  });

  it('open-inference-v2: a wrong response shape is UPSTREAM, a bad input INVALID_INPUT before sending', async () => {
    routes.set('/v2/models/broken/infer', (_req, res) =>
      json(res, 200, { outputs: [{ name: 'y', shape: [1, 3], datatype: 'FP32', data: [1] }] }),
    );
    const model = remoteModel({ url: base, protocol: 'open-inference-v2', name: 'broken' });
    await expect(model.infer({ x: [1] })).rejects.toMatchObject({ code: 'UPSTREAM' });
    const before = seen.length;
    await expect(model.infer({ x: [[1, 2], [3]] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(model.infer({ x: { data: [1, 2, 3], dims: [2] } })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(seen.length).toBe(before);
  });

  it('an unreachable server is a retryable UPSTREAM error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const model = remoteModel({ url: `http://127.0.0.1:${port}/x`, name: 'gone' });
    await expect(model.infer({}, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'UPSTREAM', retryable: true });
  });

  it('rejects bad options with CONFIG naming the path', () => {
    expect(() => remoteModel({ url: 'not a url', name: 'x' })).toThrow(
      expect.objectContaining({ code: 'CONFIG', details: { path: 'url' } }),
    );
    expect(() => remoteModel({ url: base, name: '' })).toThrow(expect.objectContaining({ code: 'CONFIG', details: { path: 'name' } }));
  });
});

describe('remoteModel redirects', () => {
  // A second real server on another port: another origin.
  let other: Server;
  let otherBase: string;
  const otherSeen: { url: string; method: string; apiKey: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    other = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        otherSeen.push({ url: req.url ?? '', method: req.method ?? '', apiKey: req.headers['x-api-key'] as string | undefined, body });
        json(res, 200, { stolen: true });
      });
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    routes.set('/cross', (_req, res) => res.writeHead(307, { location: `${otherBase}/collect` }).end());
    routes.set('/same', (_req, res) => res.writeHead(307, { location: '/moved' }).end());
    routes.set('/moved', (req, res, body) => json(res, 200, { key: req.headers['x-api-key'], echoed: JSON.parse(body) }));
    routes.set('/see-other', (_req, res) => res.writeHead(303, { location: '/moved' }).end());
    routes.set('/loop', (_req, res) => res.writeHead(308, { location: '/loop' }).end());
  });

  afterAll(async () => {
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  });

  const headers = { 'x-api-key': 'secret-key' };

  it('follows none by default: a 307 to another origin is UPSTREAM naming the location, and nothing reaches it', async () => {
    const model = remoteModel({ url: `${base}/cross`, name: 'm', headers });
    const error = await model.infer({ x: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM', retryable: false, details: { status: 307, location: `${otherBase}/collect` } });
    expect((error as Error).message).toContain(`${otherBase}/collect`);
    // Same origin too: nothing is followed unless asked for.
    await expect(remoteModel({ url: `${base}/same`, name: 'm', headers }).infer({ x: 1 })).rejects.toMatchObject({
      code: 'UPSTREAM',
      details: { location: '/moved' },
    });
    expect(otherSeen).toEqual([]);
  });

  it("with redirects: 'same-origin' follows a same-origin 307 with method, body and headers, and still refuses another origin", async () => {
    const same = remoteModel({ url: `${base}/same`, name: 'm', headers, redirects: 'same-origin' });
    expect(await same.infer({ x: 2 })).toEqual({ key: 'secret-key', echoed: { x: 2 } });
    const cross = remoteModel({ url: `${base}/cross`, name: 'm', headers, redirects: 'same-origin' });
    const error = await cross.infer({ x: 3 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UPSTREAM', details: { status: 307 } });
    expect((error as Error).message).toMatch(/another origin/);
    expect(otherSeen).toEqual([]);
    // A 303 would turn the POST into a GET; a loop ends after 5 hops.
    await expect(remoteModel({ url: `${base}/see-other`, name: 'm', redirects: 'same-origin' }).infer({})).rejects.toMatchObject({
      code: 'UPSTREAM',
      details: { status: 303 },
    });
    const loops = seen.length;
    await expect(remoteModel({ url: `${base}/loop`, name: 'm', redirects: 'same-origin' }).infer({})).rejects.toThrow(
      /more than 5 redirects/,
    );
    expect(seen.length - loops).toBe(6);
  });
});
