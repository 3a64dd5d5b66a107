import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the test server answers one request. */
export interface Reply {
  /** A file under fixtures/openai/ replayed byte for byte (`.sse` as an event stream, anything else as JSON). */
  fixture?: string;
  /** HTTP status. Default 200. */
  status?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Wait before the status line and the first byte, ms. */
  firstByteDelayMs?: number;
  /** Wait between two events of an event stream, ms. Default 0 (each event still goes out in its own write). */
  gapMs?: number;
  /** Destroy the connection after the last event instead of ending the response (a connection cut). */
  cut?: boolean;
}

/** One request the server received, and what happened to its response. */
export interface Received {
  path: string;
  body: Record<string, unknown>;
  /** Resolves when the response is closed: `finished` false when the client went away before it was all written. */
  closed: Promise<{ finished: boolean; eventsWritten: number }>;
}

const FIXTURES = new URL('./fixtures/openai/', import.meta.url);

/** Reads a fixture as the server sends it. */
export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

/**
 * A real HTTP server on 127.0.0.1 that answers like an OpenAI-compatible API, replaying recorded
 * transcripts. `reply` picks the answer per request (by path and parsed body).
 */
export async function startOpenAIServer(reply: (path: string, body: Record<string, unknown>) => Reply) {
  const received: Received[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (part: string) => {
      raw += part;
    });
    request.on('end', () => {
      const body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
      const path = request.url ?? '/';
      const answer = reply(path, body);
      let eventsWritten = 0;
      const closed = new Promise<{ finished: boolean; eventsWritten: number }>((resolve) => {
        response.on('close', () => resolve({ finished: response.writableFinished, eventsWritten }));
      });
      received.push({ path, body, closed });
      const send = async (): Promise<void> => {
        if (answer.firstByteDelayMs) await sleep(answer.firstByteDelayMs);
        if (response.destroyed) return;
        const text = answer.fixture ? fixture(answer.fixture) : '';
        const streaming = answer.fixture?.endsWith('.sse') ?? false;
        response.writeHead(answer.status ?? 200, {
          'content-type': streaming ? 'text/event-stream; charset=utf-8' : 'application/json',
          ...(streaming ? { 'cache-control': 'no-cache' } : { 'content-length': String(Buffer.byteLength(text)) }),
          ...answer.headers,
        });
        if (!streaming) {
          response.end(text);
          return;
        }
        response.flushHeaders();
        // One write per event, exactly as recorded (the blank line that ends an event included).
        const events = text.split(/(?<=\n\n)/);
        for (const event of events) {
          if (response.destroyed) return;
          response.write(event);
          eventsWritten++;
          await sleep(answer.gapMs ?? 0);
        }
        if (answer.cut) response.socket?.destroy();
        else response.end();
      };
      void send();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    received,
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}
