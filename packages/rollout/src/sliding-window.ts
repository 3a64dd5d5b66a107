import type { RolloutWindowMetrics } from './types.js';

/** Counts of one sub-bucket of a {@link SlidingWindow}. */
interface Bucket {
  /** Absolute bucket number (`floor(at / bucketMs)`); tells a stale slot from a live one. */
  index: number;
  requests: number;
  errors: number;
  /** Calls slower than the window's latency limit. */
  slow: number;
  compared: number;
  disagreed: number;
  /** Recent latencies of the bucket (a ring of at most `sampleCap` entries) for the p95 readout. */
  latencies: number[];
  next: number;
}

/** Sums of a window (all counts exact, not sampled). */
export interface WindowTotals {
  requests: number;
  errors: number;
  slow: number;
  compared: number;
  disagreed: number;
}

function emptyBucket(): Bucket {
  return { index: Number.NEGATIVE_INFINITY, requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0, latencies: [], next: 0 };
}

/**
 * Per-version call statistics over the last `windowMs`, kept in a ring of sub-buckets so that
 * old calls fall out without a per-call timer. Counts are exact; latencies are kept up to a cap
 * per bucket for the reported p95, while the p95 *limit* is checked exactly by counting calls
 * slower than the limit (p95 > L exactly when more than 5% of the calls are slower than L).
 */
export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly slots: Bucket[];
  private readonly sampleCap: number;
  // Totals since the last analysis tick. Promotion judges whole windows (tumbling), while breaches
  // are checked on the sliding totals after every call; a sliding view alone would let calls made
  // at the very start of a window slip out before the tick that judges it.
  private period: WindowTotals = { requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0 };

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
    this.bucketMs = windowMs / buckets;
    this.slots = Array.from({ length: buckets }, emptyBucket);
    this.sampleCap = Math.max(1, Math.ceil(samples / buckets));
  }

  private slot(at: number): Bucket {
    const index = Math.floor(at / this.bucketMs);
    const n = this.slots.length;
    const bucket = this.slots[((index % n) + n) % n] as Bucket;
    if (bucket.index !== index) {
      bucket.index = index;
      bucket.requests = 0;
      bucket.errors = 0;
      bucket.slow = 0;
      bucket.compared = 0;
      bucket.disagreed = 0;
      bucket.latencies.length = 0;
      bucket.next = 0;
    }
    return bucket;
  }

  /** Records one finished call. */
  record(at: number, latencyMs: number, failed: boolean): void {
    const bucket = this.slot(at);
    bucket.requests++;
    this.period.requests++;
    if (failed) {
      bucket.errors++;
      this.period.errors++;
    }
    if (this.slowMs !== undefined && latencyMs > this.slowMs) {
      bucket.slow++;
      this.period.slow++;
    }
    if (bucket.latencies.length < this.sampleCap) bucket.latencies.push(latencyMs);
    else {
      bucket.latencies[bucket.next] = latencyMs;
      bucket.next = (bucket.next + 1) % this.sampleCap;
    }
  }

  /** Records one shadow comparison. */
  compare(at: number, agreed: boolean): void {
    const bucket = this.slot(at);
    bucket.compared++;
    this.period.compared++;
    if (!agreed) {
      bucket.disagreed++;
      this.period.disagreed++;
    }
  }

  /** Totals since the previous call of `takePeriod()` (one analysis window), and starts a new period. */
  takePeriod(): WindowTotals {
    const period = this.period;
    this.period = { requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0 };
    return period;
  }

  private live(at: number): Bucket[] {
    const current = Math.floor(at / this.bucketMs);
    const oldest = current - this.slots.length;
    return this.slots.filter((b) => b.index > oldest && b.index <= current);
  }

  /** Exact sums over the window ending at `at`. */
  totals(at: number): WindowTotals {
    // Runs after every candidate call (the breach check): the slots are summed in place, with no
    // array of live buckets built per call.
    const current = Math.floor(at / this.bucketMs);
    const oldest = current - this.slots.length;
    const totals: WindowTotals = { requests: 0, errors: 0, slow: 0, compared: 0, disagreed: 0 };
    for (const b of this.slots) {
      if (b.index <= oldest || b.index > current) continue;
      totals.requests += b.requests;
      totals.errors += b.errors;
      totals.slow += b.slow;
      totals.compared += b.compared;
      totals.disagreed += b.disagreed;
    }
    return totals;
  }

  /** The 95th percentile (nearest rank) of the kept latencies, or `undefined` without calls. */
  p95(at: number): number | undefined {
    const all: number[] = [];
    for (const b of this.live(at)) all.push(...b.latencies);
    if (all.length === 0) return undefined;
    all.sort((a, b) => a - b);
    return all[Math.ceil(0.95 * all.length) - 1];
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
