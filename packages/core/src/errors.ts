/**
 * Stable error codes. Adapters map them to HTTP statuses with {@link httpStatusFor};
 * telemetry reports them as `error.type`. New codes are a breaking change.
 */
export type ErrorCode =
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'CIRCUIT_OPEN'
  | 'RATE_LIMITED'
  | 'OVERLOADED'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'MODEL_UNAVAILABLE'
  | 'UPSTREAM'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'INTEGRITY'
  | 'CONFIG'
  | 'INTERNAL';

/** Every code, in a stable order (useful for docs, tests and metric pre-registration). */
export const ERROR_CODES: readonly ErrorCode[] = [
  'TIMEOUT',
  'CANCELLED',
  'CIRCUIT_OPEN',
  'RATE_LIMITED',
  'OVERLOADED',
  'INVALID_INPUT',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'MODEL_UNAVAILABLE',
  'UPSTREAM',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'INTEGRITY',
  'CONFIG',
  'INTERNAL',
];

interface CodeInfo {
  readonly status: number;
  readonly retryable: boolean;
}

// One table for HTTP status and the default `retryable` of each code. `retryable` says whether
// the *same* call may succeed if tried again soon: overload and rate limits pass, a bad input does
// not. TIMEOUT is not retryable by default because the budget it reports is already spent.
const CODE_TABLE: Record<ErrorCode, CodeInfo> = {
  TIMEOUT: { status: 504, retryable: false },
  CANCELLED: { status: 499, retryable: false },
  CIRCUIT_OPEN: { status: 503, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  OVERLOADED: { status: 503, retryable: true },
  INVALID_INPUT: { status: 400, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  MODEL_UNAVAILABLE: { status: 503, retryable: true },
  UPSTREAM: { status: 502, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  INTEGRITY: { status: 500, retryable: false },
  CONFIG: { status: 500, retryable: false },
  INTERNAL: { status: 500, retryable: false },
};

/**
 * The HTTP status an adapter answers with for a code.
 *
 * @example
 * httpStatusFor('RATE_LIMITED'); // 429
 */
export function httpStatusFor(code: ErrorCode): number {
  return CODE_TABLE[code]?.status ?? 500;
}

// The one reading of HTTP statuses as codes, for every place that meets a status it did not
// answer itself: an upstream's answer (@ballast/client), a framework's own HTTP error (the serving
// adapters), an audit line for a status set elsewhere. The inverse of CODE_TABLE where that is
// one to one; 414, 415 and 422 are a malformed request too, 499 is nginx's "client closed".
const STATUS_TABLE: Record<number, { code: ErrorCode; retryable: boolean }> = {
  400: { code: 'INVALID_INPUT', retryable: false },
  401: { code: 'UNAUTHENTICATED', retryable: false },
  403: { code: 'FORBIDDEN', retryable: false },
  404: { code: 'NOT_FOUND', retryable: false },
  408: { code: 'TIMEOUT', retryable: true },
  413: { code: 'PAYLOAD_TOO_LARGE', retryable: false },
  414: { code: 'INVALID_INPUT', retryable: false },
  415: { code: 'INVALID_INPUT', retryable: false },
  422: { code: 'INVALID_INPUT', retryable: false },
  429: { code: 'RATE_LIMITED', retryable: true },
  499: { code: 'CANCELLED', retryable: false },
  502: { code: 'UPSTREAM', retryable: true },
  503: { code: 'MODEL_UNAVAILABLE', retryable: true },
  504: { code: 'TIMEOUT', retryable: true },
};

/**
 * What an HTTP error status means as a Ballast code, and whether a request answered with it may
 * succeed when sent again: the one status-to-code table (the reverse of {@link httpStatusFor}).
 * `undefined` for a status the table does not know (each caller picks its default: `UPSTREAM`
 * for an upstream's answer, `INTERNAL` for a 5xx of the server's own).
 *
 * @example
 * codeForHttpStatus(429); // { code: 'RATE_LIMITED', retryable: true }
 * codeForHttpStatus(418); // undefined
 */
export function codeForHttpStatus(status: number): { code: ErrorCode; retryable: boolean } | undefined {
  return Object.hasOwn(STATUS_TABLE, status) ? STATUS_TABLE[status] : undefined;
}

/** Whether errors with this code are retryable unless the thrower says otherwise. */
export function isRetryableCode(code: ErrorCode): boolean {
  return CODE_TABLE[code]?.retryable ?? false;
}

/** Options of a {@link BallastError}. */
export interface BallastErrorOptions {
  /** Whether the same call may succeed when tried again. Defaults per code (see {@link isRetryableCode}). */
  retryable?: boolean;
  /** A hint, in milliseconds, of when a retry may succeed (from `Retry-After`, a breaker, a rate limiter). */
  retryAfterMs?: number;
  /** The underlying error. */
  cause?: unknown;
  /** Structured, JSON-serializable details (validation issues, attempts, the failing input name). */
  details?: Record<string, unknown>;
}

const MARKER = Symbol.for('ballast.error');

/**
 * The one error type Ballast throws. Check with {@link isBallastError}, which also recognises
 * errors from another copy of this package.
 *
 * @example
 * throw new BallastError('INVALID_INPUT', 'input "x" must have 16 values', { details: { input: 'x' } });
 */
export class BallastError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** Whether the same call may succeed when tried again. */
  readonly retryable: boolean;
  /** When a retry may succeed, in milliseconds from now. */
  readonly retryAfterMs: number | undefined;
  /** Structured details. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BallastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BallastError';
    this.code = code;
    this.retryable = options.retryable ?? isRetryableCode(code);
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** The HTTP status for this error's code. */
  get status(): number {
    return httpStatusFor(this.code);
  }

  /** A JSON body as adapters send it: `{ code, message, details }`. */
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown>; retryAfterMs?: number } {
    return {
      code: this.code,
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/**
 * True for a {@link BallastError}, including one created by a duplicated copy of `@ballast/core`.
 *
 * @example
 * try { await model.infer(x); } catch (e) { if (isBallastError(e) && e.code === 'TIMEOUT') retryLater(); }
 */
export function isBallastError(value: unknown): value is BallastError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
}

/**
 * Parses a `Retry-After` header: delay-seconds or an HTTP-date, into milliseconds from `nowMs`
 * (never negative); `undefined` when absent or unreadable.
 *
 * @example
 * parseRetryAfter('2'); // 2000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:30 GMT')); // 30000
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value).trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (/^\d+\.\d+$/.test(text)) return Math.round(Number(text) * 1000); // lenient: fractional seconds
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/** Options of {@link errorForStatus}. */
export interface StatusErrorOptions {
  /** The error's message. Default `upstream answered HTTP <status>`. */
  message?: string;
  /** When a retry may succeed, ms (from `Retry-After`). */
  retryAfterMs?: number;
  /** The underlying error. */
  cause?: unknown;
  /** Structured details; `status` is added. */
  details?: Record<string, unknown>;
}

/**
 * The BallastError for an HTTP error status an upstream answered with, for remote models and for
 * errors thrown by HTTP SDKs (see {@link toBallastError}). It reads the status through the one
 * table, {@link codeForHttpStatus}, with one difference: an upstream's own timeouts and
 * cancellations (408, 499, 504) are retryable `UPSTREAM`, because `TIMEOUT` and `CANCELLED` name
 * this caller's budget and signal, which the upstream's answer says nothing about.
 *
 * | status | code | retryable |
 * | --- | --- | --- |
 * | 429 | `RATE_LIMITED` | yes |
 * | 503 | `MODEL_UNAVAILABLE` | yes |
 * | 502, 504, 408, 499 | `UPSTREAM` | yes |
 * | 400, 414, 415, 422 | `INVALID_INPUT` | no |
 * | 401 | `UNAUTHENTICATED` | no |
 * | 403 | `FORBIDDEN` | no |
 * | 404 | `NOT_FOUND` | no |
 * | 413 | `PAYLOAD_TOO_LARGE` | no |
 * | any other status | `UPSTREAM` | no |
 *
 * @example
 * errorForStatus(503, { retryAfterMs: 5000 }).code; // 'MODEL_UNAVAILABLE', retryable
 */
export function errorForStatus(status: number, options: StatusErrorOptions = {}): BallastError {
  const message = options.message ?? `upstream answered HTTP ${status}`;
  const extra: BallastErrorOptions = { details: { ...options.details, status } };
  if (options.retryAfterMs !== undefined) extra.retryAfterMs = options.retryAfterMs;
  if (options.cause !== undefined) extra.cause = options.cause;
  const meaning = codeForHttpStatus(status);
  if (meaning === undefined) return new BallastError('UPSTREAM', message, { ...extra, retryable: false });
  const ours = meaning.code === 'TIMEOUT' || meaning.code === 'CANCELLED';
  return new BallastError(ours ? 'UPSTREAM' : meaning.code, message, { ...extra, retryable: ours || meaning.retryable });
}

type Fields = Record<string, unknown>;

function fieldsOf(value: unknown): Fields | undefined {
  return typeof value === 'object' && value !== null ? (value as Fields) : undefined;
}

function httpStatusOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599) return value;
  return undefined;
}

// One header from a plain object (any letter case), a fetch `Headers` or anything with `get()`
// (axios's AxiosHeaders has both).
function headerOf(headers: unknown, name: string): string | undefined {
  const fields = fieldsOf(headers);
  if (fields === undefined) return undefined;
  if (typeof fields.get === 'function') {
    try {
      const found = (fields.get as (key: string) => unknown).call(headers, name);
      if (found !== null && found !== undefined) return String(found);
    } catch {
      // Not a Headers-like get(); read it as a plain object below.
    }
  }
  for (const key of Object.keys(fields)) {
    if (key.toLowerCase() === name) {
      const found = fields[key];
      return Array.isArray(found) ? String(found[0]) : found === undefined || found === null ? undefined : String(found);
    }
  }
  return undefined;
}

/**
 * The status and `Retry-After` of an error thrown by an HTTP SDK: `status` or `statusCode` on the
 * error (openai, @anthropic-ai/sdk, got's HTTPError, http-errors) or on its `response` (axios,
 * got), with headers on the error or its response. `retry-after-ms` (sent by OpenAI) wins over
 * `retry-after`.
 */
function httpFacts(value: unknown): { status: number; retryAfterMs: number | undefined } | undefined {
  const error = fieldsOf(value);
  if (error === undefined) return undefined;
  const response = fieldsOf(error.response);
  const status =
    httpStatusOf(error.status) ?? httpStatusOf(error.statusCode) ?? httpStatusOf(response?.status) ?? httpStatusOf(response?.statusCode);
  if (status === undefined) return undefined;
  let retryAfterMs: number | undefined;
  for (const headers of [error.headers, response?.headers]) {
    const ms = headerOf(headers, 'retry-after-ms')?.trim();
    if (ms !== undefined && ms !== '' && Number(ms) >= 0) return { status, retryAfterMs: Number(ms) };
    retryAfterMs = parseRetryAfter(headerOf(headers, 'retry-after'));
    if (retryAfterMs !== undefined) break;
  }
  return { status, retryAfterMs };
}

/**
 * Returns `value` if it is a {@link BallastError}, else wraps it, keeping the original as
 * `cause`. This is where thrown values become BallastErrors: a call's deadline scope (so what
 * reaches the caller of `pipeline()`) and the policies that decide on errors (retry, breaker,
 * fallback) apply it, on the failure path only. A value carrying an HTTP error status
 * (`status`/`statusCode` on it or its `response`, as the errors of openai, @anthropic-ai/sdk,
 * axios and got do) is classified by {@link errorForStatus}, with `Retry-After` read from its
 * headers (a plain object, a `Headers` or axios's `response.headers`); anything else gets `code`
 * (default `INTERNAL`).
 *
 * @example
 * toBallastError(Object.assign(new Error('Service Unavailable'), { status: 503 })).retryable; // true
 */
export function toBallastError(value: unknown, code: ErrorCode = 'INTERNAL', message?: string): BallastError {
  if (isBallastError(value)) return value;
  const text = message ?? (value instanceof Error ? value.message : String(value));
  const http = httpFacts(value);
  if (http !== undefined) {
    return errorForStatus(http.status, {
      message: text,
      cause: value,
      ...(http.retryAfterMs === undefined ? {} : { retryAfterMs: http.retryAfterMs }),
    });
  }
  return new BallastError(code, text, { cause: value });
}
