import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Where response headers are set: a Node `ServerResponse`, or an adapter's own writer that sets
 * them through its framework (see `ServingExchange.setHeader`).
 */
export interface HeaderTarget {
  /** True once the headers were written. */
  readonly headersSent: boolean;
  /** Sets one response header. */
  setHeader(name: string, value: string): unknown;
}

/**
 * The shape of an incoming request id that is kept (anything else gets a new id): the same in
 * every adapter, so a request id survives a hop between services.
 */
export const REQUEST_ID_PATTERN = /^[\w.:@/+=-]{1,128}$/;

// Generated ids are a random per-process prefix and a counter: unique across processes like a
// UUID, at a fraction of randomUUID()'s cost on every request.
const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;
/** A new unique request id. */
export function newRequestId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}
const REQUEST_ID = Symbol('ballast.requestId');

/**
 * The request id of `request`: a well-formed incoming `x-request-id` (or the configured header),
 * else a new unique id (a random per-process prefix and a counter). Set once per request and echoed on the response.
 *
 * @example
 * const id = requestIdOf(request, response);
 */
export function requestIdOf(request: IncomingMessage, res: HeaderTarget, header = 'x-request-id'): string {
  const holder = request as unknown as Record<symbol, string | undefined>;
  let id = holder[REQUEST_ID];
  if (id === undefined) {
    const incoming = request.headers[header];
    id = typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : newRequestId();
    holder[REQUEST_ID] = id;
    if (!res.headersSent) res.setHeader(header, id);
  }
  return id;
}
