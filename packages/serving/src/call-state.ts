import { getEventListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BallastError, type InferOptions, now } from '@ballast/core';
import type { Guard, GuardPrincipal } from '@ballast/guard';
import { requestIdOf } from './request-id.js';

/** Options every adapter takes for each served call (`R` is the framework's request type). */
export interface ServeOptions<R = IncomingMessage> {
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
  attributes?: (request: R) => Record<string, string | number | boolean> | undefined;
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
  around?: <T>(request: R, run: () => Promise<T>) => Promise<T>;
}

/** Default time budget per inference, ms. */
export const DEFAULT_TIMEOUT_MS = 30_000;

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

/*
 * A connection's disconnect signal, shared by the requests it carries one after another.
 *
 * Creating an AbortSignal costs about 2 µs on Node 20 (plus garbage), paid on every request
 * although almost no client ever disconnects mid-call. A keep-alive connection carries its
 * requests one at a time, and "the client went away" is a property of the connection, so its
 * requests can share one controller: aborted when the connection closes while one of them runs
 * (the client is gone, and with it every later request). One `close` listener on the connection
 * serves all its requests: a request's own end is told by its caller (`releaseCallState`, which
 * the serving core calls once its answer is ready), not by a listener on every response. A
 * controller is reused only while it is clean:
 * - another request still running on the connection (pipelining) gets its own controller;
 * - a request that leaves an abort listener behind (code that subscribed to `options.signal` and
 *   never unsubscribed) retires the controller, so listeners never pile up across requests;
 * - callers that abort the controller themselves (sibling rows of a failed request) must not
 *   share: the router shares only for single-row requests, and the public startCall never does.
 */
const CONNECTION_SIGNAL = Symbol('ballast.connectionSignal');
// Set on a connection once its `close` listener is on.
const CONNECTION_WATCHED = Symbol('ballast.connectionWatched');

interface ConnectionSignal {
  controller: AbortController;
  /** Requests on the connection using this controller now. */
  busy: number;
  /** The connection it belongs to. */
  socket: SignalHolder;
}

// The connection's `close`: the client went away, and with it the requests it had running.
function onConnectionClose(this: SignalHolder): void {
  const shared = this[CONNECTION_SIGNAL];
  this[CONNECTION_SIGNAL] = undefined;
  if (shared !== undefined && shared.busy > 0) shared.controller.abort(clientGone());
}

// What a call state made with `share` holds of its connection's signal (see releaseCallState).
const HOLDS = Symbol('ballast.connectionHold');

const WATCH = Symbol('ballast.callSignal');
/** A response, with the controller of its own its `close` settles. */
type WatchedResponse = ServerResponse & { [WATCH]?: AbortController | undefined };

function onResponseClose(this: WatchedResponse): void {
  const watched = this[WATCH];
  this[WATCH] = undefined;
  if (watched !== undefined && !this.writableFinished) watched.abort(clientGone());
}

type SignalHolder = {
  [CONNECTION_SIGNAL]?: ConnectionSignal | undefined;
  [CONNECTION_WATCHED]?: boolean;
  readonly destroyed?: boolean;
  once(event: 'close', listener: (this: SignalHolder) => void): unknown;
};

/**
 * Ends a call's hold on its connection's shared disconnect signal: call it once the request is
 * answered (the serving core does) for a call state made with `share`; a no-op for any other.
 * A signal left with an abort listener is retired then, so listeners never pile up.
 */
export function releaseCallState(state: CallState): void {
  const held = (state as CallState & { [HOLDS]?: ConnectionSignal | undefined })[HOLDS];
  if (held === undefined) return;
  (state as CallState & { [HOLDS]?: ConnectionSignal | undefined })[HOLDS] = undefined;
  held.busy--;
  if (getEventListeners(held.controller.signal, 'abort').length === 0) return;
  const socket = held.socket;
  if (socket[CONNECTION_SIGNAL] === held) socket[CONNECTION_SIGNAL] = undefined;
}

