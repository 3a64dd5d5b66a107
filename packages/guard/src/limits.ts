import {
  BallastError,
  FixedWindowLimiter,
  type Limiter,
  type LimiterCallOptions,
  type TakeResult,
  TokenBucketLimiter,
} from '@ballast/core';
import type { GuardPrincipal } from './principal.js';

/** A per-principal rate limit: a token bucket per principal (and per model when `perModel`). */
export interface RateLimitPolicy {
  /** Requests per second, per principal. */
  ratePerSecond: number;
  /** Bucket size (the largest burst). Default `max(1, ratePerSecond)`. */
  burst?: number;
  /** Give each principal one bucket per model instead of one overall. Default false. */
  perModel?: boolean;
}

/** A per-principal quota: at most `limit` requests in each fixed window of `windowMs`. */
export interface QuotaPolicy {
  /** Requests allowed per window. */
  limit: number;
  /** Window length, ms (windows start at multiples of it since the epoch; a day is 86_400_000). */
  windowMs: number;
}

/** What {@link principalLimits} takes. */
export interface PrincipalLimitsOptions {
  /** The default rate limit for every principal. */
  rate?: RateLimitPolicy;
  /** The default quota for every principal. */
  quota?: QuotaPolicy;
  /**
   * Overrides by plan: a principal whose `attributes.plan` names an entry gets that entry's limits
   * instead of the defaults (use it for free/pro tiers).
   */
  plans?: Record<string, { rate?: RateLimitPolicy; quota?: QuotaPolicy }>;
  /**
   * Most principals tracked at once. Default 10,000. When full, rate limits drop the least recently
   * used principal and quotas the one whose first call in its current window came earliest.
   */
  maxPrincipals?: number;
  /** Monotonic clock for rate limits, ms. Default `performance.now()`. */
  clock?: () => number;
  /** Wall clock for quota windows, ms since the epoch. Default `Date.now`. */
  wallClock?: () => number;
  /**
   * Builds the limiters behind each tier instead of the in-process ones (`clock`, `wallClock` and
   * `maxPrincipals` then apply only to what it builds itself): for example
   * `redisLimiters({ client })` of `@ballast/redis`, so limits and quotas hold across replicas.
   * With a limiter that answers with promises, `admit` and `quotaLeft` answer with promises too.
   */
  limiters?: LimiterFactory;
}

/** Builds the {@link Limiter}s of {@link principalLimits} from its policies. */
export interface LimiterFactory {
  /** A token-bucket limiter for a rate policy; `tier` is `'default'` or the plan's name. */
  rate(policy: RateLimitPolicy, tier: string): Limiter;
  /** A fixed-window (or sliding) counter for a quota policy; `tier` is `'default'` or the plan's name. */
  quota(policy: QuotaPolicy, tier: string): Limiter;
}

/** Enforces rate limits and quotas per principal. */
export interface PrincipalLimits {
  /**
   * Spends one request of `principal` on `model`, or throws `RATE_LIMITED` with `retryAfterMs`.
   * Synchronous with in-process limiters; a promise (rejecting with `RATE_LIMITED`) when a limiter
   * answers with one. `options` carries the caller's deadline and signal to a shared limiter.
   */
  admit(principal: GuardPrincipal, model: string, cost?: number, options?: LimiterCallOptions): void | Promise<void>;
  /** Requests left in the principal's current quota window (`Infinity` without a quota). */
  quotaLeft(principal: GuardPrincipal, options?: LimiterCallOptions): number | Promise<number>;
}

interface Tier {
  limiter: Limiter | undefined;
  perModel: boolean;
  quota: QuotaPolicy | undefined;
  quotaLimiter: Limiter | undefined;
}

// Runs `then` on a value now, or once its promise settles: in-process limiters stay synchronous.
function andThen<T, R>(value: T | Promise<T>, then: (value: T) => R): R | Promise<Awaited<R>> {
  if (typeof (value as Promise<T> | null)?.then === 'function') return (value as Promise<T>).then(then) as Promise<Awaited<R>>;
  return then(value as T);
}

// Throws RATE_LIMITED for a take the rate limit refused.
function rateChecked(result: TakeResult, id: string): void {
  if (result.ok) return;
  throw new BallastError('RATE_LIMITED', 'rate limit exceeded', {
    retryAfterMs: result.retryAfterMs,
    details: { kind: 'rate', principal: id },
  });
}

function checkRate(path: string, rate: RateLimitPolicy | undefined): void {
  if (rate === undefined) return;
  if (!(rate.ratePerSecond > 0) || !Number.isFinite(rate.ratePerSecond)) {
    throw new BallastError('CONFIG', `${path}.ratePerSecond must be a finite number > 0`, { details: { path: `${path}.ratePerSecond` } });
  }
}

function checkQuota(path: string, quota: QuotaPolicy | undefined): void {
  if (quota === undefined) return;
  if (!Number.isInteger(quota.limit) || quota.limit < 0) {
    throw new BallastError('CONFIG', `${path}.limit must be an integer >= 0`, { details: { path: `${path}.limit` } });
  }
  if (!(quota.windowMs > 0) || !Number.isFinite(quota.windowMs)) {
    throw new BallastError('CONFIG', `${path}.windowMs must be a finite number > 0`, { details: { path: `${path}.windowMs` } });
  }
}

