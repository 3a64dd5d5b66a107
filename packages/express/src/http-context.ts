import { BallastError, isBallastError, withDeadline } from '@ballast/core';
import { DEFAULT_MAX_BODY_BYTES, type GuardPrincipal } from '@ballast/guard';
import {
  BODY_TIMEOUT_REASON,
  type CallState,
  type ServeOptions as CoreServeOptions,
  requestIdOf as coreRequestIdOf,
  createCallState,
  toHttpError,
} from '@ballast/serving';
import express, { type Request, type RequestHandler, type Response } from 'express';

export type { CallState };

/** Options shared by {@link ballastRouter} and {@link inferHandler} for each served call (the serving core's, over Express requests). */
export type ServeOptions = CoreServeOptions<Request>;

/**
 * The request id of `request`: a well-formed incoming `x-request-id` (or the configured header),
 * else a new unique id. Set once per request and echoed on the response.
 *
 * @example
 * const id = requestIdOf(request, res);
 */
export function requestIdOf(request: Request, res: Response, header = 'x-request-id'): string {
  return coreRequestIdOf(request, res, header);
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

/**
 * Builds the inference options of a request: one absolute deadline for all its rows, a signal
 * that aborts when the client disconnects, the principal and the telemetry attributes.
 * One AbortController and one `close` listener per request: the only way to stop work for a
 * client that has gone.
 *
 * @example
 * const call = startCall(request, res, { timeoutMs: 5000 }, principal);
 */
export function startCall(request: Request, res: Response, serve: ServeOptions, principal: GuardPrincipal | undefined): CallState {
  return createCallState(request, res, serve, principal, false);
}
