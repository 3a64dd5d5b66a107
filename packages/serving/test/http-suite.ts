import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { remoteModel } from '@ballast/client';
import { BallastError, defineModel, type Model, type TensorValue } from '@ballast/core';
import { apiKeys, auditLog, createGuard, type Guard, memoryKeyStore } from '@ballast/guard';
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

/** One server-sent event as a client parsed it, with when it arrived (`performance.now()`). */
interface ReceivedEvent {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read the event's JSON field by field
  data: any;
  at: number;
}

/** A streaming request: the status, headers and JSON body (not a stream) or the events as they arrived. */
interface StreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read the JSON answer field by field
  body: any;
  events: ReceivedEvent[];
}

/**
 * POSTs `body` asking for a stream and parses the event stream as it arrives. `stopAfter` events,
 * the client goes away (destroys its socket) and the answer resolves with what it had.
 */
function callStream(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  stopAfter?: number,
): Promise<StreamAnswer & { goneAt?: number }> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (response) => {
        const events: ReceivedEvent[] = [];
        let text = '';
        let buffer = '';
        const streaming = String(response.headers['content-type']).startsWith('text/event-stream');
        const done = (goneAt?: number) => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: streaming ? undefined : parsed,
            events,
            ...(goneAt === undefined ? {} : { goneAt }),
          });
        };
        response.setEncoding('utf8');
        response.on('data', (part: string) => {
          if (!streaming) {
            text += part;
            return;
          }
          buffer += part;
          let end = buffer.indexOf('\n\n');
          while (end !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            events.push({ event, data: JSON.parse(data), at: performance.now() });
            end = buffer.indexOf('\n\n');
            if (stopAfter !== undefined && events.length === stopAfter) {
              const goneAt = performance.now();
              request.destroy();
              done(goneAt);
              return;
            }
          }
        });
        response.on('end', () => done());
        response.on('error', () => undefined);
      },
    );
    request.on('error', (error) => {
      if (!request.destroyed || stopAfter === undefined) reject(error);
    });
    request.end(JSON.stringify(body));
  });
}

/** What an OpenAI-compatible upstream served: when each response closed, and whether it finished. */
interface UpstreamResponse {
  /** Events written so far. */
  written: number;
  /** When the last event was written (`performance.now()`). */
  lastWriteAt: number;
  /** Resolves when the response closed: `finished` false when its client went away first. */
  closed: Promise<{ finished: boolean; at: number }>;
}

/**
 * A real OpenAI-compatible chat server on 127.0.0.1 streaming `words` as chat chunks, `gapMs`
 * apart, then a usage chunk and `data: [DONE]`.
 */
