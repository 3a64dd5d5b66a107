import { request as httpRequest } from 'node:http';
import type { Model, TensorValue } from '@ballast/core';
import { apiKeys, createGuard, type Guard, memoryKeyStore } from '@ballast/guard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * One HTTP test suite for every adapter over the serving core (Express, Nest, Fastify): the same
 * cases, over real sockets on 127.0.0.1, against each adapter's own server. An adapter that differs
 * on purpose says so in `differences`, with the reason next to the case.
 */

/** What an adapter factory is given. */
export interface SuiteServerOptions {
  /** The guard (authentication, limits, body size); none for the open server. */
  guard?: Guard;
}

/** A started server. */
export interface SuiteServer {
  /** `http://127.0.0.1:port`. */
  url: string;
  /** Begins the drain: new work answers 503 with `Connection: close` (the server keeps its socket). */
  drain(): Promise<void>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts `models` behind one adapter on 127.0.0.1. */
export type AdapterFactory = (models: readonly Model[], options: SuiteServerOptions) => Promise<SuiteServer>;

type Row = Record<string, TensorValue>;

/** Doubles `x` (FP32, declared): the batch counts calls, so a test can see one `inferBatch` per request. */
export function doublingModel(name = 'double'): Model<Row, Row> & { batchCalls: number; rowCalls: number } {
  const double = (row: Row): Row => ({
    y: {
      type: 'float32',
      dims: [...(row.x as TensorValue).dims],
      data: Float32Array.from((row.x as TensorValue).data as ArrayLike<number>, (v) => 2 * v),
    },
  });
  // A plain object rather than defineModel() (which freezes): it declares its inputs and outputs
  // as an ONNX model does, and datatypes are checked against them.
  const model = {
    name,
    version: '1',
    batchCalls: 0,
    rowCalls: 0,
    inputs: [{ name: 'x', type: 'float32', dims: ['batch', 2] }],
    outputs: [{ name: 'y', type: 'float32', dims: ['batch', 2] }],
    async infer(row: Row): Promise<Row> {
      model.rowCalls++;
      return double(row);
    },
    async inferBatch(rows: readonly Row[]): Promise<Row[]> {
      model.batchCalls++;
      return rows.map(double);
    },
  };
  return model;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read the JSON answer field by field
  body: any;
}

/** One request on a fresh connection (so `Connection: close` and the body are what the server sent). */
function call(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.pathname,
        method,
        agent: false,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parsed });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const v2 = (data: number[], rows: number, datatype = 'FP32') =>
  JSON.stringify({ id: 'r-1', inputs: [{ name: 'x', shape: [rows, 2], datatype, data }] });

/**
 * Runs the shared cases against one adapter.
 *
 * @param name the adapter's name (test titles).
 * @param start the adapter factory.
 */
