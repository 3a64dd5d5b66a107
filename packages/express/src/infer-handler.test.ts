import { defineModel } from '@ballast/core';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorHandler } from './errors.js';
import { inferHandler } from './infer-handler.js';
import { listen } from './test-server.js';

const scorer = defineModel({
  name: 'scorer',
  infer: async (input: { amount: number; email: string }) => ({ score: input.amount / 100, email: input.email }),
});

let base = '';
let close: () => Promise<void> = async () => {};
let key = '';

beforeAll(async () => {
  const keys = apiKeys({ secret: 'a-server-secret-that-is-long-enough!', store: memoryKeyStore() });
  key = (await keys.create({ principalId: 'app', roles: ['infer'] })).key;
  const guard = createGuard({ keys, output: { fields: ['email'] }, input: { maxBodyBytes: 200 } });
  const app = express();
  app.post('/score', inferHandler(scorer, { guard, schema: z.object({ amount: z.number().min(0), email: z.string() }) }));
  app.post('/open', inferHandler(scorer));
  const tensors = defineModel({
    name: 'tensors',
    infer: async () => ({
      probabilities: { type: 'float32', dims: [2], data: Float32Array.from([0.25, 0.75]) },
      ids: BigInt64Array.from([7n, 2n ** 60n]),
    }),
  });
  app.post('/tensors', inferHandler(tensors));
  app.get('/boom', () => {
    throw new Error('secret internals');
  });
  app.use(errorHandler());
  const started = await listen(app);
  base = started.url;
  close = started.close;
});

afterAll(() => close());

const send = (path: string, body: string, auth = true) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${key}` } : {}) },
    body,
  });

describe('inferHandler', () => {
  it('answers typed arrays as JSON arrays and int64 values as numbers (strings beyond 2^53)', async () => {
    const response = await send('/tensors', '{}', false);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      probabilities: { type: 'float32', dims: [2], data: [0.25, 0.75] },
      ids: [7, String(2n ** 60n)],
    });
  });

  it('validates, calls the model and redacts the answer', async () => {
    const response = await send('/score', JSON.stringify({ amount: 50, email: 'a@b.c' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{16}-[0-9a-z]+$/);
    expect(await response.json()).toEqual({ score: 0.5, email: '[REDACTED]' });
  });

  it('answers 400 with field paths, 401 without a key, 413 above the limit', async () => {
    const invalid = await send('/score', JSON.stringify({ amount: -1 }));
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: { details: { issues: { path: string }[] } } };
    expect(body.error.details.issues.map((i) => i.path).sort()).toEqual(['amount', 'email']);
    expect((await send('/score', '{}', false)).status).toBe(401);
    expect((await send('/score', JSON.stringify({ amount: 1, email: 'x'.repeat(300) }))).status).toBe(413);
    expect((await send('/open', 'not json')).status).toBe(400);
  });

  it('hides internal error messages behind the error handler', async () => {
    const response = await fetch(`${base}/boom`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
});
