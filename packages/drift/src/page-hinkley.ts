import { checkOption, checkValue, type DriftDetector } from './detector.js';

/** Options of {@link PageHinkley} (River's defaults). */
export interface PageHinkleyOptions {
  /** Values seen before a detection may fire. Default 30. */
  minInstances?: number;
  /** Magnitude of change tolerated, in the stream's unit. Default 0.005. */
  delta?: number;
  /** Detection threshold (lambda). Default 50. */
  threshold?: number;
  /** Forgetting factor of the cumulative sums. Default 0.9999. */
  alpha?: number;
  /** Detect increases (`up`), decreases (`down`) or `both` (default). */
  mode?: 'up' | 'down' | 'both';
}

/**
 * Page-Hinkley change detector for the mean of a stream, as River's `drift.PageHinkley`: the
 * running mean is updated before the deviation, cumulative sums of deviations (with forgetting
 * factor `alpha`) are compared with their extremes, two-sided by default.
 *
 * @example
 * const ph = new PageHinkley();
 * for (const latency of stream) if (ph.update(latency).driftDetected) console.log('mean shifted');
 */
export class PageHinkley implements DriftDetector {
  /** See the `minInstances` option. */
  readonly minInstances: number;
  /** See the `delta` option. */
  readonly delta: number;
  /** See the `threshold` option. */
  readonly threshold: number;
  /** See the `alpha` option. */
  readonly alpha: number;
  /** See the `mode` option. */
  readonly mode: 'up' | 'down' | 'both';
  #n = 0;
  #mean = 0;
  #sumIncrease = 0;
  #sumDecrease = 0;
  #minIncrease = Number.POSITIVE_INFINITY;
  #maxDecrease = -1;
  #drift = false;

  constructor(options: PageHinkleyOptions = {}) {
    const { minInstances = 30, delta = 0.005, threshold = 50, alpha = 1 - 0.0001, mode = 'both' } = options;
    this.minInstances = checkOption('minInstances', minInstances, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
    this.delta = checkOption('delta', delta, (v) => v >= 0 && Number.isFinite(v), 'a finite number >= 0');
    this.threshold = checkOption('threshold', threshold, (v) => v > 0 && Number.isFinite(v), 'a positive number');
    this.alpha = checkOption('alpha', alpha, (v) => v > 0 && v <= 1, 'in (0, 1]');
    if (mode !== 'up' && mode !== 'down' && mode !== 'both') {
      checkOption('mode', Number.NaN, () => false, "'up', 'down' or 'both'");
    }
    this.mode = mode;
  }

  /** True when the last update detected a change. */
  get driftDetected(): boolean {
    return this.#drift;
  }

  /** Values seen since the last reset. */
  get count(): number {
    return this.#n;
  }

  reset(): void {
    this.#n = 0;
    this.#mean = 0;
    this.#sumIncrease = 0;
    this.#sumDecrease = 0;
    this.#minIncrease = Number.POSITIVE_INFINITY;
    this.#maxDecrease = -1;
    this.#drift = false;
  }

  update(value: number): this {
    checkValue(value);
    if (this.#drift) this.reset();
    this.#n += 1;
    this.#mean += (value - this.#mean) / this.#n;
    const deviation = value - this.#mean;
    this.#sumIncrease = this.alpha * this.#sumIncrease + deviation - this.delta;
    this.#sumDecrease = this.alpha * this.#sumDecrease + deviation + this.delta;
    if (this.#sumIncrease < this.#minIncrease) this.#minIncrease = this.#sumIncrease;
    if (this.#sumDecrease > this.#maxDecrease) this.#maxDecrease = this.#sumDecrease;
    if (this.#n >= this.minInstances) {
      const up = this.#sumIncrease - this.#minIncrease > this.threshold;
      const down = this.#maxDecrease - this.#sumDecrease > this.threshold;
      this.#drift = this.mode === 'up' ? up : this.mode === 'down' ? down : up || down;
    }
    return this;
  }
}