export function httpSuite(name: string, start: AdapterFactory): void {
  describe(`${name}: the serving core over HTTP`, () => {
    const model = doublingModel();
    let open: SuiteServer;
    let guarded: SuiteServer;
    let draining: SuiteServer;
    const keys: Record<string, string> = {};

    beforeAll(async () => {
      const store = apiKeys({ secret: 'http-suite-secret-with-32-characters!', store: memoryKeyStore() });
      keys.infer = (await store.create({ principalId: 'app', roles: ['infer'] })).key;
      keys.read = (await store.create({ principalId: 'viewer', roles: ['read'] })).key;
      keys.tiny = (await store.create({ principalId: 'tiny', roles: ['infer'], attributes: { plan: 'tiny' } })).key;
      const guard = createGuard({
        keys: store,
        input: { maxBodyBytes: 2_000 },
        limits: { rate: { ratePerSecond: 1000, burst: 1000 }, plans: { tiny: { rate: { ratePerSecond: 0.001, burst: 1 } } } },
      });
      open = await start([model], {});
      guarded = await start([doublingModel()], { guard });
      draining = await start([doublingModel()], {});
    });
    afterAll(async () => {
      await Promise.all([open?.close(), guarded?.close(), draining?.close()]);
    });

    it('answers liveness and readiness', async () => {
      const live = await call(open.url, 'GET', '/v2/health/live');
      expect(live).toMatchObject({ status: 200, body: { live: true } });
      const ready = await call(open.url, 'GET', '/v2/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.ready).toBe(true);
      const modelReady = await call(open.url, 'GET', '/v2/models/double/ready');
      expect(modelReady).toMatchObject({ status: 200, body: { name: 'double', ready: true } });
    });

    it('describes a model (v2 metadata from its declared tensors)', async () => {
      const answer = await call(open.url, 'GET', '/v2/models/double');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        name: 'double',
        versions: ['1'],
        inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
        outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
      });
    });

    it('infers one row, echoing the request id and the v2 id', async () => {
      const answer = await call(open.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1), { 'x-request-id': 'suite-1' });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-request-id']).toBe('suite-1');
      expect(answer.body).toEqual({
        model_name: 'double',
        model_version: '1',
        id: 'r-1',
        outputs: [{ name: 'y', shape: [1, 2], datatype: 'FP32', data: [2, 4] }],
      });
    });

    it('gives every request an id when the caller sends none (or a malformed one)', async () => {
      const answer = await call(open.url, 'GET', '/v2/models/double', undefined, { 'x-request-id': 'bad id with spaces' });
      expect(answer.headers['x-request-id']).toMatch(/^[\w.:@/+=-]{1,128}$/);
      expect(answer.headers['x-request-id']).not.toBe('bad id with spaces');
    });

    it("infers a batch in one call of the model's inferBatch", async () => {
      const before = model.batchCalls;
      const answer = await call(open.url, 'POST', '/v2/models/double/versions/1/infer', v2([1, 2, 3, 4, 5, 6], 3));
      expect(answer.status).toBe(200);
      expect(answer.body.outputs).toEqual([{ name: 'y', shape: [3, 2], datatype: 'FP32', data: [2, 4, 6, 8, 10, 12] }]);
      expect(model.batchCalls - before).toBe(1);
    });

    it('answers 400 INVALID_INPUT for malformed JSON, a bad shape and a wrong datatype', async () => {
      const json = await call(open.url, 'POST', '/v2/models/double/infer', '{"inputs": [');
      expect(json.status).toBe(400);
      expect(json.body.code).toBe('INVALID_INPUT');
      const shape = await call(open.url, 'POST', '/v2/models/double/infer', v2([1, 2, 3], 1));
      expect(shape.status).toBe(400);
      expect(shape.body.details.issues[0].path).toBe('inputs[0].data');
      const datatype = await call(open.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1, 'FP64'));
      expect(datatype.status).toBe(400);
      expect(datatype.body).toMatchObject({ code: 'INVALID_INPUT', details: { input: 'x', expected: 'FP32', got: 'FP64' } });
    });

    it('answers 404 NOT_FOUND for an unknown model and version', async () => {
      const unknown = await call(open.url, 'POST', '/v2/models/nope/infer', v2([1, 2], 1));
      expect(unknown.status).toBe(404);
      // The protocol's error body: `error` is the message (what KServe and Triton clients read);
      // Ballast's code is a field of its own and a header.
      expect(unknown.body).toEqual({ error: 'unknown model "nope"', code: 'NOT_FOUND', details: { model: 'nope' } });
      expect(unknown.headers['x-ballast-error-code']).toBe('NOT_FOUND');
      const version = await call(open.url, 'GET', '/v2/models/double/versions/9');
      expect(version.status).toBe(404);
      expect(typeof version.body.error).toBe('string');
      expect(version.headers['x-ballast-error-code']).toBe('NOT_FOUND');
    });

    it('answers 401 without a key and 403 for a key without the infer permission', async () => {
      const none = await call(guarded.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1));
      expect(none.status).toBe(401);
      expect(none.body.code).toBe('UNAUTHENTICATED');
      const reader = await call(guarded.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1), { authorization: `Bearer ${keys.read}` });
      expect(reader.status).toBe(403);
      expect(reader.body.code).toBe('FORBIDDEN');
      const ok = await call(guarded.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1), { authorization: `Bearer ${keys.infer}` });
      expect(ok.status).toBe(200);
    });

    it("answers 413 for a body over the guard's limit", async () => {
      const big = v2(
        Array.from({ length: 2000 }, () => 1),
        1000,
      );
      const answer = await call(guarded.url, 'POST', '/v2/models/double/infer', big, { authorization: `Bearer ${keys.infer}` });
      expect(answer.status).toBe(413);
      expect(answer.body.code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('answers 429 with Retry-After when the principal is over its rate', async () => {
      const headers = { authorization: `Bearer ${keys.tiny}` };
      const first = await call(guarded.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1), headers);
      expect(first.status).toBe(200);
      const second = await call(guarded.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1), headers);
      expect(second.status).toBe(429);
      expect(second.body.code).toBe('RATE_LIMITED');
      expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('refuses the same model name and version twice', async () => {
      await expect(start([doublingModel(), doublingModel()], {})).rejects.toMatchObject({ code: 'CONFIG' });
    });

    it('counts every version for readiness, and bounds a health check that never answers', async () => {
      const unhealthy = {
        ...doublingModel(),
        version: '2',
        health: async () => ({ ready: false, status: 'unavailable' as const, message: 'warming up' }),
      };
      const hanging = { ...doublingModel('hang'), health: () => new Promise<never>(() => undefined) };
      const versions = await start([doublingModel(), unhealthy], {});
      const slow = await start([hanging], {});
      try {
        // Every version counts: a request may name the second one.
        const ready = await call(versions.url, 'GET', '/v2/health/ready');
        expect(ready.status).toBe(503);
        const second = await call(versions.url, 'GET', '/v2/models/double/versions/2/ready');
        expect(second.status).toBe(503);
        // The serving core's health-check timeout (2 s) answers for the check that never does.
        const started = Date.now();
        const hang = await call(slow.url, 'GET', '/v2/health/ready');
        expect(hang.status).toBe(503);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        await Promise.all([versions.close(), slow.close()]);
      }
    });

    it('answers 503 with Connection: close and Retry-After while draining', async () => {
      await draining.drain();
      const answer = await call(draining.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1));
      expect(answer.status).toBe(503);
      expect(answer.body.code).toBe('MODEL_UNAVAILABLE');
      expect(answer.headers.connection).toBe('close');
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const ready = await call(draining.url, 'GET', '/v2/health/ready');
      expect(ready.status).toBe(503);
    });
  });
}
