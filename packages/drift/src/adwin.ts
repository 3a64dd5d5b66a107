import { checkOption, checkValue, type DriftDetector } from './detector.js';

/** Options of {@link ADWIN} (River's defaults). */
export interface AdwinOptions {
  /** Confidence value. Default 0.002. */
  delta?: number;
  /** Check for change every `clock` values. Default 32. */
  clock?: number;
  /** Buckets of each size kept before merging. Default 5. */
  maxBuckets?: number;
  /** Minimum length of each sub-window. Default 5. */
  minWindowLength?: number;
  /** No detection before this many values. Default 10. */
  gracePeriod?: number;
}

/** One row of the exponential histogram: up to maxBuckets + 1 buckets of size 2^row. */
class BucketRow {
  readonly totals: Float64Array;
  readonly variances: Float64Array;
  size = 0;
  constructor(maxBuckets: number) {
    this.totals = new Float64Array(maxBuckets + 1);
    this.variances = new Float64Array(maxBuckets + 1);
  }
  insert(total: number, variance: number): void {
    this.totals[this.size] = total;
    this.variances[this.size] = variance;
    this.size += 1;
  }
  /** Drops the `count` oldest buckets. */
  compress(count: number): void {
    this.totals.copyWithin(0, count);
    this.variances.copyWithin(0, count);
    this.totals.fill(0, this.totals.length - count);
    this.variances.fill(0, this.variances.length - count);
    this.size -= count;
  }
}

/**
 * ADaptive WINdowing change detector (Bifet & Gavaldà 2007), ported from River's `drift.ADWIN`
 * (same bucket compression, cut evaluation and clock) so that detections fall on the same indices.
 * Memory is O(maxBuckets · log(window)).
 *
 * @example
 * const adwin = new ADWIN();
 * for (const error of errors) if (adwin.update(error).driftDetected) console.log('error rate changed');
 */
export class ADWIN implements DriftDetector {
  /** See the `delta` option. */
  readonly delta: number;
  /** See the `clock` option. */
  readonly clock: number;
  /** See the `maxBuckets` option. */
  readonly maxBuckets: number;
  /** See the `minWindowLength` option. */
  readonly minWindowLength: number;
  /** See the `gracePeriod` option. */
  readonly gracePeriod: number;
  #rows: BucketRow[] = [];
  #total = 0;
  #variance = 0;
  #width = 0;
  #tick = 0;
  #detections = 0;
  #drift = false;

  constructor(options: AdwinOptions = {}) {
    const { delta = 0.002, clock = 32, maxBuckets = 5, minWindowLength = 5, gracePeriod = 10 } = options;
    this.delta = checkOption('delta', delta, (v) => v > 0 && v < 1, 'in (0, 1)');
    this.clock = checkOption('clock', clock, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
    this.maxBuckets = checkOption('maxBuckets', maxBuckets, (v) => Number.isInteger(v) && v >= 2, 'an integer >= 2');
    this.minWindowLength = checkOption('minWindowLength', minWindowLength, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
    this.gracePeriod = checkOption('gracePeriod', gracePeriod, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    this.reset();
  }

  /** True when the last update detected a change. */
  get driftDetected(): boolean {
    return this.#drift;
  }
  /** Current window length. */
  get width(): number {
    return this.#width;
  }
  /** Mean of the current window. */
  get estimation(): number {
    return this.#width === 0 ? 0 : this.#total / this.#width;
  }
  /** Changes detected since construction or reset. */
  get detections(): number {
    return this.#detections;
  }

  reset(): void {
    this.#rows = [new BucketRow(this.maxBuckets)];
    this.#total = 0;
    this.#variance = 0;
    this.#width = 0;
    this.#tick = 0;
    this.#detections = 0;
    this.#drift = false;
  }

  update(value: number): this {
    checkValue(value);
    this.#insert(value);
    this.#drift = this.#detectChange();
    return this;
  }

  #insert(value: number): void {
    (this.#rows[0] as BucketRow).insert(value, 0);
    this.#width += 1;
    if (this.#width > 1) {
      const d = value - this.#total / (this.#width - 1);
      this.#variance += ((this.#width - 1) * d * d) / this.#width;
    }
    this.#total += value;
    this.#compress();
  }

  #compress(): void {
    let idx = 0;
    let row: BucketRow | undefined = this.#rows[0];
    while (row !== undefined) {
      if (row.size !== this.maxBuckets + 1) break;
      let next = this.#rows[idx + 1];
      if (next === undefined) {
        next = new BucketRow(this.maxBuckets);
        this.#rows.push(next);
      }
      const n = 2 ** idx;
      const mu1 = (row.totals[0] as number) / n;
      const mu2 = (row.totals[1] as number) / n;
      const total12 = (row.totals[0] as number) + (row.totals[1] as number);
      const temp = (n * n * (mu1 - mu2) * (mu1 - mu2)) / (n + n);
      next.insert(total12, (row.variances[0] as number) + (row.variances[1] as number) + temp);
      row.compress(2);
      if (next.size <= this.maxBuckets) break;
      row = this.#rows[idx + 1];
      idx += 1;
    }
  }

  #deleteOldest(): number {
    const last = this.#rows.length - 1;
    const row = this.#rows[last] as BucketRow;
    const n = 2 ** last;
    const u = row.totals[0] as number;
    const mu = u / n;
    const v = row.variances[0] as number;
    this.#width -= n;
    this.#total -= u;
    const muWindow = this.#total / this.#width;
    this.#variance -= v + (n * this.#width * (mu - muWindow) * (mu - muWindow)) / (n + this.#width);
    row.compress(1);
    if (row.size === 0) this.#rows.pop();
    return n;
  }

  #evaluateCut(n0: number, n1: number, deltaMean: number): boolean {
    const deltaPrime = Math.log((2 * Math.log(this.#width)) / this.delta);
    const mRecip = 1 / (n0 - this.minWindowLength + 1) + 1 / (n1 - this.minWindowLength + 1);
    const epsilon = Math.sqrt(2 * mRecip * (this.#variance / this.#width) * deltaPrime) + (2 / 3) * deltaPrime * mRecip;
    return Math.abs(deltaMean) > epsilon;
  }

  #detectChange(): boolean {
    let changed = false;
    this.#tick += 1;
    if (this.#tick % this.clock === 0 && this.#width > this.gracePeriod) {
      let reduce = true;
      while (reduce) {
        reduce = false;
        let exit = false;
        let n0 = 0;
        let n1 = this.#width;
        let u0 = 0;
        let u1 = this.#total;
        for (let idx = this.#rows.length - 1; idx >= 0 && !exit; idx--) {
          const row = this.#rows[idx] as BucketRow;
          const size = 2 ** idx;
          for (let k = 0; k < row.size - 1; k++) {
            n0 += size;
            n1 -= size;
            u0 += row.totals[k] as number;
            u1 -= row.totals[k] as number;
            if (idx === 0 && k === row.size - 1) {
              exit = true;
              break;
            }
            const deltaMean = u0 / n0 - u1 / n1;
            if (n1 >= this.minWindowLength && n0 >= this.minWindowLength && this.#evaluateCut(n0, n1, deltaMean)) {
              reduce = true;
              changed = true;
              if (this.#width > 0) {
                n0 -= this.#deleteOldest();
                exit = true;
                break;
              }
            }
          }
        }
      }
    }
    if (changed) this.#detections += 1;
    return changed;
  }
}
