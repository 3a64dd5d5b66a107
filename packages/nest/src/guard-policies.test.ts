import 'reflect-metadata';
import { PassThrough } from 'node:stream';
import { defineModel, type TensorValue } from '@ballast/core';
import { apiKeys, auditLog, createGuard, memoryKeyStore } from '@ballast/guard';
import { type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BallastAuthGuard } from './auth-guard.js';
import { BallastContextInterceptor } from './interceptor.js';
import { BallastModule } from './module.js';

type Row = Record<string, TensorValue>;

const lines: Record<string, unknown>[] = [];
const sink = new PassThrough();
sink.on('data', (chunk: Buffer) => {
  for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
});

// Returns the text input with the caller's e-mail, to show output redaction.
const profile = defineModel<Row, Row>({
  name: 'profile',
  infer: async (row) => ({
    note: { type: 'string', dims: [], data: [`contact ${(row.email?.data as string[] | undefined)?.[0]}`] },
  }),
});
const slowish = defineModel<Row, Row>({
  name: 'slowish',
  infer: () => new Promise((resolve) => setTimeout(() => resolve({ done: { type: 'bool', dims: [], data: [true] } }), 400).unref()),
});

let app: INestApplication;
let base: string;
let key: string;

beforeAll(async () => {
  const keys = apiKeys({ secret: 'policies-test-secret-with-32-characters', store: memoryKeyStore() });
  key = (await keys.create({ principalId: 'crm', roles: ['infer'] })).key;
  const guard = createGuard({
    keys,
    input: { ranges: { age: { min: 0, max: 130 } }, maxBodyBytes: 2_000 },
    output: { patterns: [/[\w.]+@[\w.]+/g] },
    audit: auditLog({ sink, includeInputs: true, redact: { fields: ['email'] } }),
  });
  @Module({ imports: [BallastModule.forRoot({ models: [profile, slowish], guard, v2: true, timeoutMs: 5_000 })] })
  class AppModule {}
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = await app.getUrl();
});

afterAll(async () => {
  await app?.close();
});

function infer(model: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const person = (age: number) => ({
  inputs: [
    { name: 'email', shape: [1], datatype: 'BYTES', data: ['ada@example.com'] },
    { name: 'age', shape: [1], datatype: 'INT32', data: [age] },
  ],
});

it('redacts outputs and writes one audit line per request, inputs redacted', async () => {
  lines.length = 0;
  const response = await infer('profile', person(36), { 'x-request-id': 'audit-1' });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { outputs: { data: string[] }[] };
  expect(body.outputs[0]?.data).toEqual(['contact [REDACTED]']);
  await expect.poll(() => lines.length).toBe(1);
  expect(lines[0]).toMatchObject({
    requestId: 'audit-1',
    principal: 'crm',
    action: 'infer',
    model: 'profile',
    outcome: 'ok',
    status: 200,
    input: { email: '[REDACTED]', age: [36] },
  });
  expect(lines[0]?.inputHash).toMatch(/^[0-9a-f]{64}$/);
});

it('audits rejected requests too', async () => {
  lines.length = 0;
  const response = await fetch(`${base}/v2/models/profile/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(401);
  await expect.poll(() => lines.length).toBe(1);
  expect(lines[0]).toMatchObject({ principal: 'anonymous', model: 'profile', outcome: 'UNAUTHENTICATED', status: 401 });
});

it('answers 400 with the field path when an input is out of its range', async () => {
  const response = await infer('profile', person(200));
  expect(response.status).toBe(400);
  const body = (await response.json()) as { code: string; details: { issues: { path: string }[] } };
  expect(body.code).toBe('INVALID_INPUT');
  expect(body.details.issues[0]?.path).toBe('age[0]');
});

it('answers 413 above the guard body limit and above the body parser limit', async () => {
  const big = { inputs: [{ name: 'age', shape: [1, 1000], datatype: 'INT32', data: new Array(1000).fill(1) }] };
  const response = await infer('profile', big);
  expect(response.status).toBe(413);
  expect(((await response.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
  const huge = await infer('profile', `{"inputs":[],"pad":"${'x'.repeat(200_000)}"}`);
  expect(huge.status).toBe(413);
});

it('lets a caller shorten the budget with x-timeout-ms', async () => {
  const one = { inputs: [{ name: 'age', shape: [1], datatype: 'INT32', data: [1] }] };
  expect((await infer('slowish', one)).status).toBe(200);
  const response = await infer('slowish', one, { 'x-timeout-ms': '50' });
  expect(response.status).toBe(504);
});

it('audits a v2 request once when the app applies BallastAuthGuard and BallastContextInterceptor globally', async () => {
  const own: Record<string, unknown>[] = [];
  const keys = apiKeys({ secret: 'policies-test-secret-with-32-characters', store: memoryKeyStore() });
  const { key: globalKey } = await keys.create({ principalId: 'global', roles: ['infer'] });
  const guard = createGuard({ keys, audit: auditLog({ sink: { write: (line: string) => own.push(JSON.parse(line)) } }) });
  @Module({
    imports: [BallastModule.forRoot({ models: [profile], guard, v2: true })],
    providers: [
      { provide: APP_GUARD, useExisting: BallastAuthGuard },
      { provide: APP_INTERCEPTOR, useExisting: BallastContextInterceptor },
    ],
  })
  class GlobalModule {}
  const global = await NestFactory.create(GlobalModule, { logger: false });
  await global.listen(0, '127.0.0.1');
  try {
    const response = await fetch(`${await global.getUrl()}/v2/models/profile/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${globalKey}`, 'x-request-id': 'once-1' },
      body: JSON.stringify(person(40)),
    });
    expect(response.status).toBe(200);
    await expect.poll(() => own.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ requestId: 'once-1', principal: 'global', outcome: 'ok', status: 200 });
  } finally {
    await global.close();
  }
});
