import { SlidingWindow } from '@ballast/core';

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
    this.window = new SlidingWindow({ windowMs, buckets: 10, counters: 2 });
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
