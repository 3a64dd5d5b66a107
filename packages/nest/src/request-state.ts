import { randomUUID } from 'node:crypto';
import { type BallastError, codeForHttpStatus, type ErrorCode, now, type Usage } from '@ballast/core';
import type { Guard } from '@ballast/guard';
import { auditRequest, REQUEST_ID_PATTERN } from '@ballast/serving';

/** The request fields Ballast reads (Express 5 under Nest's platform-express). */
export interface StateRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/** The response fields Ballast uses. */
export interface StateResponse {
  statusCode: number;
  headersSent: boolean;
  setHeader(name: string, value: string): void;
  once(event: 'close', listener: () => void): void;
}

/** What one request's audit line is built from; filled in by the guard, controller and filter. */
interface RequestState {
  requestId: string;
  startedAt: number;
  audited: boolean;
  principal?: string;
  keyId?: string;
  action?: string;
  model?: string;
  version?: string;
  input?: unknown;
  error?: BallastError;
  usage?: Usage;
}

const STATE = Symbol('ballast.nest.request');

type Holder = { [STATE]?: RequestState };

/** @internal The Ballast code for an HTTP error status. */
export function codeForStatus(status: number): ErrorCode {
  // Core's one status table; a status it does not know is a 4xx or 5xx of the server's own.
  return codeForHttpStatus(status)?.code ?? (status >= 500 ? 'INTERNAL' : 'INVALID_INPUT');
}

/**
 * @internal The Ballast state of a request, created on first use with its request id (the
 * caller's when well-formed, else a UUID) echoed on the response.
 */
export function stateOf(request: StateRequest, response: StateResponse, header: string): RequestState {
  const holder = request as Holder;
  let state = holder[STATE];
  if (state === undefined) {
    const given = request.headers[header];
    // The shape @ballast/express keeps, so a request id survives a hop between the adapters.
    const requestId = typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    state = { requestId, startedAt: now(), audited: false };
    holder[STATE] = state;
    if (!response.headersSent) response.setHeader('X-Request-Id', requestId);
  }
  return state;
}

/** @internal The state of a request if Ballast saw it. */
export function existingStateOf(request: unknown): RequestState | undefined {
  return typeof request === 'object' && request !== null ? (request as Holder)[STATE] : undefined;
}

/**
 * @internal Writes one audit line through the guard when the response is done (sent, failed or
 * abandoned by the client). Called at the first Ballast component a request meets; later calls
 * are no-ops. Returns the request's state (created when needed, audit log or not).
 */
export function auditWhenDone(guard: Guard | undefined, request: StateRequest, response: StateResponse, header: string): RequestState {
  const state = stateOf(request, response, header);
  if (guard?.auditLog === undefined || state.audited) return state;
  state.audited = true;
  response.once('close', () => {
    const status = response.statusCode;
    const outcome: 'ok' | ErrorCode = state.error?.code ?? (status >= 400 ? codeForStatus(status) : 'ok');
    auditRequest(guard, {
      requestId: state.requestId,
      principal: state.principal,
      keyId: state.keyId,
      action: state.action,
      model: state.model,
      version: state.version,
      outcome: response.headersSent ? outcome : 'CANCELLED',
      status: response.headersSent ? status : 499,
      startedAt: state.startedAt,
      input: state.input ?? request.body,
      usage: state.usage,
    });
  });
  return state;
}
