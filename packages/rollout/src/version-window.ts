import { SlidingWindow } from '@ballast/core';
import type { RolloutWindowMetrics } from './types.js';

/** Sums of a window (all counts exact, not sampled). */
export interface WindowTotals {
  requests: number;
  errors: number;
  /** Calls slower than the window's latency limit. */
  slow: number;
  compared: number;
  disagreed: number;
}

const REQUESTS = 0;
const ERRORS = 1;
const SLOW = 2;
const COMPARED = 3;
const DISAGREED = 4;

function emptyTotals(): WindowTotals {
  return { requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0 };
}

/**
 * One version's call statistics over the last `windowMs`, on core's {@link SlidingWindow}. Counts
 * are exact; latencies are kept up to a cap for the reported p95, while the p95 *limit* is checked
 * exactly by counting calls slower than the limit (p95 > L exactly when more than 5% of the calls
 * are slower than L).
 */
export class VersionWindow {
  private readonly window: SlidingWindow;
  // Totals since the last analysis tick. Promotion judges whole windows (tumbling), while breaches
  // are checked on the sliding totals after every call; a sliding view alone would let calls made
  // at the very start of a window slip out before the tick that judges it.
  private period: WindowTotals = emptyTotals();

  /**
   * @param windowMs length of the window, ms
   * @param buckets sub-buckets (the window slides in steps of `windowMs / buckets`)
   * @param slowMs latency limit counted exactly (`undefined`: not counted)
   * @param samples latencies kept for the p95 readout, across the whole window
   */
  constructor(
    readonly windowMs: number,
    buckets: number,
    private readonly slowMs: number | undefined,
    samples = 2048,
  ) {
    this.window = new SlidingWindow({ windowMs, buckets, counters: 5, samples });
  }

  /** Records one finished call. */
  record(at: number, latencyMs: number, failed: boolean): void {
    const window = this.window;
    window.add(REQUESTS, at);
    this.period.requests++;
    if (failed) {
      window.add(ERRORS, at);
      this.period.errors++;
    }
    if (this.slowMs !== undefined && latencyMs > this.slowMs) {
      window.add(SLOW, at);
      this.period.slow++;
    }
    window.observe(at, latencyMs);
  }

  /** Records one shadow comparison. */
  compare(at: number, agreed: boolean): void {
    this.window.add(COMPARED, at);
    this.period.compared++;
    if (!agreed) {
      this.window.add(DISAGREED, at);
      this.period.disagreed++;
    }
  }

  /** Totals since the previous call of `takePeriod()` (one analysis window), and starts a new period. */
  takePeriod(): WindowTotals {
    const period = this.period;
    this.period = emptyTotals();
    return period;
  }

  /** Exact sums over the window ending at `at`. */
  totals(at: number): WindowTotals {
    const window = this.window;
    return {
      requests: window.sum(REQUESTS, at),
      errors: window.sum(ERRORS, at),
      slow: window.sum(SLOW, at),
      compared: window.sum(COMPARED, at),
      disagreed: window.sum(DISAGREED, at),
    };
  }

  /** The 95th percentile (nearest rank) of the kept latencies, or `undefined` without calls. */
  p95(at: number): number | undefined {
    return this.window.quantile(0.95, at);
  }

  /** The window as reported in events and status (`totals` overrides the sliding counts, e.g. with a period's). */
  snapshot(at: number, driftScore: number | undefined, withShadow: boolean, totals?: WindowTotals): RolloutWindowMetrics {
    const t = totals ?? this.totals(at);
    const metrics: RolloutWindowMetrics = {
      requests: t.requests,
      errors: t.errors,
      errorRate: t.requests === 0 ? 0 : t.errors / t.requests,
    };
    const p95 = this.p95(at);
    if (p95 !== undefined) metrics.p95Ms = Math.round(p95 * 1000) / 1000;
    if (driftScore !== undefined) metrics.driftScore = driftScore;
    if (withShadow) {
      metrics.shadowCompared = t.compared;
      metrics.disagreementRate = t.compared === 0 ? 0 : t.disagreed / t.compared;
    }
    return metrics;
  }
}

/** True when more than 5% of `requests` were slower than the limit, i.e. the p95 exceeds it. */
export function p95Exceeds(totals: WindowTotals): boolean {
  return totals.slow > totals.requests - Math.ceil(0.95 * totals.requests);
}
