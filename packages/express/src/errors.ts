import { BallastError, type ErrorCode, httpStatusFor, isBallastError } from '@ballast/core';
import type { ErrorRequestHandler, Response } from 'express';

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

// Errors from Express and body-parser (http-errors) carry `status` and `type`; map the ones a
// client can cause to Ballast codes so they get a 4xx and the same JSON body.
const FOREIGN_TYPES: Record<string, ErrorCode> = {
  'entity.too.large': 'PAYLOAD_TOO_LARGE',
  'entity.parse.failed': 'INVALID_INPUT',
  'entity.verify.failed': 'INVALID_INPUT',
  'encoding.unsupported': 'INVALID_INPUT',
  'charset.unsupported': 'INVALID_INPUT',
  'request.size.invalid': 'INVALID_INPUT',
  'stream.encoding.set': 'INTERNAL',
  'request.aborted': 'CANCELLED',
  'parameters.too.many': 'PAYLOAD_TOO_LARGE',
};

const FOREIGN_STATUS: Record<number, ErrorCode> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'INVALID_INPUT',
  415: 'INVALID_INPUT',
  429: 'RATE_LIMITED',
};

const FOREIGN_MESSAGES: Partial<Record<ErrorCode, string>> = {
  PAYLOAD_TOO_LARGE: 'the request body is too large',
  INVALID_INPUT: 'the request body is not valid JSON',
};

/**
 * Converts anything thrown while serving a request into a {@link BallastError}: Ballast errors
 * pass through, body-parser/Express client errors map to 4xx codes, the rest is `INTERNAL`
 * (its message is not sent to clients).
 *
 * @example
 * toHttpError(Object.assign(new Error('x'), { type: 'entity.too.large', status: 413 })).code; // 'PAYLOAD_TOO_LARGE'
 */
export function toHttpError(error: unknown): BallastError {
  if (isBallastError(error)) return error;
  if (typeof error === 'object' && error !== null) {
    const { type, status, statusCode, limit, length } = error as {
      type?: unknown;
      status?: unknown;
      statusCode?: unknown;
      limit?: unknown;
      length?: unknown;
    };
    const code = (typeof type === 'string' && FOREIGN_TYPES[type]) || FOREIGN_STATUS[Number(status ?? statusCode)];
    if (code !== undefined) {
      const message =
        (type === 'entity.parse.failed' || code === 'PAYLOAD_TOO_LARGE' ? FOREIGN_MESSAGES[code] : undefined) ??
        String((error as Error).message ?? code);
      const details: Record<string, unknown> = {};
      if (typeof limit === 'number') details.limitBytes = limit;
      if (typeof length === 'number') details.lengthBytes = length;
      return new BallastError(code, message, { cause: error, ...(Object.keys(details).length > 0 ? { details } : {}) });
    }
  }
  return new BallastError('INTERNAL', 'internal error', { cause: error });
}

/** Default `Retry-After` for 503 answers without a hint, seconds. */
const DEFAULT_RETRY_AFTER_SECONDS = 1;

/**
 * @internal The `Retry-After` value, in whole seconds, for an error's `retryAfterMs` hint: rounded
 * up (a client retrying early would be refused again) and at least 1; 1 without a hint. Also used
 * by @ballast/nest, so both adapters answer the same header.
 *
 * @example
 * retryAfterSeconds(1500); // 2
 */
