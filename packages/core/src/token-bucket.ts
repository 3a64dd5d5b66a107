import { now } from './deadline.js';
import { BallastError } from './errors.js';
import { type Limiter, type LimiterCallOptions, TAKE_GRANTED, type TakeResult } from './limiter.js';

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

interface Bucket {
  tokens: number;
  updatedAt: number;
}

function checkOptional(name: string, value: unknown, min: number, integer: boolean): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new BallastError(
      'CONFIG',
      `TokenBucketLimiter: ${name} must be ${integer ? 'an integer' : 'a finite number'} >= ${min}, got ${String(value)}`,
      {
        details: { path: name },
      },
    );
  }
}

/*
 * Why not cockatiel or a rate-limit package: cockatiel has no rate limiter, and the usual npm
 * limiters are either framework-bound (express-rate-limit) or timer-driven per key. A token bucket
 * needs no timer at all: each key stores its tokens and the time they were counted, and refills
 * lazily on the next take. Memory is bounded by an LRU of keys kept in a Map's insertion order
 * (a hit moves its key to the end), so core needs no dependency for it.
 */

/**
 * A keyed token-bucket rate limiter with no timers and bounded memory, the in-process
 * {@link Limiter}. Each key gets a bucket of `burst` tokens refilled at `ratePerSecond`;
 * `take(key, cost)` spends tokens or says how long to wait. Framework-free: `rateLimit()` and
 * `@ballast/guard` use it unless given another limiter.
 *
 * @example
 * const limiter = new TokenBucketLimiter({ ratePerSecond: 10, burst: 20 });
 * const result = limiter.take('tenant-a');
 * if (!result.ok) console.log(`retry in ${result.retryAfterMs} ms`);
 */
export class TokenBucketLimiter implements Limiter {
  /** Tokens added per second, per key. */
  readonly ratePerSecond: number;
  /** Bucket size. */
  readonly burst: number;
  private readonly perMs: number;
  private readonly clock: () => number;
  private readonly maxKeys: number;
  private readonly buckets = new Map<string, Bucket>();
  // The key set last in `buckets` (the most recently used).
  private newest: string | undefined;

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
    checkOptional('burst', options.burst, 1, false);
    checkOptional('maxKeys', options.maxKeys, 1, true);
    if (options.clock !== undefined && typeof options.clock !== 'function') {
      throw new BallastError('CONFIG', 'TokenBucketLimiter: clock must be a function', { details: { path: 'clock' } });
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = options.burst ?? Math.max(1, ratePerSecond);
    this.perMs = ratePerSecond / 1000;
    this.clock = options.clock ?? now;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /**
   * Spends `cost` tokens of `key`'s bucket if it has them. Returns `{ ok: true }`, or
   * `{ ok: false, retryAfterMs }` with the wait until the bucket holds `cost` tokens (nothing is
   * spent then). A `cost` above `burst` can never be granted and throws `INVALID_INPUT`.
   *
   * @param key Whose bucket (a principal, a tenant, an IP). Default `''`.
   * @param cost Tokens to spend. Default 1.
   * @param at The current time in ms on the limiter's clock (default: read the clock); the
   *   {@link Limiter} call options are accepted too and ignored (an in-process take never waits).
   */
  take(key = '', cost = 1, at?: number | LimiterCallOptions): TakeResult {
    if (!(cost >= 0) || cost > this.burst) {
      throw new BallastError('INVALID_INPUT', `rate limit cost must be between 0 and burst (${this.burst}), got ${cost}`, {
        details: { cost, burst: this.burst },
      });
    }
    const time = typeof at === 'number' ? at : this.clock();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, updatedAt: time };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      this.buckets.set(key, bucket);
      this.newest = key;
    } else {
      // Most recently used goes last, so the first key is always the least recently used. A key
      // that is already last stays: a Map's delete leaves a hole its set cannot reuse, so moving
      // on every take churns (and periodically rebuilds) the table for nothing.
      if (key !== this.newest) {
        this.buckets.delete(key);
        this.buckets.set(key, bucket);
        this.newest = key;
      }
      if (time > bucket.updatedAt) {
        bucket.tokens = Math.min(this.burst, bucket.tokens + (time - bucket.updatedAt) * this.perMs);
        bucket.updatedAt = time;
      }
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return TAKE_GRANTED;
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil((cost - bucket.tokens) / this.perMs)) };
  }

  /** Tokens `key` has now (a full bucket for an unknown key). Spends nothing. */
  available(key = '', at?: number | LimiterCallOptions): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return this.burst;
    const time = typeof at === 'number' ? at : this.clock();
    return Math.min(this.burst, bucket.tokens + Math.max(0, time - bucket.updatedAt) * this.perMs);
  }

  /** Forgets one key (its bucket is full again), or every key. */
  reset(key?: string): void {
    if (key === undefined) this.buckets.clear();
    else this.buckets.delete(key);
    if (key === undefined || key === this.newest) this.newest = undefined;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}
