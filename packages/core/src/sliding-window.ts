/*
 * A time-bucketed sliding window of counters and samples, shared by the breaker, the retry and
 * hedge budgets and the rollout analysis. Why not a list of timestamps (or a library): every call
 * of those policies is recorded, and a ring of fixed buckets in typed arrays makes a record an
 * index computation and an addition with no allocation, at the cost of a window that slides in
 * `windowMs / buckets` steps. Counters are addressed by index so the hot path does no lookup.
 */
import { BallastError } from './errors.js';

/** Options of {@link SlidingWindow}. */
export interface SlidingWindowOptions {
  /** Length of the window, ms (any clock, e.g. `now()`; times may be negative). */
  windowMs: number;
  /** Buckets of the ring: the window slides in steps of `windowMs / buckets`. Default `10`. */
  buckets?: number;
  /** Counters per bucket, addressed by index `0 .. counters - 1` in `add()` and `sum()`. Default `1`. */
  counters?: number;
  /**
   * Values kept for `quantile()` (e.g. latencies) across the whole window: each bucket keeps its
   * newest `ceil(samples / buckets)`. Default `0` (no values kept, `observe()` does nothing).
   */
  samples?: number;
}

function checkCount(value: unknown, path: string, least: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
    throw new BallastError('CONFIG', `SlidingWindow: "${path}" must be an integer >= ${least}, got ${String(value)}`, {
      details: { path },
    });
  }
  return value;
}

/**
 * Counters (and optionally sampled values) over the last `windowMs`, kept in a ring of buckets so
 * that old entries fall out without a timer: a bucket is reset when the clock reaches it again.
 * Sums are exact; quantiles are read from the kept samples (nearest rank).
 *
 * @example
 * const CALLS = 0;
 * const FAILURES = 1;
 * const window = new SlidingWindow({ windowMs: 10_000, buckets: 10, counters: 2, samples: 1000 });
 * window.add(CALLS, now());
 * window.add(FAILURES, now());
 * window.observe(now(), 12.5); // a latency, for quantile()
 * const failureRatio = window.sum(FAILURES, now()) / window.sum(CALLS, now());
 * const p95 = window.quantile(0.95, now());
 */
export class SlidingWindow {
  /** Length of the window, ms. */
  readonly windowMs: number;
  /** Buckets of the ring. */
  readonly buckets: number;
  /** Counters per bucket. */
  readonly counters: number;
  private readonly bucketMs: number;
  /** Absolute bucket number held by each slot (`floor(at / bucketMs)`), NaN while empty. */
  private readonly stamps: Float64Array;
  private readonly counts: Float64Array;
  private readonly sampleCap: number;
  private readonly values: Float64Array;
  /** Samples held by each slot (at most `sampleCap`), and where the next one overwrites. */
  private readonly held: Uint32Array;
  private readonly next: Uint32Array;

  /** @throws BallastError `CONFIG` for a non-positive `windowMs` or a bad count. */
  constructor(options: SlidingWindowOptions) {
    if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'SlidingWindow expects an options object');
    const { windowMs, buckets = 10, counters = 1, samples = 0 } = options;
    if (typeof windowMs !== 'number' || !(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new BallastError('CONFIG', `SlidingWindow: "windowMs" must be a positive number, got ${String(windowMs)}`, {
        details: { path: 'windowMs' },
      });
    }
    this.windowMs = windowMs;
    this.buckets = checkCount(buckets, 'buckets', 1);
    this.counters = checkCount(counters, 'counters', 1);
    checkCount(samples, 'samples', 0);
    this.bucketMs = windowMs / buckets;
    this.stamps = new Float64Array(buckets).fill(Number.NaN);
    this.counts = new Float64Array(buckets * counters);
    this.sampleCap = samples === 0 ? 0 : Math.ceil(samples / buckets);
    this.values = new Float64Array(buckets * this.sampleCap);
    this.held = new Uint32Array(buckets);
    this.next = new Uint32Array(buckets);
  }

  private check(counter: number): void {
    if (!(counter >= 0 && counter < this.counters) || (counter | 0) !== counter) {
      throw new BallastError('INVALID_INPUT', `SlidingWindow: no counter ${String(counter)} (has ${this.counters})`, {
        details: { path: 'counter' },
      });
    }
  }

  /** The slot of time `at`, reset first when it still holds an older bucket. */
  private slot(at: number): number {
    const index = Math.floor(at / this.bucketMs);
    if (!Number.isFinite(index)) {
      throw new BallastError('INVALID_INPUT', `SlidingWindow: the time must be a finite number, got ${String(at)}`, {
        details: { path: 'at' },
      });
    }
    let slot = index % this.buckets;
    if (slot < 0) slot += this.buckets;
    if (this.stamps[slot] !== index) {
      this.stamps[slot] = index;
      this.counts.fill(0, slot * this.counters, slot * this.counters + this.counters);
      this.held[slot] = 0;
      this.next[slot] = 0;
    }
    return slot;
  }

  /**
   * Adds `n` to counter `counter` at time `at`.
   * @throws BallastError `INVALID_INPUT` for a counter outside `0 .. counters - 1` or a non-finite time.
   */
  add(counter: number, at: number, n = 1): void {
    this.check(counter);
    const cell = this.slot(at) * this.counters + counter;
    this.counts[cell] = (this.counts[cell] as number) + n;
  }

  /**
   * Sum of counter `counter` over the window ending at `at`.
   * @throws BallastError `INVALID_INPUT` for a counter outside `0 .. counters - 1`.
   */
  sum(counter: number, at: number): number {
    this.check(counter);
    const index = Math.floor(at / this.bucketMs);
    const oldest = index - this.buckets;
    let total = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      // NaN (an empty slot) fails both comparisons.
      const stamp = this.stamps[slot] as number;
      if (stamp > oldest && stamp <= index) total += this.counts[slot * this.counters + counter] as number;
    }
    return total;
  }

  /** Keeps `value` (e.g. a latency) at time `at` for `quantile()`; a full bucket drops its oldest value. */
  observe(at: number, value: number): void {
    const slot = this.slot(at);
    const cap = this.sampleCap;
    if (cap === 0) return;
    const held = this.held[slot] as number;
    if (held < cap) {
      this.values[slot * cap + held] = value;
      this.held[slot] = held + 1;
    } else {
      const next = this.next[slot] as number;
      this.values[slot * cap + next] = value;
      this.next[slot] = (next + 1) % cap;
    }
  }

  /**
   * The `q` quantile (0..1, nearest rank) of the values kept over the window ending at `at`, or
   * `undefined` when none are kept.
   */
  quantile(q: number, at: number): number | undefined {
    const cap = this.sampleCap;
    if (cap === 0) return undefined;
    const index = Math.floor(at / this.bucketMs);
    const oldest = index - this.buckets;
    let count = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      const stamp = this.stamps[slot] as number;
      if (stamp > oldest && stamp <= index) count += this.held[slot] as number;
    }
    if (count === 0) return undefined;
    const all = new Float64Array(count);
    let filled = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      const stamp = this.stamps[slot] as number;
      if (!(stamp > oldest && stamp <= index)) continue;
      const held = this.held[slot] as number;
      all.set(this.values.subarray(slot * cap, slot * cap + held), filled);
      filled += held;
    }
    all.sort();
    const rank = Math.min(count, Math.max(1, Math.ceil(q * count)));
    return all[rank - 1];
  }

  /** Forgets everything. */
  clear(): void {
    this.stamps.fill(Number.NaN);
    this.counts.fill(0);
    this.held.fill(0);
    this.next.fill(0);
  }
}
