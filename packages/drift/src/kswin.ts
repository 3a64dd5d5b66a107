import { seededRandom } from '@ballast/core';
import { checkOption, checkValue, type DriftDetector } from './detector.js';
import { ksTest } from './ks.js';

/** Options of {@link KSWIN} (River's defaults). */
export interface KswinOptions {
  /** Significance level of the KS test. Default 0.005. */
  alpha?: number;
  /** Length of the sliding window. Default 100. */
  windowSize?: number;
  /** Length of the most recent part compared with a random sample of the older part. Default 30. */
  statSize?: number;
  /** Seed of the sampling PRNG (reproducible detections). Default 1. */
  seed?: number;
  /** Values to start the window with (avoids a cold start). */
  window?: readonly number[];
}

/**
 * Kolmogorov-Smirnov Windowing (Raab et al. 2020), as River's `drift.KSWIN`: each update compares
 * the last `statSize` values with `statSize` values drawn from the rest of the window and fires
 * when the KS p-value is ≤ `alpha` and the statistic exceeds 0.1. The draw uses Ballast's seeded
 * PRNG, so detections match River's in distribution, not index for index.
 *
 * @example
 * const kswin = new KSWIN({ alpha: 0.0001, seed: 42 });
 * for (const x of stream) if (kswin.update(x).driftDetected) console.log('distribution changed');
 */
export class KSWIN implements DriftDetector {
  /** See the `alpha` option. */
  readonly alpha: number;
  /** See the `windowSize` option. */
  readonly windowSize: number;
  /** See the `statSize` option. */
  readonly statSize: number;
  /** See the `seed` option. */
  readonly seed: number;
  #window: number[] = [];
  #random: () => number;
  #drift = false;
  #pValue = 1;

  constructor(options: KswinOptions = {}) {
    const { alpha = 0.005, windowSize = 100, statSize = 30, seed = 1, window } = options;
    this.alpha = checkOption('alpha', alpha, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    this.windowSize = checkOption('windowSize', windowSize, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
    this.statSize = checkOption(
      'statSize',
      statSize,
      (v) => Number.isInteger(v) && v > 0 && 2 * v <= windowSize,
      'a positive integer at most half of windowSize',
    );
    this.seed = seed;
    this.#random = seededRandom(seed);
    if (window) {
      for (const v of window) checkValue(v);
      this.#window = window.slice(-windowSize);
    }
  }

  /** True when the last update detected a change. */
  get driftDetected(): boolean {
    return this.#drift;
  }
  /** p-value of the last KS test (1 before the window is full). */
  get pValue(): number {
    return this.#pValue;
  }

  reset(): void {
    this.#window = [];
    this.#random = seededRandom(this.seed);
    this.#drift = false;
    this.#pValue = 1;
  }

  update(value: number): this {
    checkValue(value);
    if (this.#drift) this.reset();
    this.#window.push(value);
    if (this.#window.length > this.windowSize) this.#window.shift();
    if (this.#window.length < this.windowSize) {
      this.#drift = false;
      return this;
    }
    const older = this.windowSize - this.statSize;
    // Partial Fisher-Yates: statSize distinct indices among the older part, without replacement.
    const indices = Array.from({ length: older }, (_, i) => i);
    const sample: number[] = [];
    for (let i = 0; i < this.statSize; i++) {
      const j = i + Math.floor(this.#random() * (older - i));
      [indices[i], indices[j]] = [indices[j] as number, indices[i] as number];
      sample.push(this.#window[indices[i] as number] as number);
    }
    const recent = this.#window.slice(older);
    const { statistic, pValue } = ksTest(sample, recent);
    this.#pValue = pValue;
    if (pValue <= this.alpha && statistic > 0.1) {
      this.#drift = true;
      this.#window = recent;
    } else {
      this.#drift = false;
    }
    return this;
  }
}
