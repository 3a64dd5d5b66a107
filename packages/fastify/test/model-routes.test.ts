import { ServerResponse } from 'node:http';
import { defineModel } from '@ballast/core';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ballastFastify } from '../src/index.js';

// Each model's infer route is also registered by its name; every name, version and spelling must
// still answer as the parametric routes do.
const echo = (name: string, version?: string) =>
  defineModel({
    name,
    ...(version === undefined ? {} : { version }),
    infer: async () => ({ y: { type: 'float32' as const, dims: [1], data: new Float32Array([1]) } }),
  });
const body = { inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] };

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function start(options: FastifyServerOptions = {}): Promise<string> {
  const app = Fastify(options);
  await app.register(ballastFastify({ models: [echo('mlp', '2'), echo('mlp', '1'), echo('odd:name'), echo('with space')] }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  close = () => app.close();
  return url;
}

async function infer(url: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('ballastFastify model routes', () => {
  it('answers 500 with a JSON body when an answer cannot be written, rather than leaving the request hanging', async () => {
    const app = Fastify();
    // Metadata that JSON cannot hold (a bigint): writing the answer throws.
    const metadata = { mlp: { inputs: [{ name: 'x', datatype: 'INT64', shape: [1n as unknown as number] }] } };
    // The 500's report goes nowhere: it is expected here.
    await app.register(ballastFastify({ models: [echo('mlp')], metadata, log: () => undefined }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const response = await fetch(`${url}/v2/models/mlp`, { signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: expect.any(String) });
  });

  it('answers every model by name, by version, and names a static path cannot hold', async () => {
    const url = await start();
    expect(await infer(url, '/v2/models/mlp/infer')).toMatchObject({ status: 200, body: { model_name: 'mlp', model_version: '2' } });
    expect(await infer(url, '/v2/models/mlp/versions/1/infer')).toMatchObject({ status: 200, body: { model_version: '1' } });
    expect(await infer(url, '/v2/models/odd%3Aname/infer')).toMatchObject({ status: 200, body: { model_name: 'odd:name' } });
    expect(await infer(url, '/v2/models/with%20space/infer')).toMatchObject({ status: 200, body: { model_name: 'with space' } });
    expect(await infer(url, '/v2/models/MLP/infer')).toMatchObject({
      status: 404,
      body: { error: expect.stringContaining('unknown model') },
    });
    expect(await infer(url, '/v2/models/other/infer')).toMatchObject({
      status: 404,
      body: { error: expect.stringContaining('unknown model') },
    });
  });

  it('sets every header of an answer through the reply, none on the Node response before it is written', async () => {
    const url = await start();
    // A header set on the Node response first sends all of Fastify's through Node's slower path.
    const setHeader = vi.spyOn(ServerResponse.prototype, 'setHeader');
    try {
      const ok = await fetch(`${url}/v2/models/mlp/infer`, {
        method: 'POST',
        headers: { 'x-request-id': 'abc' },
        body: JSON.stringify(body),
      });
      expect(ok.headers.get('x-request-id')).toBe('abc');
      const missing = await fetch(`${url}/v2/models/other/infer`, { method: 'POST', body: JSON.stringify(body) });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-request-id')).toMatch(/./);
      expect(missing.headers.get('x-ballast-error-code')).toBe('NOT_FOUND');
      expect(setHeader).not.toHaveBeenCalled();
    } finally {
      setHeader.mockRestore();
    }
  });

  it('answers as the parametric route does under a case-insensitive router', async () => {
    const url = await start({ routerOptions: { caseSensitive: false } });
    expect(await infer(url, '/v2/models/mlp/infer')).toMatchObject({ status: 200, body: { model_name: 'mlp' } });
    const upper = await infer(url, '/v2/models/MLP/infer');
    expect(upper).toMatchObject({ status: 404, body: { error: expect.stringContaining('unknown model "MLP"') } });
  });
});