/**
 * Per-principal rate limits (token buckets) and fixed-window quotas, over any {@link Limiter}.
 * In-process by default: behind several replicas pass `limiters` from a shared store (such as
 * `redisLimiters` of `@ballast/redis`) or divide the limits by the replica count.
 *
 * @example
 * const limits = principalLimits({ rate: { ratePerSecond: 50, burst: 100 }, quota: { limit: 100_000, windowMs: 86_400_000 } });
 * limits.admit(principal, 'fraud'); // throws RATE_LIMITED with retryAfterMs when over
 */
export function principalLimits(options: PrincipalLimitsOptions = {}): PrincipalLimits {
  const { maxPrincipals = 10_000, wallClock = Date.now, limiters } = options;
  checkRate('limits.rate', options.rate);
  checkQuota('limits.quota', options.quota);
  const tierOf = (name: string, rate: RateLimitPolicy | undefined, quota: QuotaPolicy | undefined): Tier => ({
    limiter:
      rate === undefined
        ? undefined
        : limiters !== undefined
          ? limiters.rate(rate, name)
          : new TokenBucketLimiter({
              ratePerSecond: rate.ratePerSecond,
              ...(rate.burst === undefined ? {} : { burst: rate.burst }),
              maxKeys: maxPrincipals,
              ...(options.clock === undefined ? {} : { clock: options.clock }),
            }),
    perModel: rate?.perModel ?? false,
    quota,
    quotaLimiter:
      quota === undefined
        ? undefined
        : limiters !== undefined
          ? limiters.quota(quota, name)
          : new FixedWindowLimiter({ limit: quota.limit, windowMs: quota.windowMs, maxKeys: maxPrincipals, wallClock }),
  });
  const base = tierOf('default', options.rate, options.quota);
  const plans = new Map<string, Tier>();
  for (const [name, plan] of Object.entries(options.plans ?? {})) {
    checkRate(`limits.plans.${name}.rate`, plan.rate);
    checkQuota(`limits.plans.${name}.quota`, plan.quota);
    plans.set(name, tierOf(name, plan.rate, plan.quota));
  }

  const tierFor = (principal: GuardPrincipal): Tier => {
    const plan = principal.attributes?.plan;
    return (typeof plan === 'string' && plans.get(plan)) || base;
  };

  const quotaError = (quota: QuotaPolicy, id: string, retryAfterMs: number) =>
    new BallastError('RATE_LIMITED', `quota of ${quota.limit} requests per window exhausted`, {
      retryAfterMs,
      details: { kind: 'quota', principal: id, limit: quota.limit, windowMs: quota.windowMs },
    });

  return {
    admit(principal, model, cost = 1, callOptions) {
      const tier = tierFor(principal);
      const id = principal.id;
      const { quota, quotaLimiter, limiter } = tier;
      if (quotaLimiter === undefined) {
        // A rate limit alone: one take, answered without a closure (or a promise) when the
        // limiter is in-process; the general path below orders a quota around it.
        if (limiter === undefined) return;
        const taken = limiter.take(tier.perModel ? `${id}\u0000${model}` : id, cost, callOptions);
        if (typeof (taken as Promise<TakeResult>).then === 'function')
          return (taken as Promise<TakeResult>).then((result) => rateChecked(result, id));
        return rateChecked(taken as TakeResult, id);
      }
      // The quota is checked first without spending, then the rate limit spends, then the quota
      // counts: a request the rate limit refused is not counted against the quota, and one the
      // quota refuses spends no rate token. A shared quota can still refuse at the final count
      // (another replica spent the rest meanwhile); that request then spent one rate token.
      const quotaRoom =
        quotaLimiter === undefined || quotaLimiter.available === undefined
          ? Number.POSITIVE_INFINITY
          : quotaLimiter.available(id, callOptions);
      return andThen(quotaRoom, (room): void | Promise<void> => {
        if (quota !== undefined && quotaLimiter !== undefined && room < cost) {
          // Ask the limiter for the wait (it refuses without counting).
          return andThen(quotaLimiter.take(id, cost, callOptions), (result: TakeResult) => {
            if (!result.ok) throw quotaError(quota, id, result.retryAfterMs);
            return rate();
          });
        }
        return rate(true);
      });

      function rate(quotaCounted = false): void | Promise<void> {
        const taken = limiter === undefined ? undefined : limiter.take(tier.perModel ? `${id}\u0000${model}` : id, cost, callOptions);
        return andThen(taken, (result: TakeResult | undefined): void | Promise<void> => {
          if (result !== undefined) rateChecked(result, id);
          if (!quotaCounted || quota === undefined || quotaLimiter === undefined) return;
          return andThen(quotaLimiter.take(id, cost, callOptions), (counted: TakeResult) => {
            if (!counted.ok) throw quotaError(quota, id, counted.retryAfterMs);
          });
        });
      }
    },
    quotaLeft(principal, callOptions) {
      const tier = tierFor(principal);
      if (tier.quotaLimiter === undefined) return Number.POSITIVE_INFINITY;
      if (tier.quotaLimiter.available === undefined) return Number.POSITIVE_INFINITY;
      return tier.quotaLimiter.available(principal.id, callOptions);
    },
  };
}