function clientGone(): BallastError {
  return new BallastError('CANCELLED', 'the client closed the connection');
}

/**
 * The time budget of a request, ms: `timeoutMs` (default 30,000), shortened by a valid
 * `x-timeout-ms` header (never lengthened).
 */
export function requestBudgetMs(request: IncomingMessage, serve: ServeOptions<never>): number {
  let budget = serve.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const asked = request.headers['x-timeout-ms'];
  if (typeof asked === 'string') {
    const value = Number(asked);
    if (Number.isFinite(value) && value > 0 && value < budget) budget = value;
  }
  return budget;
}

/** What a caller already knows of a request when it makes the call state: its id and start. */
export interface KnownRequest {
  /** The request id (as `requestIdOf` gave it). */
  readonly requestId: string;
  /** When the request started (`performance.now()`). */
  readonly startedAt: number;
}

/**
 * The inference options of a request (see `startCall` of @ballast/express), optionally with the connection's shared disconnect signal
 * (`share`: only for callers that never abort `controller` themselves, and that hand the state
 * to {@link releaseCallState} once the request is answered), the request's `deadline`
 * when the caller set one at the request's start (reading the body counts against it), and the
 * request's id and start when the caller has them (`known`; else read and taken now).
 */
export function createCallState<R extends IncomingMessage>(
  request: R,
  res: ServerResponse,
  serve: ServeOptions<R>,
  principal: GuardPrincipal | undefined,
  share: boolean,
  deadline?: number,
  known?: KnownRequest,
): CallState {
  const requestIdValue = known === undefined ? requestIdOf(request, res, serve.requestIdHeader) : known.requestId;
  const startedAt = known === undefined ? now() : known.startedAt;
  const holder = (share ? request.socket : undefined) as SignalHolder | undefined | null;
  let shared: ConnectionSignal | undefined;
  if (holder !== undefined && holder !== null && holder.destroyed !== true) {
    shared = holder[CONNECTION_SIGNAL];
    if (shared === undefined || shared.controller.signal.aborted) {
      shared = { controller: new AbortController(), busy: 0, socket: holder };
      holder[CONNECTION_SIGNAL] = shared;
      if (holder[CONNECTION_WATCHED] !== true) {
        holder[CONNECTION_WATCHED] = true;
        holder.once('close', onConnectionClose);
      }
    } else if (shared.busy > 0) shared = undefined;
  }
  // The response's `close` listener is one module-level function reading what it needs from the
  // response (no closure, and no `once` wrapper, per request): `close` is emitted once.
  const watched = res as WatchedResponse;
  let controller: AbortController;
  if (shared !== undefined) {
    controller = shared.controller;
    shared.busy++;
  } else if (watched[WATCH] !== undefined) {
    // A second call state for one response (rare): its own controller, watched on its own.
    const own = new AbortController();
    controller = own;
    res.once('close', () => {
      if (!res.writableFinished) own.abort(clientGone());
    });
  } else {
    controller = new AbortController();
    watched[WATCH] = controller;
    res.on('close', onResponseClose);
  }
  const attributes: Record<string, string | number | boolean> = { 'ballast.request.id': requestIdValue };
  for (const name of serve.propagateHeaders ?? DEFAULT_PROPAGATE_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') attributes[`http.request.header.${name}`] = value;
  }
  const extra = serve.attributes?.(request);
  if (extra !== undefined) Object.assign(attributes, extra);
  // No conditional spread (V8's slow generic path); `principal` is only set when there is one.
  const options: InferOptions = {
    deadline: deadline ?? startedAt + requestBudgetMs(request, serve as ServeOptions<never>),
    signal: controller.signal,
    attributes,
  };
  if (principal !== undefined) options.principal = principal;
  const state: CallState & { [HOLDS]?: ConnectionSignal | undefined } = {
    requestId: requestIdValue,
    startedAt,
    controller,
    options,
  };
  // Stored after the literal, not as a computed key in it (see scopedCopy in core's deadline.ts).
  state[HOLDS] = shared;
  return state;
}
