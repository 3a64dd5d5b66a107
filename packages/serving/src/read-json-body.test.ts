import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { now } from '@ballast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { readJsonBody, readJsonBodyNow } from './read-json-body.js';
import { stringifyExactJson, V2BinaryBody } from './v2-wire.js';

// A real server on 127.0.0.1 answering what readJsonBody made of each request body.
let server: Server | undefined;
async function serve(limitBytes: number, budgetMs?: number, readAfterMs?: number): Promise<number> {
  server = createServer((request, response) => {
    // Read at once, or (readAfterMs) once the whole body sits in the stream's buffer, as a route
    // does that reads it after authentication.
    if (readAfterMs !== undefined) {
      request.pause();
      setTimeout(() => answer(request, response, limitBytes, budgetMs), readAfterMs);
    } else answer(request, response, limitBytes, budgetMs);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server?.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}
function answer(request: IncomingMessage, response: ServerResponse, limitBytes: number, budgetMs: number | undefined): void {
  readJsonBody(request, limitBytes, budgetMs === undefined ? undefined : now() + budgetMs).then(
    (body) =>
      response.end(
        body instanceof V2BinaryBody
          ? JSON.stringify({ header: body.header, binary: [...body.binary] })
          : stringifyExactJson({ body, types: Object.values(body as object).map((v) => typeof v) }),
      ),
    (error: { code: string; details?: unknown }) => response.end(JSON.stringify({ code: error.code, details: error.details })),
  );
}
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

function send(port: number, chunks: string[], headers: Record<string, string> = {}, gapMs = 0, agent?: Agent): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', headers, agent }, (response) => {
      let text = '';
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.on('end', () => resolve(JSON.parse(text)));
    });
    request.on('error', reject);
    let index = 0;
    const next = () => {
      if (index < chunks.length) {
        request.write(chunks[index++]);
        setTimeout(next, gapMs).unref();
      } else if (gapMs === 0) request.end();
    };
    next();
  });
}

describe('readJsonBody', () => {
  it('takes a body sent with its headers from the buffer, without listening for it, even when read at once in the handler', async () => {
    const listened: string[] = [];
    server = createServer((request, response) => {
      const on = request.on.bind(request);
      request.on = ((event: string, listener: (...args: unknown[]) => void) => {
        listened.push(event);
        return on(event, listener);
      }) as typeof request.on;
      answer(request, response, 1000, 5000);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server?.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const body = '{"a":[1,2,3]}';
    // Headers and body in one write: they arrive together, as a small request usually does.
    const socket = connect(port, '127.0.0.1');
    const reply = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
        if (text.includes('\r\n\r\n{')) resolve(text.slice(text.indexOf('\r\n\r\n') + 4));
      });
    });
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(JSON.parse(await reply)).toMatchObject({ body: { a: [1, 2, 3] } });
    socket.destroy();
    expect(listened).not.toContain('data');
  });

  it('parses a JSON body whatever its content type', async () => {
    const port = await serve(1000);
    expect(await send(port, ['{"a":', '[1,2]}'], { 'content-type': 'text/plain' })).toMatchObject({ body: { a: [1, 2] } });
  });

  it('keeps integers beyond 2^53 exact (bigint) and safe ones as numbers', async () => {
    const port = await serve(1000);
    const answer = await send(port, ['{"big":9223372036854775807,"small":42}']);
    expect(answer).toMatchObject({ types: ['bigint', 'number'] });
  });

  it('reads a binary tensor data body: the JSON header, then the bytes, under the same limit', async () => {
    const port = await serve(40);
    const header = '{"inputs":[]}';
    const headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) };
    expect(await send(port, [header, '\u0001\u0002'], headers)).toEqual({ header: { inputs: [] }, binary: [1, 2] });
    expect(await send(port, [header, 'x'.repeat(40)], headers)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await send(port, [header], { ...headers, 'inference-header-content-length': '99' })).toMatchObject({
      code: 'INVALID_INPUT',
      details: { reason: 'binary-header-length' },
    });
  });

  it('refuses malformed and empty bodies with INVALID_INPUT', async () => {
    const port = await serve(1000);
    expect(await send(port, ['{"a":'])).toMatchObject({ code: 'INVALID_INPUT', details: { reason: 'malformed-json' } });
    expect(await send(port, [])).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('refuses a body over the limit, declared or streamed, with PAYLOAD_TOO_LARGE', async () => {
    const port = await serve(10);
    expect(await send(port, ['{"a":"0123456789"}'])).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { limitBytes: 10 } });
    expect(await send(port, ['{"a":', '"0123456789"}'], { 'transfer-encoding': 'chunked' }, 5)).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
  });

  it('gives up on a body that stops arriving within the budget (TIMEOUT, body-timeout)', async () => {
    const port = await serve(1000, 200);
    // Half a body, then nothing: the answer comes from the budget, not from the client.
    expect(await send(port, ['{"a":'], { 'transfer-encoding': 'chunked' }, 10_000)).toMatchObject({
      code: 'TIMEOUT',
      details: { reason: 'body-timeout' },
    });
  });

  it('reads a body that arrived in full before it is read, the same way, and keeps the connection usable', async () => {
    const port = await serve(40, 1000, 20);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await send(port, ['{"big":9223372036854775807,"small":42}'], {}, 0, agent)).toMatchObject({ types: ['bigint', 'number'] });
      expect(await send(port, ['{"a":'], {}, 0, agent)).toMatchObject({ code: 'INVALID_INPUT', details: { reason: 'malformed-json' } });
      expect(await send(port, [], {}, 0, agent)).toMatchObject({ code: 'INVALID_INPUT' });
      // Over the limit without a content-length (chunked): counted from the bytes themselves.
      expect(
        await send(port, ['{"a":', '"0123456789012345678901234567890123456789"}'], { 'transfer-encoding': 'chunked' }, 0, agent),
      ).toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
        details: { limitBytes: 40, lengthBytes: 48 },
      });
      const header = '{"inputs":[]}';
      const binary = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) };
      expect(await send(port, [header, '\u0001\u0002'], binary, 0, agent)).toEqual({ header: { inputs: [] }, binary: [1, 2] });
      expect(await send(port, ['{"after":1}'], {}, 0, agent)).toMatchObject({ body: { after: 1 } });
    } finally {
      agent.destroy();
    }
  });

  it('readJsonBodyNow answers a body received in full without a promise, and a body still to come with one', async () => {
    // What readJsonBodyNow handed back, by when it was called: at once in the handler (the body
    // is pushed after the headers) or once the body sat in the buffer; a throw as its code.
    const seen: string[] = [];
    const kind = (read: () => unknown) => {
      try {
        const body = read();
        if (!(body instanceof Promise)) return `value ${JSON.stringify(body)}`;
        body.catch(() => undefined);
        return 'promise';
      } catch (error) {
        return `throw ${(error as { code: string }).code}`;
      }
    };
    server = createServer((request, response) => {
      const later = request.headers['x-later'] === '1';
      const run = () => {
        seen.push(kind(() => readJsonBodyNow(request, 64)));
        response.end('{}');
      };
      if (later) {
        request.pause();
        setTimeout(run, 20);
      } else run();
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server?.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    await send(port, ['{"a":1}'], { 'x-later': '1' });
    await send(port, ['{"a":1}']);
    await send(port, ['{"a":'], { 'x-later': '1' });
    await send(port, ['x'.repeat(65)], { 'content-length': '65' });
    expect(seen).toEqual(['value {"a":1}', 'promise', 'throw INVALID_INPUT', 'throw PAYLOAD_TOO_LARGE']);
  });
});
