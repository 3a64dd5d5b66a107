import 'reflect-metadata';
import net from 'node:net';
import { defineModel, type TensorValue } from '@ballast/core';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/*
 * Targeted attacks: each drives a whole class of requests at a real Nest application and checks
 * the rule that class must follow.
 */
describe('attacking the v2 routes', () => {
  const DATATYPES = ['FP32', 'FP64', 'FP16', 'INT8', 'UINT8', 'INT16', 'UINT16', 'INT32', 'UINT32', 'INT64', 'UINT64', 'BOOL', 'BYTES'];
  const rowsModel = defineModel<Row, Row>({
    name: 'rows',
    infer: async () => {
      // Slower than the signal grace period: every row's deadline scope watches the request signal.
      await new Promise((resolve) => setTimeout(resolve, 3));
      return { y: { type: 'float32', dims: [1], data: Float32Array.of(1) } };
    },
  });

  async function start(
    options: Partial<Parameters<typeof BallastModule.forRoot>[0]> & { models: Parameters<typeof BallastModule.forRoot>[0]['models'] },
  ) {
    @Module({ imports: [BallastModule.forRoot({ v2: true, ...options })] })
    class AttackModule {}
    const attacked = await NestFactory.create(AttackModule, { logger: false });
    await attacked.listen(0, '127.0.0.1');
    return { attacked, url: await attacked.getUrl() };
  }

  it('refuses every datatype but the declared one for a typed input, naming the input', { timeout: 30_000 }, async () => {
    const mlp = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [4, 8, 2] }) }), name: 'mlp' });
    const { attacked, url } = await start({ models: [mlp] });
    try {
      const samples = fc.sample(fc.record({ datatype: fc.constantFrom(...DATATYPES), rows: fc.integer({ min: 1, max: 3 }) }), {
        numRuns: 200,
        seed: 7,
      });
      for (const { datatype, rows } of samples) {
        const data = Array.from({ length: rows * 4 }, (_, i) => (datatype === 'BOOL' ? i % 2 === 0 : datatype === 'BYTES' ? 'a' : i));
        const response = await fetch(`${url}/v2/models/mlp/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'input', shape: [rows, 4], datatype, data }] }),
        });
        const answer = (await response.json()) as { details?: { input?: string } };
        if (datatype === 'FP32') expect(response.status).toBe(200);
        else {
          expect(response.status, datatype).toBe(400);
          expect(answer.details?.input).toBe('input');
        }
      }
    } finally {
      await attacked.close();
    }
  });

  it('serves random large batches at 16 connections without a listener warning', { timeout: 30_000 }, async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const { attacked, url } = await start({ models: [rowsModel], maxBatchSize: 512, timeoutMs: 10_000 });
    try {
      const sizes = fc.sample(fc.constantFrom(11, 64, 200, 512), { numRuns: 96, seed: 9 });
      const statuses: number[] = [];
      for (let i = 0; i < sizes.length; i += 16) {
        await Promise.all(
          sizes.slice(i, i + 16).map(async (rows) => {
            const response = await fetch(`${url}/v2/models/rows/infer`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 1], datatype: 'FP32', data: new Array(rows).fill(1) }] }),
            });
            await response.arrayBuffer();
            statuses.push(response.status);
          }),
        );
      }
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await attacked.close();
    }
  });

  it('closes slow clients when drainTimeoutMs is over, so shutdown does not wait on them', { timeout: 30_000 }, async () => {
    const { attacked, url } = await start({ models: [rowsModel], drainTimeoutMs: 500 });
    const port = Number(new URL(url).port);
    const lengths = fc.sample(fc.integer({ min: 50, max: 50_000 }), { numRuns: 6, seed: 3 });
    const sockets = lengths.map((length) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        `POST /v2/models/rows/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"inputs": [`,
      );
      return socket;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await attacked.close();
    expect(Date.now() - started).toBeLessThan(2_500);
    for (const socket of sockets) socket.destroy();
  });
});
