import { BallastError, now } from '@ballast/core';
import { LRUCache } from 'lru-cache';
import { checkFunction, checkNumber } from './options-check.js';

/** Options of {@link TokenBucketLimiter}. */
export interface TokenBucketOptions {
  /** Tokens added per second, per key. Required, > 0. */
  ratePerSecond: number;
  /** Bucket size: the most tokens a key can spend at once. Default `max(1, ratePerSecond)`. */
  burst?: number;
  /**
   * Most keys tracked at once. The least recently used key is dropped beyond it and starts
   * again with a full bucket, so set it above the number of keys active within `burst / ratePerSecond`
   * seconds. Default 10,000.
   */
  maxKeys?: number;
  /** The clock, in milliseconds. Default `performance.now()` (which fake timers replace in tests). */
  clock?: () => number;
}

/** What {@link TokenBucketLimiter.take} answers. */
export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

// One shared answer for the common case, so a granted take allocates nothing.
const GRANTED: TakeResult = Object.freeze({ ok: true });

/*
 * Why not cockatiel or a rate-limit package: cockatiel has no rate limiter, and the usual npm
 * limiters are either framework-bound (express-rate-limit) or timer-driven per key. A token bucket
 * needs no timer at all: each key stores its tokens and the time they were counted, and refills
 * lazily on the next take. Memory is bounded by an LRU of keys (lru-cache).
 */

/**
 * A keyed token-bucket rate limiter with no timers and bounded memory. Each key gets a bucket of
 * `burst` tokens refilled at `ratePerSecond`; `take(key, cost)` spends tokens or says how long to
 * wait. Framework-free: `rateLimit()` and `@ballast/guard` build on it.
 *
 * @example
 * const limiter = new TokenBucketLimiter({ ratePerSecond: 10, burst: 20 });
 * const result = limiter.take('tenant-a');
 * if (!result.ok) console.log(`retry in ${result.retryAfterMs} ms`);
 */
export class TokenBucketLimiter {
  /** Tokens added per second, per key. */
  readonly ratePerSecond: number;
  /** Bucket size. */
  readonly burst: number;
  private readonly perMs: number;
  private readonly clock: () => number;
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(options: TokenBucketOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new BallastError('CONFIG', 'TokenBucketLimiter: options must be an object');
    }
    const { ratePerSecond } = options;
    if (typeof ratePerSecond !== 'number' || !Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
      throw new BallastError('CONFIG', `TokenBucketLimiter: ratePerSecond must be a finite number > 0, got ${String(ratePerSecond)}`, {
        details: { path: 'ratePerSecond' },
      });
    }
    checkNumber('TokenBucketLimiter', 'burst', options.burst, 1);
    checkNumber('TokenBucketLimiter', 'maxKeys', options.maxKeys, 1, { integer: true });
    checkFunction('TokenBucketLimiter', 'clock', options.clock);
    this.ratePerSecond = ratePerSecond;
    this.burst = options.burst ?? Math.max(1, ratePerSecond);
    this.perMs = ratePerSecond / 1000;
    this.clock = options.clock ?? now;
    this.buckets = new LRUCache<string, Bucket>({ max: options.maxKeys ?? 10_000 });
  }

  /**
   * Spends `cost` tokens of `key`'s bucket if it has them. Returns `{ ok: true }`, or
   * `{ ok: false, retryAfterMs }` with the wait until the bucket holds `cost` tokens (nothing is
   * spent then). A `cost` above `burst` can never be granted and throws `INVALID_INPUT`.
   *
   * @param key Whose bucket (a principal, a tenant, an IP). Default `''`.
   * @param cost Tokens to spend. Default 1.
   * @param at The current time in ms on the limiter's clock (default: read the clock).
   */
  take(key = '', cost = 1, at: number = this.clock()): TakeResult {
    if (!(cost >= 0) || cost > this.burst) {
      throw new BallastError('INVALID_INPUT', `rate limit cost must be between 0 and burst (${this.burst}), got ${cost}`, {
        details: { cost, burst: this.burst },
      });
    }
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, updatedAt: at };
      this.buckets.set(key, bucket);
    } else if (at > bucket.updatedAt) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (at - bucket.updatedAt) * this.perMs);
      bucket.updatedAt = at;
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return GRANTED;
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil((cost - bucket.tokens) / this.perMs)) };
  }

  /** Tokens `key` has now (a full bucket for an unknown key). Spends nothing. */
  available(key = '', at: number = this.clock()): number {
    const bucket = this.buckets.peek(key);
    if (bucket === undefined) return this.burst;
    return Math.min(this.burst, bucket.tokens + Math.max(0, at - bucket.updatedAt) * this.perMs);
  }

  /** Forgets one key (its bucket is full again), or every key. */
  reset(key?: string): void {
    if (key === undefined) this.buckets.clear();
    else this.buckets.delete(key);
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}
