import { TokenBucketLimiter } from '@ballast/client';
import { BallastError } from '@ballast/core';
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
}

/** Enforces rate limits and quotas per principal. */
export interface PrincipalLimits {
  /** Spends one request of `principal` on `model`, or throws `RATE_LIMITED` with `retryAfterMs`. */
  admit(principal: GuardPrincipal, model: string, cost?: number): void;
  /** Requests left in the principal's current quota window (`Infinity` without a quota). */
  quotaLeft(principal: GuardPrincipal): number;
}

interface Tier {
  limiter: TokenBucketLimiter | undefined;
  perModel: boolean;
  quota: QuotaPolicy | undefined;
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
 * Per-principal rate limits (the client's keyed {@link TokenBucketLimiter}) and fixed-window
 * quotas. Quotas are counted in memory per process: behind several replicas divide the limit or
 * keep counts in a shared store.
 *
 * @example
 * const limits = principalLimits({ rate: { ratePerSecond: 50, burst: 100 }, quota: { limit: 100_000, windowMs: 86_400_000 } });
 * limits.admit(principal, 'fraud'); // throws RATE_LIMITED with retryAfterMs when over
 */
export function principalLimits(options: PrincipalLimitsOptions = {}): PrincipalLimits {
  const { maxPrincipals = 10_000, wallClock = Date.now } = options;
  checkRate('limits.rate', options.rate);
  checkQuota('limits.quota', options.quota);
  const tierOf = (rate: RateLimitPolicy | undefined, quota: QuotaPolicy | undefined): Tier => ({
    limiter:
      rate === undefined
        ? undefined
        : new TokenBucketLimiter({
            ratePerSecond: rate.ratePerSecond,
            ...(rate.burst === undefined ? {} : { burst: rate.burst }),
            maxKeys: maxPrincipals,
            ...(options.clock === undefined ? {} : { clock: options.clock }),
          }),
    perModel: rate?.perModel ?? false,
    quota,
  });
  const base = tierOf(options.rate, options.quota);
  const plans = new Map<string, Tier>();
  for (const [name, plan] of Object.entries(options.plans ?? {})) {
    checkRate(`limits.plans.${name}.rate`, plan.rate);
    checkQuota(`limits.plans.${name}.quota`, plan.quota);
    plans.set(name, tierOf(plan.rate, plan.quota));
  }
  // Quota counters: principal id -> { window index, count }. Bounded by maxPrincipals too, but not
  // LRU like the buckets: an entry is (re-)inserted only on its principal's first call in a new
  // window, so when full the entry that entered its window earliest goes (Map keeps insertion order).
  const counters = new Map<string, { window: number; count: number }>();

  const tierFor = (principal: GuardPrincipal): Tier => {
    const plan = principal.attributes?.plan;
    return (typeof plan === 'string' && plans.get(plan)) || base;
  };

  const counter = (key: string, quota: QuotaPolicy) => {
    const window = Math.floor(wallClock() / quota.windowMs);
    let entry = counters.get(key);
    if (entry === undefined || entry.window !== window) {
      entry = { window, count: 0 };
      counters.delete(key);
      if (counters.size >= maxPrincipals) {
        const oldest = counters.keys().next().value;
        if (oldest !== undefined) counters.delete(oldest);
      }
      counters.set(key, entry);
    }
    return entry;
  };

  return {
    admit(principal, model, cost = 1) {
      const tier = tierFor(principal);
      const id = principal.id;
      let quotaEntry: { window: number; count: number } | undefined;
      if (tier.quota !== undefined) {
        quotaEntry = counter(id, tier.quota);
        if (quotaEntry.count + cost > tier.quota.limit) {
          const retryAfterMs = (quotaEntry.window + 1) * tier.quota.windowMs - wallClock();
          throw new BallastError('RATE_LIMITED', `quota of ${tier.quota.limit} requests per window exhausted`, {
            retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)),
            details: { kind: 'quota', principal: id, limit: tier.quota.limit, windowMs: tier.quota.windowMs },
          });
        }
      }
      if (tier.limiter !== undefined) {
        const result = tier.limiter.take(tier.perModel ? `${id}\u0000${model}` : id, cost);
        if (!result.ok) {
          throw new BallastError('RATE_LIMITED', 'rate limit exceeded', {
            retryAfterMs: result.retryAfterMs,
            details: { kind: 'rate', principal: id },
          });
        }
      }
      // Counted only once the rate limit also admitted the call.
      if (quotaEntry !== undefined) quotaEntry.count += cost;
    },
    quotaLeft(principal) {
      const tier = tierFor(principal);
      if (tier.quota === undefined) return Number.POSITIVE_INFINITY;
      return Math.max(0, tier.quota.limit - counter(principal.id, tier.quota).count);
    },
  };
}
