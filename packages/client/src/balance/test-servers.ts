import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * Small JSON model servers on 127.0.0.1 for the balance tests and benchmark (not exported from
 * the package): each answers `{ served: id, echo: input }` after a fixed delay, and can fail a
 * share of calls or be killed.
 */

/** A running model server. */
export interface ModelServer {
  readonly id: string;
  readonly url: string;
  /** Requests received. */
  calls: number;
  /** Requests answered with an error. */
  failed: number;
  /** Answers after this long, ms. */
  latencyMs: number;
  /** Whether request number `n` (1-based) fails with a 500. */
  fails: (n: number) => boolean;
  /** Stops listening and drops every open connection (in-flight calls see a reset). */
  kill(): Promise<void>;
}

/** Fails 3 calls in 10 (calls 2, 5 and 8 of every ten): a 30 % failure rate with no luck involved. */
export function thirtyPercent(n: number): boolean {
  const k = n % 10;
  return k === 2 || k === 5 || k === 8;
}

/** Starts a model server on a free port of 127.0.0.1. */
export async function startModelServer(id: string, latencyMs: number, fails: (n: number) => boolean = () => false): Promise<ModelServer> {
  let server: Server | undefined;
  const state: ModelServer = {
    id,
    url: '',
    calls: 0,
    failed: 0,
    latencyMs,
    fails,
    async kill() {
      if (server === undefined) return;
      const s = server;
      server = undefined;
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    },
  };
  const answer = (res: ServerResponse, body: string) => {
    const n = ++state.calls;
    const failing = state.fails(n);
    setTimeout(() => {
      if (res.destroyed) return;
      if (failing) {
        state.failed++;
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal"}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"served":${JSON.stringify(id)},"echo":${body || 'null'}}`);
      }
    }, state.latencyMs);
  };
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => answer(res, body));
  });
  await new Promise<void>((resolve) => (server as Server).listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${((server as Server).address() as AddressInfo).port}/predict`;
  return state;
}
