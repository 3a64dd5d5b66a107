import { checkOption, checkValue, type DriftDetector } from './detector.js';

/** Options of {@link DDM} (River's defaults). */
export interface DdmOptions {
  /** Values seen before a warning or drift may fire. Default 30. */
  warmStart?: number;
  /** Standard deviations above the best error rate that raise a warning. Default 2. */
  warningThreshold?: number;
  /** Standard deviations above the best error rate that signal drift. Default 3. */
  driftThreshold?: number;
}

/**
 * Drift Detection Method (Gama et al. 2004) for a stream of errors (1 = wrong, 0 = right), as
 * River's `drift.binary.DDM`: tracks the error rate p and its binomial deviation s and fires when
 * p + s rises `driftThreshold` deviations above its recorded minimum.
 *
 * @example
 * const ddm = new DDM();
 * for (const wrong of outcomes) if (ddm.update(wrong ? 1 : 0).driftDetected) console.log('accuracy dropped');
 */
export class DDM implements DriftDetector {
  /** See the `warmStart` option. */
  readonly warmStart: number;
  /** See the `warningThreshold` option. */
  readonly warningThreshold: number;
  /** See the `driftThreshold` option. */
  readonly driftThreshold: number;
  #n = 0;
  #mean = 0;
  #pMin = Number.NaN;
  #sMin = Number.NaN;
  #psMin = Number.POSITIVE_INFINITY;
  #drift = false;
  #warning = false;

  constructor(options: DdmOptions = {}) {
    const { warmStart = 30, warningThreshold = 2, driftThreshold = 3 } = options;
    this.warmStart = checkOption('warmStart', warmStart, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
    this.warningThreshold = checkOption('warningThreshold', warningThreshold, (v) => v > 0, 'positive');
    this.driftThreshold = checkOption('driftThreshold', driftThreshold, (v) => v > 0, 'positive');
  }

  /** True when the last update detected a change. */
  get driftDetected(): boolean {
    return this.#drift;
  }
  /** True while the error rate is in the warning zone. */
  get warningDetected(): boolean {
    return this.#warning;
  }
  /** Current error-rate estimate. */
  get errorRate(): number {
    return this.#mean;
  }

  reset(): void {
    this.#n = 0;
    this.#mean = 0;
    this.#pMin = Number.NaN;
    this.#sMin = Number.NaN;
    this.#psMin = Number.POSITIVE_INFINITY;
    this.#drift = false;
    this.#warning = false;
  }

  update(value: number): this {
    checkValue(value);
    if (this.#drift) this.reset();
    this.#n += 1;
    this.#mean += (value - this.#mean) / this.#n;
    const p = this.#mean;
    const s = Math.sqrt((p * (1 - p)) / this.#n);
    if (this.#n > this.warmStart) {
      if (p + s <= this.#psMin) {
        this.#pMin = p;
        this.#sMin = s;
        this.#psMin = p + s;
      }
      this.#warning = p + s > this.#pMin + this.warningThreshold * this.#sMin;
      if (p + s > this.#pMin + this.driftThreshold * this.#sMin) {
        this.#drift = true;
        this.#warning = false;
      }
    }
    return this;
  }
}