async function startChatUpstream(words: readonly string[], gapMs: number) {
  const responses: UpstreamResponse[] = [];
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', async () => {
      const served: UpstreamResponse = {
        written: 0,
        lastWriteAt: 0,
        closed: new Promise((resolve) =>
          response.on('close', () => resolve({ finished: response.writableFinished, at: performance.now() })),
        ),
      };
      responses.push(served);
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (payload: unknown) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'upstream', ...(payload as object) })}\n\n`;
      const events = [
        ...words.map((word) => chunk({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })),
        chunk({ choices: [], usage: { prompt_tokens: 7, completion_tokens: words.length, total_tokens: 7 + words.length } }),
        'data: [DONE]\n\n',
      ];
      for (const [index, event] of events.entries()) {
        if (response.destroyed) return;
        response.write(event);
        served.written++;
        served.lastWriteAt = performance.now();
        if (index < words.length) await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    responses,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A model whose stream yields `before` chunks, then fails with `error` (or waits `hangMs` after them). */
function scriptedStreamModel(name: string, before: number, error: BallastError | undefined, hangMs = 0): Model<unknown, string> {
  return defineModel<unknown, string>({
    name,
    infer: async () => 'whole',
    async *stream(_input, options) {
      for (let index = 0; index < before; index++) yield { text: `part-${index}` };
      if (hangMs > 0)
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, hangMs);
          options?.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve(undefined);
          });
        });
      if (error !== undefined) throw error;
      return { output: 'done', usage: { outputTokens: before } };
    },
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
      // The serving core's answer in every adapter: the server's readiness and each model's.
      expect(ready.body).toEqual({ ready: true, models: { double: { ready: true } } });
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

    it('cancels a single-row model call when its client goes away, and serves other connections on', async () => {
      // The model waits for its call's signal: it is aborted when the connection closes.
      let entered: () => void = () => undefined;
      const started = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let abortedAfterMs: number | undefined;
      const waiting = {
        name: 'waits',
        inputs: [{ name: 'x', type: 'float32', dims: ['batch', 2] }],
        outputs: [{ name: 'y', type: 'float32', dims: ['batch', 2] }],
        infer(row: Row, options?: { signal?: AbortSignal }): Promise<Row> {
          entered();
          const at = performance.now();
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => resolve(row), 5_000);
            options?.signal?.addEventListener('abort', () => {
              abortedAfterMs = performance.now() - at;
              clearTimeout(timer);
              reject(options.signal?.reason);
            });
          });
        },
      } as unknown as Model;
      const server = await start([waiting, doublingModel()], {});
      try {
        const body = v2([1, 2], 1);
        const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
        socket.on('error', () => undefined);
        socket.write(
          `POST /v2/models/waits/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
        await started;
        socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(abortedAfterMs).toBeDefined();
        expect(abortedAfterMs).toBeLessThan(1_000);
        const answer = await call(server.url, 'POST', '/v2/models/double/infer', v2([1, 2], 1));
        expect(answer.status).toBe(200);
      } finally {
        await server.close();
      }
    });

    it('answers 408 with a JSON body, within the budget, to a client that sends its body too slowly', async () => {
      // The headers arrive at once, then a third of the body, then nothing: the core reads the
      // body within the request's budget (300 ms here, from x-timeout-ms) and answers 408.
      const body = v2([1, 2], 1);
      const head = [
        'POST /v2/models/double/infer HTTP/1.1',
        `Host: 127.0.0.1:${new URL(open.url).port}`,
        'Content-Type: application/json',
        `Content-Length: ${body.length}`,
        'X-Timeout-Ms: 300',
        '',
        '',
      ].join('\r\n');
      const started = performance.now();
      const socket = connect(Number(new URL(open.url).port), '127.0.0.1');
      socket.write(head + body.slice(0, body.length / 3));
      const text = await new Promise<string>((resolve, reject) => {
        let received = '';
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(received);
        }, 3_000);
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          received += chunk;
        });
        socket.on('error', reject);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(received);
        });
      });
      const elapsed = performance.now() - started;
      const [headerText = '', bodyText = ''] = text.split('\r\n\r\n');
      expect(headerText).toMatch(/^HTTP\/1\.1 408 /);
      expect(headerText.toLowerCase()).toContain('connection: close');
      expect(JSON.parse(bodyText)).toMatchObject({ code: 'TIMEOUT', details: { reason: 'body-timeout' } });
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
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

  describe(`${name}: event streams from the generate route`, () => {
    const words = ['Circuit', ' breakers', ' stop', ' cascading', ' failures', '.'];
    const GAP_MS = 60;
    let upstream: Awaited<ReturnType<typeof startChatUpstream>>;
    let server: SuiteServer;
    let audited: SuiteServer;
    const lines: Record<string, unknown>[] = [];
    let key = '';

    beforeAll(async () => {
      upstream = await startChatUpstream(words, GAP_MS);
      const chat = () => remoteModel({ url: upstream.url, protocol: 'openai', name: 'chat' });
      const models = [
        chat(),
        scriptedStreamModel('fails-late', 2, new BallastError('UPSTREAM', 'the upstream cut the stream')),
        scriptedStreamModel('fails-early', 0, new BallastError('RATE_LIMITED', 'upstream is busy', { retryAfterMs: 2000 })),
        scriptedStreamModel('slow', 1, undefined, 10_000),
        defineModel({ name: 'huge', infer: async () => ({ count: 2n ** 70n }) }),
      ];
      server = await start(models, {});
      const store = apiKeys({ secret: 'http-suite-secret-with-32-characters!', store: memoryKeyStore() });
      key = (await store.create({ principalId: 'streamer', roles: ['infer'] })).key;
      const sink = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
      audited = await start([chat()], { guard: createGuard({ keys: store, audit: auditLog({ sink }) }) });
    });
    afterAll(async () => {
      await Promise.all([server?.close(), audited?.close()]);
      await upstream?.close();
    });

    it('answers 500 with a JSON error body when a JSON answer cannot be written (a bigint in the output), and does not hang', async () => {
      const answer = await call(server.url, 'POST', '/v2/models/huge/generate', JSON.stringify({ prompt: 'x' }));
      expect(answer.status).toBe(500);
      expect(answer.body).toMatchObject({ error: expect.any(String) });
    }, 5_000);

    it('sends each chunk as its own event, in order, before the upstream finished, then usage in the end event', async () => {
      const answer = await callStream(server.url, '/v2/models/chat/generate', {
        messages: [{ role: 'user', content: 'Why?' }],
        stream: true,
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^text\/event-stream/);
      const chunks = answer.events.filter((event) => event.event === 'message');
      expect(chunks.map((event) => event.data.text)).toEqual(words);
      const end = answer.events.at(-1) as ReceivedEvent;
      expect(end.event).toBe('end');
      expect(end.data.usage).toEqual({ inputTokens: 7, outputTokens: words.length, totalTokens: 7 + words.length });
      // The first event arrived while the upstream was still writing (its last word is GAP_MS × 5 later).
      const served = upstream.responses.at(-1) as UpstreamResponse;
      expect((chunks[0] as ReceivedEvent).at).toBeLessThan(served.lastWriteAt);
      const gaps = chunks.slice(1).map((event, index) => event.at - (chunks[index] as ReceivedEvent).at);
      expect(Math.max(...gaps)).toBeGreaterThan(GAP_MS / 2);
    });

    it('asks for a stream with Accept: text/event-stream too, and answers JSON without either', async () => {
      const accepted = await callStream(server.url, '/v2/models/fails-late/generate', {}, { accept: 'text/event-stream' });
      expect(accepted.headers['content-type']).toMatch(/^text\/event-stream/);
      const json = await callStream(server.url, '/v2/models/slow/generate', { prompt: 'x' });
      expect(json.status).toBe(200);
      expect(json.body).toEqual({ model_name: 'slow', output: 'whole' });
    });

    it('ends a stream that fails after the first chunk with a typed error event', async () => {
      const answer = await callStream(server.url, '/v2/models/fails-late/generate', { stream: true });
      expect(answer.status).toBe(200);
      expect(answer.events.map((event) => event.event)).toEqual(['message', 'message', 'error']);
      expect(answer.events[2]?.data).toEqual({ error: { code: 'UPSTREAM', message: 'the upstream cut the stream' } });
    });

    it('answers a JSON error with its status when the stream fails before the first chunk', async () => {
      const answer = await callStream(server.url, '/v2/models/fails-early/generate', { stream: true });
      expect(answer.status).toBe(429);
      expect(answer.headers['content-type']).toMatch(/json/);
      // A /v2 route: the Open Inference Protocol's error shape, the code beside it and in a header.
      expect(answer.body).toMatchObject({ error: expect.any(String), code: 'RATE_LIMITED' });
      expect(answer.headers['x-ballast-error-code']).toBe('RATE_LIMITED');
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('ends the stream with a TIMEOUT error event when the request budget runs out', async () => {
      const started = performance.now();
      // The client's x-timeout-ms shortens the request budget (30 s by default) to 300 ms.
      const answer = await callStream(server.url, '/v2/models/slow/generate', { stream: true }, { 'x-timeout-ms': '300' });
      expect(answer.events.map((event) => event.event)).toEqual(['message', 'error']);
      expect(answer.events[1]?.data.error.code).toBe('TIMEOUT');
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it('aborts the upstream stream within 50 ms of the client going away', async () => {
      // Measured on the upstream server: from the client destroying its socket to the upstream
      // response closing. Three disconnects, the median compared (one may land on a busy CI tick).
      const delays: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const before = upstream.responses.length;
        const answer = await callStream(
          server.url,
          '/v2/models/chat/generate',
          { messages: [{ role: 'user', content: 'Why?' }], stream: true },
          {},
          2,
        );
        const served = upstream.responses[before] as UpstreamResponse;
        const closed = await served.closed;
        expect(closed.finished).toBe(false);
        expect(served.written).toBeLessThan(words.length);
        delays.push(closed.at - (answer.goneAt as number));
      }
      delays.sort((a, b) => a - b);
      expect(delays[1]).toBeLessThan(50);
    });

    it('writes the audit line at the end, with the usage and the outcome', async () => {
      const answer = await callStream(
        audited.url,
        '/v2/models/chat/generate',
        { messages: [{ role: 'user', content: 'Why?' }], stream: true },
        { authorization: `Bearer ${key}` },
      );
      expect(answer.events.at(-1)?.event).toBe('end');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(lines.at(-1)).toMatchObject({
        principal: 'streamer',
        action: 'infer',
        model: 'chat',
        outcome: 'ok',
        status: 200,
        usage: { inputTokens: 7, outputTokens: words.length, totalTokens: 7 + words.length },
      });
    });
  });
}
