/**
 * The one limiter contract that every rate limit and quota in Ballast takes: the client's
 * `rateLimit()`, `@ballast/guard`'s per-principal limits and quotas, and shared limiters such as
 * `@ballast/redis`'s. An in-process limiter answers synchronously; a shared one may answer with a
 * promise, so callers accept both.
 */

/** What a {@link Limiter} answers: admitted, or refused with the wait until it may admit. */
export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** The caller's budget for one decision, so a remote limiter never holds a call past its deadline. */
export interface LimiterCallOptions {
  /** The call's absolute deadline on `performance.now()` (as set by `pipeline()`). */
  deadline?: number;
  /** The call's budget in ms, when no deadline is set. */
  timeoutMs?: number;
  /** The caller's cancellation. */
  signal?: AbortSignal;
}

/** A keyed limiter: a token bucket, a fixed-window quota, or one shared across replicas. */
export interface Limiter {
  /**
   * Spends `cost` units of `key`'s allowance if it has them: `{ ok: true }`, or
   * `{ ok: false, retryAfterMs }` (nothing spent). May answer with a promise (a shared store).
   *
   * @param key Whose allowance (a principal, a tenant, an IP).
   * @param cost Units to spend. Default 1.
   * @param options The caller's deadline and signal.
   */
  take(key: string, cost?: number, options?: LimiterCallOptions): TakeResult | Promise<TakeResult>;
  /** Units `key` could spend now, without spending any (optional: quotas use it to report what is left). */
  available?(key: string, options?: LimiterCallOptions): number | Promise<number>;
  /** Units added per second, when the limiter is a rate (reported in `RATE_LIMITED` details). */
  readonly ratePerSecond?: number;
  /** Largest allowance at once (a bucket's size or a window's limit). */
  readonly burst?: number;
}

/** Whether `value` has a limiter's shape (a `take` function). */
export function isLimiter(value: unknown): value is Limiter {
  return typeof (value as { take?: unknown } | null)?.take === 'function';
}

/** A shared answer for the common case, so an admitted take allocates nothing. */
export const TAKE_GRANTED: TakeResult = Object.freeze({ ok: true });
