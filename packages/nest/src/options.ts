import { BallastError, type Model } from '@ballast/core';
import type { Guard } from '@ballast/guard';

/** What `BallastModule.forRoot()` takes. */
export interface BallastModuleOptions {
  /** The models to serve, by `name` (and `version`). Each becomes injectable with `@InjectModel(name)`. */
  models: readonly Model[];
  /**
   * The security layer (`createGuard()` from `@ballast/guard`): `BallastAuthGuard` authenticates,
   * authorizes and rate-limits with it, and the v2 routes apply its input policy and output
   * redaction. Without it `BallastAuthGuard` rejects every request it protects.
   */
  guard?: Guard;
  /** Mount the Open Inference Protocol v2 routes (`/v2/...`). Default false. */
  v2?: boolean;
  /**
   * Register `BallastExceptionFilter` as a global filter (`APP_FILTER`), so every route, and the
   * errors raised before routing (malformed JSON, oversized bodies), answers in Ballast's format.
   * Default: the value of `v2`.
   */
  globalFilter?: boolean;
  /** Budget of each request's model calls, ms, from when the request reaches the interceptor. Default: none. */
  timeoutMs?: number;
  /** Header a caller's request id is read from (lower-case). Default `x-request-id`. */
  requestIdHeader?: string;
  /** Most rows one v2 infer request may carry. Default 1024. */
  maxBatchSize?: number;
  /** How long shutdown waits for in-flight model calls before closing the models, ms. Default 10,000. */
  drainTimeoutMs?: number;
  /** Register the module globally, so every module can inject the models. Default true. */
  global?: boolean;
  /**
   * Tie readiness to circuit breakers: a model whose breaker is open is not ready even when a
   * fallback chain answers for it. Default false: a model is ready while it can answer (a shared
   * upstream outage would otherwise mark every replica unready at once). Keyed breakers never
   * change readiness. The serving core's rule, the same in every adapter.
   */
  readinessFollowsBreakers?: boolean;
  /** How long a model's `health()` may take before it counts as not ready, ms. Default 2000 (the serving core's). */
  healthTimeoutMs?: number;
  /**
   * Called with every error `BallastExceptionFilter` answers with a 5xx, on every route, and the
   * request. Replaces the default report, which logs each 500 answer (`INTERNAL`, `CONFIG`,
   * `INTEGRITY`) with its request id through Nest's `Logger`.
   */
  onError?: (error: BallastError, request: unknown) => void;
}

/** @internal The options with defaults applied. */
export interface ResolvedOptions {
  readonly models: readonly Model[];
  readonly guard: Guard | undefined;
  readonly v2: boolean;
  readonly globalFilter: boolean;
  readonly timeoutMs: number | undefined;
  readonly requestIdHeader: string;
  readonly maxBatchSize: number;
  readonly drainTimeoutMs: number;
  readonly readinessFollowsBreakers: boolean;
  readonly healthTimeoutMs: number | undefined;
  readonly onError: ((error: BallastError, request: unknown) => void) | undefined;
}

function fail(path: string, message: string): never {
  throw new BallastError('CONFIG', `BallastModule: ${message}`, { details: { path } });
}

/** @internal Checks the options and applies the defaults; throws `CONFIG` naming the bad path. */
export function resolveOptions(options: BallastModuleOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('', 'options must be an object');
  if (!Array.isArray(options.models)) fail('models', '"models" must be an array of models');
  const { guard, timeoutMs, requestIdHeader = 'x-request-id', maxBatchSize = 1024, drainTimeoutMs = 10_000 } = options;
  if (guard !== undefined && (typeof guard?.authenticate !== 'function' || typeof guard.authorize !== 'function')) {
    fail('guard', '"guard" must be a Guard (use createGuard() from @ballast/guard)');
  }
  if (timeoutMs !== undefined && !(timeoutMs > 0 && Number.isFinite(timeoutMs)))
    fail('timeoutMs', '"timeoutMs" must be a finite number > 0');
  if (typeof requestIdHeader !== 'string' || requestIdHeader.length === 0)
    fail('requestIdHeader', '"requestIdHeader" must be a header name');
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) fail('maxBatchSize', '"maxBatchSize" must be an integer >= 1');
  if (!(drainTimeoutMs >= 0 && Number.isFinite(drainTimeoutMs))) fail('drainTimeoutMs', '"drainTimeoutMs" must be a finite number >= 0');
  if (options.onError !== undefined && typeof options.onError !== 'function') fail('onError', '"onError" must be a function');
  return {
    models: options.models,
    guard,
    v2: options.v2 === true,
    globalFilter: options.globalFilter ?? options.v2 === true,
    timeoutMs,
    requestIdHeader: requestIdHeader.toLowerCase(),
    maxBatchSize,
    drainTimeoutMs,
    readinessFollowsBreakers: options.readinessFollowsBreakers === true,
    healthTimeoutMs: options.healthTimeoutMs,
    onError: options.onError,
  };
}
