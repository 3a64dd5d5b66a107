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
 * Returns `value` if it is a {@link BallastError}, else wraps it with `code` (default `INTERNAL`),
 * keeping the original as `cause`.
 */
export function toBallastError(value: unknown, code: ErrorCode = 'INTERNAL', message?: string): BallastError {
  if (isBallastError(value)) return value;
  const text = message ?? (value instanceof Error ? value.message : String(value));
  return new BallastError(code, text, { cause: value });
}
