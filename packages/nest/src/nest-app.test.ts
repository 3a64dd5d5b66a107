import 'reflect-metadata';
import { circuitBreaker } from '@ballast/client';
import { BallastError, defineModel, type InferOptions, type Model, pipeline, type TensorValue } from '@ballast/core';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { Body, Controller, type INestApplication, Logger, Module, Post, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BallastAuthGuard, BallastAuthorize } from './auth-guard.js';
import { BallastExceptionFilter } from './exception-filter.js';
import { BallastContextInterceptor } from './interceptor.js';
import { BallastModule } from './module.js';
import { InjectModel } from './tokens.js';

type Row = Record<string, TensorValue>;

// A real model over per-row tensors: y = 2x + b, where b is a second input (0 when absent).
const affine = defineModel<Row, Row>({
  name: 'affine',
  version: '1',
  infer: async (row) => {
    const x = row.x as TensorValue;
    const b = row.b?.data as ArrayLike<number> | undefined;
    const data = Float32Array.from(x.data as ArrayLike<number>, (v, i) => 2 * v + (b?.[i] ?? 0));
    return { y: { type: 'float32', dims: [...x.dims], data } };
  },
});

const slow = defineModel<unknown, unknown>({
  name: 'slow',
  infer: () => new Promise((resolve) => setTimeout(() => resolve({ late: true }), 5_000).unref()),
});

// An upstream that fails, behind the client's real circuit breaker: two failures open it.
const breaker = circuitBreaker({ consecutiveFailures: 2, openMs: 7_500 });
const broken = pipeline(
  defineModel<unknown, unknown>({
    name: 'broken',
    infer: async () => {
      throw new BallastError('UPSTREAM', 'the upstream answered 500');
    },
  }),
  breaker,
);

// A model that fails the way a tampered model file does: the message names a path on the server.
const tampered = defineModel<unknown, unknown>({
  name: 'tampered',
  infer: async () => {
    throw new BallastError('INTEGRITY', 'sha256 of /srv/models/private/fraud-v7.onnx does not match', {
      details: { path: '/srv/models/private/fraud-v7.onnx' },
    });
  },
});

const seen: InferOptions[] = [];
const echo = defineModel<{ text: string }, { text: string }>({
  name: 'echo',
  infer: async (input, options) => {
    if (options) seen.push(options);
    return { text: input.text };
  },
});

@Controller('echo')
@UseGuards(BallastAuthGuard)
@UseInterceptors(BallastContextInterceptor)
@UseFilters(BallastExceptionFilter)
class EchoController {
  constructor(@InjectModel('echo') private readonly model: Model<{ text: string }, { text: string }>) {}

  @Post()
  @BallastAuthorize({ action: 'infer', model: 'echo' })
  run(@Body() body: { text: string }) {
    return this.model.infer(body);
  }
}

let wallClock = Date.now();
let monotonic = 0;
const keys = apiKeys({ secret: 'a-test-secret-that-is-long-enough-32+', store: memoryKeyStore(), clock: () => wallClock });
const guard = createGuard({
  keys,
  limits: {
    rate: { ratePerSecond: 1_000, burst: 1_000 },
    plans: { tight: { rate: { ratePerSecond: 1, burst: 3 } } },
    clock: () => monotonic,
  },
});

@Module({
  imports: [BallastModule.forRoot({ models: [affine, slow, broken, echo, tampered], guard, v2: true, timeoutMs: 300 })],
  controllers: [EchoController],
})
class AppModule {}

let app: INestApplication;
let base: string;
let key: string;
let readOnlyKey: string;

beforeAll(async () => {
  key = (await keys.create({ principalId: 'checkout', roles: ['infer'] })).key;
  readOnlyKey = (await keys.create({ principalId: 'dashboard', roles: ['read'] })).key;
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = await app.getUrl();
});