export function retryAfterSeconds(retryAfterMs: number | undefined): number {
  return retryAfterMs === undefined ? DEFAULT_RETRY_AFTER_SECONDS : Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** `details.reason` of the `TIMEOUT` error for a request body that did not arrive in time (answered 408). */
export const BODY_TIMEOUT_REASON = 'body-timeout';

/**
 * The HTTP status answering `error`: core's `httpStatusFor(code)`, except 408 for a request body
 * that did not arrive within the request's budget (the client was too slow, not the server).
 *
 * @example
 * answerStatus(new BallastError('RATE_LIMITED', 'slow down')); // 429
 */
export function answerStatus(error: BallastError): number {
  if (error.code === 'TIMEOUT' && error.details?.reason === BODY_TIMEOUT_REASON) return 408;
  return httpStatusFor(error.code);
}

/**
 * Sends an error answer: the status from core's `httpStatusFor`, `Retry-After` (seconds) on 429 and
 * 503, and `{ error: { code, message, details } }`. `INTERNAL`, `CONFIG` and `INTEGRITY` errors
 * are answered without their message or details (logged by `onError` instead).
 * Returns the BallastError sent.
 */
export function sendError(res: Response, error: unknown): BallastError {
  const ballast = toHttpError(error);
  if (res.headersSent) {
    // Too late for a status: end the response so the client is not left waiting.
    res.end();
    return ballast;
  }
  const status = answerStatus(ballast);
  if (status === 429 || status === 503) res.setHeader('Retry-After', String(retryAfterSeconds(ballast.retryAfterMs)));
  res.status(status).json(errorBody(ballast));
  return ballast;
}

/**
 * The JSON body answering `error`. `INTERNAL`, `CONFIG` and `INTEGRITY` (and any code core does
 * not know) are the codes core answers with 500: their message and details can name files, keys
 * or hosts, so the body says only `internal error`. The other 5xx (UPSTREAM 502, the 503s,
 * TIMEOUT 504) say nothing about internals and keep theirs. Shared with `@ballast/nest`.
 * @internal
 */
export function errorBody(error: BallastError): ErrorBody {
  const hidden = httpStatusFor(error.code) === 500;
  return {
    error: {
      code: error.code,
      message: hidden ? 'internal error' : error.message,
      ...(hidden || error.details === undefined ? {} : { details: error.details }),
    },
  };
}

/** Receives an error answered with a 5xx (see {@link reportServedError}). */
export type ServedErrorReporter = (error: BallastError, request: unknown) => void;

/**
 * @internal The one rule for reporting errors, shared by every route of `ballastRouter()`,
 * `inferHandler()`, `errorHandler()` and @ballast/nest: every answer with a 5xx status goes to
 * `onError` when one is given (it replaces the default). Without one, a 500 (`INTERNAL`,
 * `CONFIG`, `INTEGRITY`: the answers that say only `internal error`) is logged to stderr with the
 * request id and the error's cause (through `log`, default `console.error`), so a failure is never silent; 502, 503 and 504 are
 * operational answers (an upstream down, shedding, a spent budget) whose message the client
 * already got, and logging each would flood the log during an outage.
 *
 * @example
 * reportServedError(error, request, requestId, onError);
 */
export function reportServedError<R>(
  error: BallastError,
  request: R,
  requestId: string | undefined,
  onError: ((error: BallastError, request: R) => void) | undefined,
  log: (line: string) => void = console.error,
): void {
  const status = answerStatus(error);
  if (status < 500) return;
  if (onError !== undefined) {
    onError(error, request);
    return;
  }
  if (status !== 500) return;
  const { cause: reason } = error;
  const cause = reason === undefined ? '' : `\n${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`;
  log(
    `ballast: ${error.code} answered with 500${requestId === undefined ? '' : ` (request ${requestId})`}: ${error.message}${cause}\n${error.stack ?? ''}`,
  );
}

/** Options of {@link errorHandler}. */
export interface ErrorHandlerOptions {
  /**
   * Called with every error answered with a 5xx (log it here). Replaces the default report, which
   * logs 500 answers to stderr with the request id.
   */
  onError?: ServedErrorReporter;
  /** Header holding the request id (for the default report). Default `x-request-id`. */
  requestIdHeader?: string;
}

/**
 * Express error middleware answering every error as Ballast does (status, `Retry-After`, JSON
 * body). Install it last, after your routes.
 *
 * @example
 * app.use(errorHandler({ onError: (e) => logger.error(e) }));
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  return function ballastErrorHandler(error, request, res, _next) {
    const sent = sendError(res, error);
    const id = res.getHeader(options.requestIdHeader ?? 'x-request-id');
    reportServedError(sent, request, typeof id === 'string' ? id : undefined, options.onError);
  };
}
