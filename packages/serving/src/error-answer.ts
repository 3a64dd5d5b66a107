import { BallastError, codeForHttpStatus, type ErrorCode, httpStatusFor, isBallastError } from '@ballast/core';

/** The JSON body of an error answer outside the v2 routes (`inferHandler`, mounted routers). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/**
 * The JSON body of an error answer on the Open Inference Protocol v2 routes: the protocol's
 * `{ "error": "<message>" }` (what KServe and Triton clients read), plus Ballast's `code` and
 * `details` as fields of their own. The code also travels in the `x-ballast-error-code` header.
 */
export interface V2ErrorBody {
  /** The message (the protocol's field). */
  error: string;
  /** Ballast's stable error code. */
  code: ErrorCode;
  /** Details, when the error has any that may be shown (never for a 500). */
  details?: Record<string, unknown>;
}

/** The header every error answer carries Ballast's error code in (lower case). */
export const ERROR_CODE_HEADER = 'x-ballast-error-code';

// `/v2` and `/v2/...`, also under a mount prefix (`/ml/v2/models/x/infer`), before any query.
const V2_PATH = /\/v2(?:[/?#]|$)/;

/**
 * Whether a request path (`request.originalUrl ?? request.url`) is one of the Open Inference
 * Protocol v2 routes, answered with {@link V2ErrorBody}.
 *
 * @example
 * isV2Path('/v2/models/iris/infer'); // true
 * isV2Path('/predict'); // false
 */
export function isV2Path(path: string | undefined): boolean {
  return path !== undefined && V2_PATH.test(path);
}

// Errors from the frameworks' body parsers (body-parser's http-errors, Fastify's FST_ERR_CTP_*)
// carry `status`/`statusCode` and `type`/`code`; the ones a client can cause map to Ballast codes
// (by `type`, else through core's one status table) so they get a 4xx and the same JSON body.
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
  // Fastify's own body errors (when an app's parser runs before ours).
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_INPUT',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_INPUT',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
};

const FOREIGN_MESSAGES: Partial<Record<ErrorCode, string>> = {
  PAYLOAD_TOO_LARGE: 'the request body is too large',
  INVALID_INPUT: 'the request body is not valid JSON',
};

/**
 * Converts anything thrown while serving a request into a {@link BallastError}: Ballast errors
 * pass through, framework and body-parser client errors (with a 4xx `status`) map to 4xx codes, the rest is `INTERNAL`
 * (its message is not sent to clients).
 *
 * @example
 * toHttpError(Object.assign(new Error('x'), { type: 'entity.too.large', status: 413 })).code; // 'PAYLOAD_TOO_LARGE'
 */
export function toHttpError(error: unknown): BallastError {
  if (isBallastError(error)) return error;
  if (typeof error === 'object' && error !== null) {
    const { status, statusCode, limit, length } = error as {
      status?: unknown;
      statusCode?: unknown;
      limit?: unknown;
      length?: unknown;
    };
    const type = (error as { type?: unknown }).type ?? (error as { code?: unknown }).code;
    const code =
      (typeof type === 'string' && Object.hasOwn(FOREIGN_TYPES, type) ? FOREIGN_TYPES[type] : undefined) ??
      codeForHttpStatus(Number(status ?? statusCode))?.code;
    if (code !== undefined) {
      const message =
        (type === 'entity.parse.failed' || type === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'PAYLOAD_TOO_LARGE'
          ? FOREIGN_MESSAGES[code]
          : undefined) ?? String((error as Error).message ?? code);
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
 * The `Retry-After` value, in whole seconds, for an error's `retryAfterMs` hint: rounded
 * up (a client retrying early would be refused again) and at least 1; 1 without a hint. Every
 * adapter answers this header.
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
 * The JSON body answering `error`. `INTERNAL`, `CONFIG` and `INTEGRITY` (and any code core does
 * not know) are the codes core answers with 500: their message and details can name files, keys
 * or hosts, so the body says only `internal error`. The other 5xx (UPSTREAM 502, the 503s,
 * TIMEOUT 504) say nothing about internals and keep theirs. Every adapter answers this body.
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

/**
 * The JSON body answering `error` on a v2 route: `{ error: message, code, details }` (see
 * {@link V2ErrorBody}), with what {@link errorBody} hides hidden here too.
 *
 * @example
 * v2ErrorBody(new BallastError('NOT_FOUND', 'unknown model "x"')); // { error: 'unknown model "x"', code: 'NOT_FOUND' }
 */
export function v2ErrorBody(error: BallastError): V2ErrorBody {
  const { error: inner } = errorBody(error);
  const body: V2ErrorBody = { error: inner.message, code: inner.code };
  if (inner.details !== undefined) body.details = inner.details;
  return body;
}

/**
 * The body answering `error` on a request to `path`: {@link v2ErrorBody} on the v2 routes,
 * {@link errorBody} elsewhere. Every adapter answers with it.
 *
 * @example
 * errorBodyFor(error, request.originalUrl ?? request.url);
 */
export function errorBodyFor(error: BallastError, path: string | undefined): V2ErrorBody | ErrorBody {
  return isV2Path(path) ? v2ErrorBody(error) : errorBody(error);
}

/** Receives an error answered with a 5xx (see {@link reportServedError}). */
export type ServedErrorReporter = (error: BallastError, request: unknown) => void;

/**
 * The one rule for reporting errors, shared by every route of every adapter (Express, Nest,
 * Fastify): every answer with a 5xx status goes to
 * `onError` when one is given (it replaces the default). Without one, a 500 (`INTERNAL`,
 * `CONFIG`, `INTEGRITY`: the answers that say only `internal error`) is logged to stderr with the
 * request id and the error's cause (through `log`, default `console.error`), so a failure is never silent; 502, 503 and 504 are
 * operational answers (an upstream down, shedding, a spent budget) whose message the client
 * already got, and logging each would flood the log during an outage. Reporting never throws:
 * an `onError` that throws is logged through `log` (its failure does not change the answer), and
 * a `log` that throws is ignored.
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
  const which = requestId === undefined ? '' : ` (request ${requestId})`;
  if (onError !== undefined) {
    try {
      onError(error, request);
    } catch (hookError) {
      logSafely(log, `ballast: onError threw while reporting ${error.code} answered with ${status}${which}:${describeCause(hookError)}`);
    }
    return;
  }
  if (status !== 500) return;
  logSafely(log, `ballast: ${error.code} answered with 500${which}: ${error.message}${describeCause(error.cause)}\n${error.stack ?? ''}`);
}

// A cause as the lines that follow a report's first line (empty when there is none).
function describeCause(reason: unknown): string {
  return reason === undefined ? '' : `\n${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`;
}

// The report is the last thing said about a failed request: a log that throws has nowhere to go.
function logSafely(log: (line: string) => void, line: string): void {
  try {
    log(line);
  } catch {
    // Nothing left to report to.
  }
}
