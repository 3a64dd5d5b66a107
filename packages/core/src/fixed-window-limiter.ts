import { BallastError } from './errors.js';
import { type Limiter, type LimiterCallOptions, TAKE_GRANTED, type TakeResult } from './limiter.js';

/** Options of {@link FixedWindowLimiter}. */
export interface FixedWindowOptions {
  /** Units allowed per key in each window. Required, an integer >= 0. */
  limit: number;
  /** Window length, ms (windows start at multiples of it since the epoch; a day is 86_400_000). Required, > 0. */
  windowMs: number;
  /**
   * Most keys tracked at once. When full, the key whose first take in its current window came
   * earliest is dropped (and starts again with its whole limit). Default 10,000.
   */
  maxKeys?: number;
  /** Wall clock, ms since the epoch. Default `Date.now`. */
  wallClock?: () => number;
}

interface Counter {
  window: number;
  count: number;
}

/**
 * A keyed fixed-window counter, the in-process {@link Limiter} for quotas: at most `limit` units
 * per key in each window of `windowMs`, refused with the wait until the next window.
 *
 * @example
 * const quota = new FixedWindowLimiter({ limit: 100_000, windowMs: 86_400_000 });
 * if (!quota.take('tenant-a').ok) console.log('daily quota spent');
 */
export class FixedWindowLimiter implements Limiter {
  /** Units allowed per window. */
  readonly limit: number;
  /** Window length, ms. */
  readonly windowMs: number;
  /** The same as `limit`: the most a key can spend at once. */
  readonly burst: number;
  private readonly maxKeys: number;
  private readonly wallClock: () => number;
  // An entry is (re-)inserted only on its key's first take in a new window, so the Map's insertion
  // order puts the key that entered its window earliest first.
  private readonly counters = new Map<string, Counter>();

  constructor(options: FixedWindowOptions) {
    if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'FixedWindowLimiter: options must be an object');
    if (!Number.isInteger(options.limit) || options.limit < 0) {
      throw new BallastError('CONFIG', `FixedWindowLimiter: limit must be an integer >= 0, got ${String(options.limit)}`, {
        details: { path: 'limit' },
      });
    }
    if (!(options.windowMs > 0) || !Number.isFinite(options.windowMs)) {
      throw new BallastError('CONFIG', `FixedWindowLimiter: windowMs must be a finite number > 0, got ${String(options.windowMs)}`, {
        details: { path: 'windowMs' },
      });
    }
    this.limit = options.limit;
    this.burst = options.limit;
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.wallClock = options.wallClock ?? Date.now;
  }

  private counter(key: string, at: number): Counter {
    const window = Math.floor(at / this.windowMs);
    let entry = this.counters.get(key);
    if (entry === undefined || entry.window !== window) {
      entry = { window, count: 0 };
      this.counters.delete(key);
      if (this.counters.size >= this.maxKeys) {
        const oldest = this.counters.keys().next().value;
        if (oldest !== undefined) this.counters.delete(oldest);
      }
      this.counters.set(key, entry);
    }
    return entry;
  }

  /**
   * Counts `cost` units against `key`'s current window if they fit: `{ ok: true }`, or
   * `{ ok: false, retryAfterMs }` until the next window (nothing counted).
   */
  take(key = '', cost = 1, _options?: LimiterCallOptions): TakeResult {
    const at = this.wallClock();
    const entry = this.counter(key, at);
    if (entry.count + cost > this.limit) {
      return { ok: false, retryAfterMs: Math.max(1, Math.ceil((entry.window + 1) * this.windowMs - at)) };
    }
    entry.count += cost;
    return TAKE_GRANTED;
  }

  /** Units left in `key`'s current window. */
  available(key = '', _options?: LimiterCallOptions): number {
    return Math.max(0, this.limit - this.counter(key, this.wallClock()).count);
  }

  /** Keys tracked now. */
  get size(): number {
    return this.counters.size;
  }
}
