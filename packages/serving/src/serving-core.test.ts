import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { defineModel } from '@ballast/core';
import { type AuditLog, createGuard } from '@ballast/guard';
import { describe, expect, it } from 'vitest';
import { readJsonBodyNow } from './read-json-body.js';
import { createServingCore, type ServingAnswer, type ServingCoreOptions, type ServingExchange } from './serving-core.js';

const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] });
const model = defineModel({
  name: 'm',
  infer: async () => ({ y: { type: 'float32' as const, dims: [1], data: new Float32Array([2]) } }),
});

// A request as a small one arrives: headers and body in one packet, the body buffered in full.
function requestOf(path: string): { request: IncomingMessage; response: ServerResponse } {
  const request = new IncomingMessage(new Socket());
  request.headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  request.method = 'POST';
  request.url = path;
  request.push(Buffer.from(body));
  request.push(null);
  request.complete = true;
  return { request, response: new ServerResponse(request) };
}

// An adapter's exchange that writes answers itself; `write` may throw, as a framework's writer does
// for an answer JSON cannot hold.
function responding(path: string, write: (answer: ServingAnswer) => void) {
  const { request, response } = requestOf(path);
  const written: ServingAnswer[] = [];
  const exchange: ServingExchange = {
    request,
    response,
    readBody: (limit, deadline) => readJsonBodyNow(request, limit ?? 1 << 20, deadline),
    respond(answer) {
      written.push(answer);
      write(answer);
    },
  };
  return { exchange, written, response };
}

const quiet: Pick<ServingCoreOptions, 'log'> = { log: () => undefined };

// An audit log whose sink throws (the built-in one never does; an app's own may).
const failingAudit: AuditLog = {
  record() {
    throw new Error('the audit sink is gone');
  },
  failures: 0,
  async close() {},
};

describe('createServingCore: an exchange that responds', () => {
  it('gets the answer of every model route once, the same the route resolves to', async () => {
    const core = createServingCore({ models: [model] });
    const infer = responding('/v2/models/m/infer', () => undefined);
    const answer = await core.infer(infer.exchange, 'm', undefined);
    expect(infer.written).toEqual([answer]);
    expect(answer).toMatchObject({ status: 200, body: { model_name: 'm', outputs: [{ name: 'y', data: [2] }] } });
    const metadata = responding('/v2/models/m', () => undefined);
    expect(infer.written).toHaveLength(1);
    expect(metadata.written).toEqual([await core.metadata(metadata.exchange, 'm', undefined)]);
    const missing = responding('/v2/models/nope/infer', () => undefined);
    await core.infer(missing.exchange, 'nope', undefined);
    expect(missing.written).toEqual([expect.objectContaining({ status: 404 })]);
  });

  it('gets the error answer when it cannot write an answer, and the route still resolves', async () => {
    const core = createServingCore({ models: [model], ...quiet });
    let calls = 0;
    const flaky = responding('/v2/models/m/infer', () => {
      if (++calls === 1) throw new TypeError('Do not know how to serialize a BigInt');
    });
    const answer = await core.infer(flaky.exchange, 'm', undefined);
    expect(flaky.written.map((a) => a.status)).toEqual([200, 500]);
    expect(answer).toMatchObject({ status: 500, body: { error: expect.any(String) } });
  });

  it('destroys the response when even the error answer cannot be written, without a rejection', async () => {
    const core = createServingCore({ models: [model], ...quiet });
    const broken = responding('/v2/models/m/infer', () => {
      throw new Error('the framework cannot write');
    });
    await expect(core.infer(broken.exchange, 'm', undefined)).resolves.toMatchObject({ status: 500 });
    expect(broken.written).toHaveLength(2);
    expect(broken.response.destroyed).toBe(true);
  });

  it('answers 500 through it when the audit line cannot be written, and when the report hook throws', async () => {
    const guard = createGuard({ anonymous: { id: 'anyone', roles: ['infer'] }, audit: failingAudit });
    const core = createServingCore({
      models: [model],
      guard,
      onError: () => {
        throw new Error('the report hook fails too');
      },
    });
    const audited = responding('/v2/models/m/infer', () => undefined);
    await expect(core.infer(audited.exchange, 'm', undefined)).resolves.toMatchObject({ status: 500 });
    expect(audited.written).toEqual([expect.objectContaining({ status: 500, body: expect.objectContaining({ code: 'INTERNAL' }) })]);
  });

  it('answers a failing model through it with a 500 when the report hook throws too', async () => {
    const lines: string[] = [];
    const failing = defineModel({
      name: 'm',
      infer: async () => {
        throw new Error('the model broke');
      },
    });
    const core = createServingCore({
      models: [failing],
      log: (line) => lines.push(line),
      onError: () => {
        throw new Error('the report hook fails');
      },
    });
    const broken = responding('/v2/models/m/infer', () => undefined);
    await expect(core.infer(broken.exchange, 'm', undefined)).resolves.toMatchObject({ status: 500 });
    expect(broken.written).toEqual([expect.objectContaining({ status: 500 })]);
    expect(lines).toEqual([expect.stringContaining('onError threw while reporting INTERNAL answered with 500')]);
  });

  it('answers through it when `around` fails, and does not answer twice when `around` fails after the route answered', async () => {
    const before = createServingCore({
      models: [model],
      ...quiet,
      around: <T>(): Promise<T> => Promise.reject(new Error('no trace context')),
    });
    const early = responding('/v2/models/m/infer', () => undefined);
    await expect(before.infer(early.exchange, 'm', undefined)).resolves.toMatchObject({ status: 500 });
    expect(early.written).toEqual([expect.objectContaining({ status: 500 })]);

    const after = createServingCore({
      models: [model],
      ...quiet,
      around: async <T>(_request: unknown, run: () => Promise<T>): Promise<T> => {
        await run();
        throw new Error('the trace context failed to close');
      },
    });
    // As a framework does once it wrote an answer: its headers are sent.
    const late = responding('/v2/models/m/infer', () => undefined);
    late.exchange.respond = (answer) => {
      late.written.push(answer);
      late.response.writeHead(answer.status);
    };
    await expect(after.infer(late.exchange, 'm', undefined)).resolves.toMatchObject({ status: 500 });
    expect(late.written.map((a) => a.status)).toEqual([200]);
  });

  it('leaves an exchange without respond to the adapter: a failing audit line still rejects to it', async () => {
    const guard = createGuard({ anonymous: { id: 'anyone', roles: ['infer'] }, audit: failingAudit });
    const core = createServingCore({ models: [model], guard });
    const { request, response } = requestOf('/v2/models/m/infer');
    const exchange: ServingExchange = {
      request,
      response,
      readBody: (limit, deadline) => readJsonBodyNow(request, limit ?? 1 << 20, deadline),
    };
    await expect(core.infer(exchange, 'm', undefined)).rejects.toThrow('the audit sink is gone');
  });
});
