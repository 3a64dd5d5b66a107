import 'reflect-metadata';
import { defineModel, type TensorValue } from '@ballast/core';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BallastModule } from './module.js';

type Row = Record<string, TensorValue>;

// Answers how many inputs each row had, so any well-formed request gets a real answer.
const identity = defineModel<Row, Row>({
  name: 'identity',
  version: '1',
  infer: async (row) => ({ count: { type: 'int32', dims: [1], data: Int32Array.of(Object.keys(row).length) } }),
});

let app: INestApplication;
let base: string;
let key: string;

beforeAll(async () => {
  const keys = apiKeys({ secret: 'fuzz-test-secret-with-at-least-32-chars', store: memoryKeyStore() });
  key = (await keys.create({ principalId: 'fuzzer', roles: ['infer'] })).key;
  @Module({ imports: [BallastModule.forRoot({ models: [identity], guard: createGuard({ keys }), v2: true, timeoutMs: 2_000 })] })
  class AppModule {}
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = await app.getUrl();
});

afterAll(async () => {
  await app?.close();
});

const tensor = fc.record(
  {
    name: fc.oneof(fc.constant('x'), fc.string({ maxLength: 8 }), fc.integer()),
    shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
    datatype: fc.oneof(fc.constantFrom('FP32', 'FP64', 'INT8', 'INT64', 'UINT64', 'BOOL', 'BYTES', 'FP16'), fc.string({ maxLength: 6 })),
    data: fc.oneof(
      fc.array(fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.string({ maxLength: 6 }), fc.constant(null)), { maxLength: 30 }),
      fc.array(fc.array(fc.double(), { maxLength: 4 }), { maxLength: 6 }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc
    .record(
      { id: fc.jsonValue({ maxDepth: 1 }), inputs: fc.array(tensor, { maxLength: 3 }), outputs: fc.jsonValue({ maxDepth: 2 }) },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('{', '{"inputs": [', '[]', 'null', '\u0000', '{"inputs":[{"name":"x","shape":[1e308],"datatype":"FP32","data":[]}]}'),
);
const path = fc.oneof(
  fc.constantFrom('/v2/models/identity/infer', '/v2/models/identity/versions/1/infer', '/v2/models/identity', '/v2/models/identity/ready'),
  fc.string({ maxLength: 12 }).map((s) => `/v2/models/${encodeURIComponent(s)}/infer`),
  fc.constantFrom('/v2/models/%E0%A4%A/infer', '/v2/health/ready', '/v2//infer', '/nope'),
);
const headers = fc.record(
  {
    authorization: fc.oneof(
      fc.constant(`Bearer ${'placeholder'}`),
      fc.string({ maxLength: 20 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, '')}`),
    ),
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/json; charset=utf-16',
      'application/x-www-form-urlencoded',
    ),
    'x-timeout-ms': fc.oneof(
      fc.constantFrom('0', '-5', 'NaN', '1e9', '10'),
      fc.string({ maxLength: 4 }).map((s) => s.replace(/[^\x21-\x7e]/g, '')),
    ),
    'x-request-id': fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x21-\x7e]/g, '')),
  },
  { requiredKeys: ['content-type'] },
);
const request = fc.record({ body, path, headers, method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'), authorized: fc.boolean() });

it('answers 1,000 random or malformed requests without a 5xx and keeps serving', { timeout: 60_000 }, async () => {
  const samples = fc.sample(request, { numRuns: 1_000, seed: 42 });
  const failures: string[] = [];
  const statuses = new Set<number>();
  const heapBefore = process.memoryUsage().heapUsed;
  // 16 requests in flight at a time.
  for (let i = 0; i < samples.length; i += 16) {
    await Promise.all(
      samples.slice(i, i + 16).map(async (sample) => {
        const sent: Record<string, string> = { ...sample.headers };
        if (sample.authorized) sent.authorization = `Bearer ${key}`;
        const response = await fetch(`${base}${sample.path}`, {
          method: sample.method,
          headers: sent,
          ...(sample.method === 'GET' ? {} : { body: sample.body }),
        });
        const text = await response.text();
        statuses.add(response.status);
        if (response.status >= 500 && !(response.status === 504 && sent['x-timeout-ms'] !== undefined)) {
          failures.push(`${response.status} ${sample.method} ${sample.path} ${sample.body.slice(0, 80)} -> ${text.slice(0, 120)}`);
        }
      }),
    );
  }
  expect(failures).toEqual([]);
  // The samples reach every layer: parsing, authentication, routing and validation.
  expect([...statuses]).toEqual(expect.arrayContaining([400, 401, 404]));
  // Still serving, correctly.
  const ok = await fetch(`${base}/v2/models/identity/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }),
  });
  expect(ok.status).toBe(200);
  // Loose bound: 1,000 requests must not leave tens of megabytes behind.
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
});
