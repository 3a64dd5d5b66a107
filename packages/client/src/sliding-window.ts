/*
 * A time-bucketed sliding window of counters. Why not a list of timestamps: the breaker, the retry
 * budget and the hedge budget record every call, and a ring of fixed buckets makes that an index
 * computation and an addition with no allocation, at the cost of a window that slides in
 * `windowMs / buckets` steps.
 */

/** @internal Counters over the last `windowMs`, in `buckets` steps. */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly stamps: Float64Array;
  private readonly counts: Float64Array;

  constructor(
    windowMs: number,
    private readonly buckets: number,
    private readonly metrics: number,
  ) {
    this.bucketMs = windowMs / buckets;
    this.stamps = new Float64Array(buckets).fill(-1);
    this.counts = new Float64Array(buckets * metrics);
  }

  /** Adds `n` to counter `metric` at time `at`. */
  add(metric: number, at: number, n = 1): void {
    const index = Math.floor(at / this.bucketMs);
    const slot = index % this.buckets;
    if (this.stamps[slot] !== index) {
      this.stamps[slot] = index;
      this.counts.fill(0, slot * this.metrics, slot * this.metrics + this.metrics);
    }
    const cell = slot * this.metrics + metric;
    this.counts[cell] = (this.counts[cell] as number) + n;
  }

  /** Sum of counter `metric` over the window ending at `at`. */
  sum(metric: number, at: number): number {
    const index = Math.floor(at / this.bucketMs);
    let total = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      const stamp = this.stamps[slot] as number;
      if (stamp > index - this.buckets && stamp <= index) total += this.counts[slot * this.metrics + metric] as number;
    }
    return total;
  }

  /** Forgets everything. */
  clear(): void {
    this.stamps.fill(-1);
    this.counts.fill(0);
  }
}

const CALLS = 0;
const EXTRA = 1;

/**
 * @internal A load budget for extra upstream work (retries, hedges): over a sliding window, the
 * extra calls may reach `ratio` of the calls, and at least `minPerSecond` per second of window, so
 * a quiet service can still retry or hedge while a failing one is not flooded.
 */
export class LoadBudget {
  private readonly window: SlidingWindow;
  private readonly floor: number;

  constructor(
    windowMs: number,
    private readonly ratio: number,
    minPerSecond: number,
  ) {
    this.window = new SlidingWindow(windowMs, 10, 2);
    this.floor = minPerSecond * (windowMs / 1000);
  }

  /** Counts `n` calls at time `at`. */
  addCalls(at: number, n = 1): void {
    this.window.add(CALLS, at, n);
  }

  /** Takes one extra call at time `at` when the budget has room; false (nothing taken) when it has none. */
  tryTake(at: number): boolean {
    const window = this.window;
    if (window.sum(EXTRA, at) + 1 > Math.max(this.floor, this.ratio * window.sum(CALLS, at))) return false;
    window.add(EXTRA, at);
    return true;
  }
}
