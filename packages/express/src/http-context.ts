import { randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { BallastError, type ErrorCode, type InferOptions, isBallastError, now, withDeadline } from '@ballast/core';
import { type AuditRecord, DEFAULT_MAX_BODY_BYTES, type Guard, type GuardPrincipal } from '@ballast/guard';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { BODY_TIMEOUT_REASON, toHttpError } from './errors.js';

/** Options shared by {@link ballastRouter} and {@link inferHandler} for each served call. */
export interface ServeOptions {
  /** The security layer; without it requests are not authenticated, limited or filtered. */
  guard?: Guard;
  /** Time budget of each inference, ms. A request's `x-timeout-ms` header may shorten it. Default 30,000. */
  timeoutMs?: number;
  /** Header read and echoed as the request id (a valid incoming id is kept). Default `x-request-id`. */
  requestIdHeader?: string;
  /**
   * Extra attributes for the inference (they reach telemetry as `InferOptions.attributes`).
   * Do not put secrets here: telemetry may export them.
   */
  attributes?: (request: Request) => Record<string, string | number | boolean> | undefined;
  /**
   * Request headers copied onto `InferOptions.attributes` as `http.request.header.<name>`, so a
   * telemetry subscriber of the `ballast:infer` tracing channel can continue the caller's trace.
   * Default `['traceparent', 'tracestate']`. Never list credentials.
   */
  propagateHeaders?: readonly string[];
  /**
   * Runs around the handling of each request, e.g. to enter an extracted trace context:
   * `around: (req, run) => context.with(propagation.extract(ROOT_CONTEXT, req.headers), run)`.
   */
  around?: <T>(request: Request, run: () => Promise<T>) => Promise<T>;
}

/** Default time budget per inference, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * @internal The shape of an incoming request id that is kept (anything else gets a new id). Also
 * used by @ballast/nest, so a request id survives a hop between the adapters.
 */
export const REQUEST_ID_PATTERN = /^[\w.:@/+=-]{1,128}$/;

// Generated ids are a random per-process prefix and a counter: unique across processes like a
// UUID, at a fraction of randomUUID()'s cost on every request.
const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;
function newRequestId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}
const REQUEST_ID = Symbol('ballast.requestId');

/**
 * The request id of `request`: a well-formed incoming `x-request-id` (or the configured header),
 * else a new unique id (a random per-process prefix and a counter). Set once per request and echoed on the response.
 */