afterAll(async () => {
  await app?.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${key}` }) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** An answer body: an error, or whatever the route returns. */
interface Answer {
  error: string;
  code: string;
  details: Record<string, unknown>;
  [field: string]: unknown;
}
const read = async (response: Response): Promise<Answer> => (await response.json()) as Answer;

const v2Body = {
  id: 'req-42',
  inputs: [
    { name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
    { name: 'b', shape: [2, 3], datatype: 'FP32', data: [0.5, 0.5, 0.5, -1, -1, -1] },
  ],
};

describe('authentication and authorization', () => {
  it('answers 401 UNAUTHENTICATED for a missing key', async () => {
    const response = await post('/v2/models/affine/infer', v2Body, {});
    expect(response.status).toBe(401);
    const body = await read(response);
    expect(body.code).toBe('UNAUTHENTICATED');
    expect(body.details.reason).toBe('missing');
  });

  it('answers 401 for a wrong key', async () => {
    const wrong = `${key.slice(0, -4)}AAAA`;
    const response = await post('/v2/models/affine/infer', v2Body, { 'x-api-key': wrong });
    expect(response.status).toBe(401);
    expect((await read(response)).details.reason).toBe('invalid');
  });

  it('answers 401 for a revoked key', async () => {
    const created = await keys.create({ principalId: 'old', roles: ['infer'] });
    expect((await post('/v2/models/affine/infer', v2Body, { authorization: `Bearer ${created.key}` })).status).toBe(200);
    await keys.revoke(created.record.id);
    const response = await post('/v2/models/affine/infer', v2Body, { authorization: `Bearer ${created.key}` });
    expect(response.status).toBe(401);
    expect((await read(response)).details.reason).toBe('revoked');
  });

  it('answers 401 for an expired key', async () => {
    const created = await keys.create({ principalId: 'temp', roles: ['infer'], expiresInMs: 60_000 });
    expect((await post('/v2/models/affine/infer', v2Body, { authorization: `Bearer ${created.key}` })).status).toBe(200);
    wallClock += 61_000;
    const response = await post('/v2/models/affine/infer', v2Body, { authorization: `Bearer ${created.key}` });
    expect(response.status).toBe(401);
    expect((await read(response)).details.reason).toBe('expired');
  });

  it('answers 403 FORBIDDEN for a key without the grant, and lets it read metadata', async () => {
    const response = await post('/v2/models/affine/infer', v2Body, { authorization: `Bearer ${readOnlyKey}` });
    expect(response.status).toBe(403);
    const body = await read(response);
    expect(body).toMatchObject({ code: 'FORBIDDEN', details: { action: 'infer', model: 'affine', principal: 'dashboard' } });
    const metadata = await fetch(`${base}/v2/models/affine`, { headers: { authorization: `Bearer ${readOnlyKey}` } });
    expect(metadata.status).toBe(200);
    expect(await read(metadata)).toMatchObject({ name: 'affine', versions: ['1'] });
  });

  it('answers 429 with Retry-After when the principal exceeds its rate', async () => {
    const limited = (await keys.create({ principalId: 'busy', roles: ['infer'], attributes: { plan: 'tight' } })).key;
    const headers = { authorization: `Bearer ${limited}` };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post('/v2/models/affine/infer', v2Body, headers)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const response = await post('/v2/models/affine/infer', v2Body, headers);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await read(response)).code).toBe('RATE_LIMITED');
    monotonic += 1_000; // one token back
    expect((await post('/v2/models/affine/infer', v2Body, headers)).status).toBe(200);
  });
});

describe('Open Inference Protocol v2', () => {
  it('round-trips an infer request: rows split, outputs stacked, id echoed', async () => {
    const response = await post('/v2/models/affine/infer', v2Body);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/./);
    const body = await read(response);
    expect(body).toEqual({
      model_name: 'affine',
      model_version: '1',
      id: 'req-42',
      outputs: [{ name: 'y', shape: [2, 3], datatype: 'FP32', data: [2.5, 4.5, 6.5, 7, 9, 11] }],
    });
  });

  it('serves a named version and 404s an unknown one', async () => {
    expect((await post('/v2/models/affine/versions/1/infer', v2Body)).status).toBe(200);
    const response = await post('/v2/models/affine/versions/9/infer', v2Body);
    expect(response.status).toBe(404);
    expect(await read(response)).toMatchObject({ code: 'NOT_FOUND', details: { model: 'affine', version: '9' } });
  });

  it('answers 404 NOT_FOUND for an unknown model', async () => {
    const response = await post('/v2/models/nope/infer', v2Body);
    expect(response.status).toBe(404);
    expect((await read(response)).code).toBe('NOT_FOUND');
  });

  it('answers 400 INVALID_INPUT for malformed JSON', async () => {
    const response = await post('/v2/models/affine/infer', '{"inputs": [');
    expect(response.status).toBe(400);
    expect(await read(response)).toMatchObject({ code: 'INVALID_INPUT', details: { reason: 'malformed-json' } });
  });

  it('answers 400 with the field path for a schema violation', async () => {
    const bad = { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 'two', 3] }] };
    const response = await post('/v2/models/affine/infer', bad);
    expect(response.status).toBe(400);
    const error = await read(response);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.details.issues).toEqual([expect.objectContaining({ path: 'inputs[0].data[1]' })]);
    const short = { inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3] }] };
    const second = await read(await post('/v2/models/affine/infer', short));
    expect(second.details.issues).toEqual([expect.objectContaining({ path: 'inputs[0].data' })]);
    const envelope = await read(await post('/v2/models/affine/infer', { inputs: [{ name: 'x', shape: 'wide' }] }));
    expect(envelope.code).toBe('INVALID_INPUT');
    expect(envelope.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'inputs[0].shape' })]));
  });

  it('answers 502 while the upstream fails, then 503 with Retry-After once the breaker opens', async () => {
    const body = { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] };
    expect((await post('/v2/models/broken/infer', body)).status).toBe(502);
    expect((await post('/v2/models/broken/infer', body)).status).toBe(502);
    expect(breaker.state()).toBe('open');
    const response = await post('/v2/models/broken/infer', body);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('8');
    expect((await read(response)).code).toBe('CIRCUIT_OPEN');
    // Readiness reports the open breaker: load balancers stop sending traffic here.
    const ready = await fetch(`${base}/v2/models/broken/ready`, { headers: { 'x-api-key': key } });
    expect(ready.status).toBe(503);
    expect(await read(ready)).toMatchObject({ name: 'broken', ready: false });
    const all = await fetch(`${base}/v2/health/ready`);
    expect(all.status).toBe(503);
    breaker.reset();
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
  });

  it('answers 504 TIMEOUT when the request budget runs out', async () => {
    const body = { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] };
    const started = performance.now();
    const response = await post('/v2/models/slow/infer', body);
    expect(response.status).toBe(504);
    expect((await read(response)).code).toBe('TIMEOUT');
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('answers 500 without the message or details of an INTEGRITY error, and logs the error', async () => {
    const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => {});
    try {
      const body = { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] };
      const response = await post('/v2/models/tampered/infer', body);
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal error', code: 'INTEGRITY' });
      expect(text).not.toContain('/srv/models');
      expect(logged).toHaveBeenCalledWith(expect.stringContaining('/srv/models/private/fraud-v7.onnx does not match'));
    } finally {
      logged.mockRestore();
    }
  });

  it('reports health without a key and model readiness with one', async () => {
    expect(await read(await fetch(`${base}/v2/health/live`))).toEqual({ live: true });
    const ready = await fetch(`${base}/v2/health/ready`);
    expect(ready.status).toBe(200);
    // The serving core's answer, as under Express and Fastify: every model's readiness by name.
    expect(await read(ready)).toEqual({
      ready: true,
      models: { affine: { ready: true }, slow: { ready: true }, broken: { ready: true }, echo: { ready: true }, tampered: { ready: true } },
    });
    const model = await fetch(`${base}/v2/models/affine/ready`, { headers: { 'x-api-key': key } });
    expect(await read(model)).toEqual({ name: 'affine', version: '1', ready: true });
    expect((await fetch(`${base}/v2/models/affine/ready`)).status).toBe(401);
  });
});

describe('request context', () => {
  it('carries the principal, request id and route into the model options', async () => {
    seen.length = 0;
    const response = await post('/echo', { text: 'hi' }, { authorization: `Bearer ${key}`, 'x-request-id': 'trace-7' });
    expect(response.status).toBe(201);
    expect(await read(response)).toEqual({ text: 'hi' });
    expect(response.headers.get('x-request-id')).toBe('trace-7');
    const options = seen[0] as InferOptions;
    expect(options.principal?.id).toBe('checkout');
    expect(options.attributes).toMatchObject({
      'ballast.request.id': 'trace-7',
      'http.route': 'POST /echo',
      'http.request.method': 'POST',
    });
    expect(typeof options.deadline).toBe('number');
  });

  it('replaces a malformed request id with a generated one', async () => {
    const response = await post('/echo', { text: 'x' }, { authorization: `Bearer ${key}`, 'x-request-id': 'bad id with spaces' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