export function requestIdOf(request: Request, res: Response, header = 'x-request-id'): string {
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

/**
 * Express middleware that assigns every request an id (kept from a valid incoming header) and
 * echoes it on the response.
 *
 * @example
 * app.use(requestId());
 */
export function requestId(options: { header?: string } = {}): RequestHandler {
  const header = (options.header ?? 'x-request-id').toLowerCase();
  return function ballastRequestId(request, res, next) {
    requestIdOf(request, res, header);
    next();
  };
}

const parsers = new Map<number, RequestHandler>();

/**
 * Reads the JSON body with express.json (body-parser) under `limitBytes`, whatever the content
 * type says (v2 clients do not all send one). A body parsed earlier by the app is returned as is.
 * Rejects with body-parser's errors (mapped to 400/413 by the error answer). With `deadline` (on
 * the `performance.now()` clock), a body still arriving then rejects with `TIMEOUT` answered 408.
 */
export function readJson(request: Request, res: Response, limitBytes = DEFAULT_MAX_BODY_BYTES, deadline?: number): Promise<unknown> {
  if (request.body !== undefined) return Promise.resolve(request.body);
  const reading = parseJson(request, res, limitBytes);
  // A body already received (the common case) needs no watch. A body still arriving is read under
  // the request's budget (core's timer wheel: no timer per request); without it only Node's
  // requestTimeout (300 s) bounds a client that sends half a body and stalls.
  if (deadline === undefined || request.complete) return reading;
  return withDeadline({ deadline }, () => reading).catch((error: unknown) => {
    if (isBallastError(error) && error.code === 'TIMEOUT' && !request.complete) {
      // The rest of the body may never come: close the connection after the 408.
      if (!res.headersSent) res.setHeader('Connection', 'close');
      throw new BallastError('TIMEOUT', 'the request body did not arrive within the time budget', {
        cause: error,
        details: { reason: BODY_TIMEOUT_REASON },
      });
    }
    throw error;
  });
}

function parseJson(request: Request, res: Response, limitBytes: number): Promise<unknown> {
  let parser = parsers.get(limitBytes);
  if (parser === undefined) {
    parser = express.json({ limit: limitBytes, type: () => true, strict: false });
    parsers.set(limitBytes, parser);
  }
  const run = parser;
  return new Promise((resolve, reject) => {
    run(request, res, (error?: unknown) => {
      // The parser's errors are the client's (bad encoding, bad JSON, too large): typed here, where
      // they arise, so no later step mistakes their HTTP status for an upstream's answer.
      if (error !== undefined && error !== null) reject(toHttpError(error));
      else if (request.body === undefined) reject(new BallastError('INVALID_INPUT', 'a JSON request body is required'));
      else resolve(request.body);
    });
  });
}

/**
 * @internal Answers `body` as JSON with status 200, like `res.json()` minus the ETag. Express
 * hashes every `res.json()` body (SHA-1) for an ETag and checks request freshness, which only
 * ever matter for GET and HEAD: for a POST the hash is pure cost (a few µs per infer answer).
 * An app that customises JSON (`json replacer`, `json spaces`, `json escape`) gets `res.json()`.
 */
export function sendJsonAnswer(request: Request, res: Response, body: unknown): void {
  const settings = request.app?.settings as Record<string, unknown> | undefined;
  if (
    request.method !== 'POST' ||
    settings === undefined ||
    settings['json replacer'] !== undefined ||
    settings['json spaces'] !== undefined ||
    settings['json escape'] === true
  ) {
    res.json(body);
    return;
  }
  const text = JSON.stringify(body);
  if (res.getHeader('content-type') === undefined) res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** The per-request call state built by {@link startCall}. */
export interface CallState {
  /** The request id. */
  readonly requestId: string;
  /** When the request started on the `performance.now()` clock. */
  readonly startedAt: number;
  /** Aborted when the client goes away or a sibling row fails. */
  readonly controller: AbortController;
  /** The options every inference of this request gets. */
  readonly options: InferOptions;
}

const DEFAULT_PROPAGATE_HEADERS: readonly string[] = ['traceparent', 'tracestate'];

/**
 * Builds the inference options of a request: one absolute deadline for all its rows, a signal
 * that aborts when the client disconnects, the principal and the telemetry attributes.
 * One AbortController and one `close` listener per request: the only way to stop work for a
 * client that has gone.
 */
export function startCall(request: Request, res: Response, serve: ServeOptions, principal: GuardPrincipal | undefined): CallState {
  return createCallState(request, res, serve, principal, false);
}

/*
 * A connection's disconnect signal, shared by the requests it carries one after another.
 *
 * Creating an AbortSignal costs about 2 µs on Node 20 (plus garbage), paid on every request
 * although almost no client ever disconnects mid-call. A keep-alive connection carries its
 * requests one at a time, and "the client went away" is a property of the connection, so its
 * requests can share one controller: aborted when a response closes unfinished (the connection
 * is gone, and with it every later request). A controller is reused only while it is clean:
 * - another request still running on the connection (pipelining) gets its own controller;
 * - a request that leaves an abort listener behind (code that subscribed to `options.signal` and
 *   never unsubscribed) retires the controller, so listeners never pile up across requests;
 * - callers that abort the controller themselves (sibling rows of a failed request) must not
 *   share: the router shares only for single-row requests, and the public startCall never does.
 */
const CONNECTION_SIGNAL = Symbol('ballast.connectionSignal');

interface ConnectionSignal {
  controller: AbortController;
  /** Requests on the connection using this controller now. */
  busy: number;
}

type SignalHolder = { [CONNECTION_SIGNAL]?: ConnectionSignal | undefined };

function clientGone(): BallastError {
  return new BallastError('CANCELLED', 'the client closed the connection');
}

/**
 * @internal The time budget of a request, ms: `timeoutMs` (default 30,000), shortened by a valid
 * `x-timeout-ms` header (never lengthened).
 */
export function requestBudgetMs(request: Request, serve: ServeOptions): number {
  let budget = serve.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const asked = request.headers['x-timeout-ms'];
  if (typeof asked === 'string') {
    const value = Number(asked);
    if (Number.isFinite(value) && value > 0 && value < budget) budget = value;
  }
  return budget;
}

/**
 * @internal Builds a request's call state: what {@link startCall} does, and optionally with the
 * connection's shared disconnect signal (`shareConnectionSignal`: only for callers that never
 * abort `controller` themselves) and the request's `deadline` when the caller set one at the
 * request's start (reading the body counts against it). The router and the handler use it.
 */
export function createCallState(
  request: Request,
  res: Response,
  serve: ServeOptions,
  principal: GuardPrincipal | undefined,
  shareConnectionSignal: boolean,
  deadline?: number,
): CallState {
  const requestIdValue = requestIdOf(request, res, serve.requestIdHeader);
  const startedAt = now();
  const budget = requestBudgetMs(request, serve);
  const holder = (shareConnectionSignal ? request.socket : undefined) as SignalHolder | undefined | null;
  let shared: ConnectionSignal | undefined;
  if (holder !== undefined && holder !== null) {
    shared = holder[CONNECTION_SIGNAL];
    if (shared === undefined || shared.controller.signal.aborted) {
      shared = { controller: new AbortController(), busy: 0 };
      holder[CONNECTION_SIGNAL] = shared;
    } else if (shared.busy > 0) shared = undefined;
  }
  let controller: AbortController;
  if (shared === undefined || holder === undefined || holder === null) {
    const own = new AbortController();
    controller = own;
    res.once('close', () => {
      if (!res.writableFinished) own.abort(clientGone());
    });
  } else {
    const connection = shared;
    const socket = holder;
    controller = connection.controller;
    connection.busy++;
    res.once('close', () => {
      connection.busy--;
      if (!res.writableFinished) connection.controller.abort(clientGone());
      else if (getEventListeners(connection.controller.signal, 'abort').length === 0) return;
      if (socket[CONNECTION_SIGNAL] === connection) socket[CONNECTION_SIGNAL] = undefined;
    });
  }
  const attributes: Record<string, string | number | boolean> = { 'ballast.request.id': requestIdValue };
  for (const name of serve.propagateHeaders ?? DEFAULT_PROPAGATE_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') attributes[`http.request.header.${name}`] = value;
  }
  const extra = serve.attributes?.(request);
  if (extra !== undefined) Object.assign(attributes, extra);
  // No conditional spread (V8's slow generic path); `principal` is only set when there is one.
  const options: InferOptions = { deadline: deadline ?? startedAt + budget, signal: controller.signal, attributes };
  if (principal !== undefined) options.principal = principal;
  return { requestId: requestIdValue, startedAt, controller, options };
}

/** @internal What one request's audit line is made of (see {@link auditRequest}). */
export interface RequestAudit {
  /** The request id. */
  requestId: string;
  /** The principal id; left out when there is none (the audit log writes `anonymous`). */
  principal?: string | undefined;
  /** The API key id that authenticated the request. */
  keyId?: string | undefined;
  /** The action checked. */
  action?: string | undefined;
  /** The model name. */
  model?: string | undefined;
  /** The model version. */
  version?: string | undefined;
  /** `ok`, or the code of the error that ended the request. */
  outcome: 'ok' | ErrorCode;
  /** The HTTP status answered. */
  status: number;
  /** When the request started, on the `performance.now()` clock: the latency runs from here to now. */
  startedAt: number;
  /** The input as the guard saw it (hashed by the audit log); left out when there is none. */
  input?: unknown;
}

/**
 * @internal Writes one request's audit line through `guard.audit`, the latency rounded to the
 * microsecond. Fields without a value are left out rather than passed as `undefined`, so a Guard of
 * the app's own sees the same keys whichever adapter served the request. Used by `ballastRouter()`,
 * `inferHandler()` and @ballast/nest.
 */
export function auditRequest(guard: Guard, fields: RequestAudit): void {
  // Built key by key in the line's order: on the infer route a conditional `...spread` takes
  // V8's generic (slow) path.
  const entry = { requestId: fields.requestId } as AuditRecord;
  if (fields.principal !== undefined) entry.principal = fields.principal;
  if (fields.keyId !== undefined) entry.keyId = fields.keyId;
  if (fields.action !== undefined) entry.action = fields.action;
  if (fields.model !== undefined) entry.model = fields.model;
  if (fields.version !== undefined) entry.version = fields.version;
  entry.outcome = fields.outcome;
  entry.status = fields.status;
  entry.latencyMs = Math.round((now() - fields.startedAt) * 1000) / 1000;
  if (fields.input !== undefined) entry.input = fields.input;
  guard.audit(entry);
}
