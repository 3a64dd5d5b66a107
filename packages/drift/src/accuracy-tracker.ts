import { BallastError } from '@ballast/core';
import { DDM } from './ddm.js';
import { publishAccuracyDrift } from './drift-events.js';
import type { AccuracyOptions, AccuracySummary } from './monitor-types.js';

/**
 * Accuracy once labels arrive: predictions wait (at most `maxPending`, oldest forgotten) for their
 * outcome; outcomes update accuracy, or the mean absolute error of numeric predictions, and a DDM
 * detector on the error stream whose detection is published as feature `__accuracy__`.
 */
export class AccuracyTracker {
  readonly #pending = new Map<string, string | number>();
  readonly #maxPending: number;
  readonly #ddm: DDM;
  #outcomes = 0;
  #correct = 0;
  #labelled = 0;
  #absoluteError = 0;
  #numericOutcomes = 0;
  #drifted = false;

  constructor(options: AccuracyOptions = {}) {
    this.#maxPending = options.maxPending ?? 10000;
    this.#ddm = new DDM(options.detector);
  }

  /** Outcomes recorded so far. */
  get outcomes(): number {
    return this.#outcomes;
  }

  /** Remembers a prediction until its label arrives. */
  recordPrediction(id: string, prediction: string | number): void {
    if (typeof id !== 'string') throw new BallastError('INVALID_INPUT', 'prediction id must be a string');
    this.#pending.delete(id);
    this.#pending.set(id, prediction);
    if (this.#pending.size > this.#maxPending) {
      const oldest = this.#pending.keys().next().value as string;
      this.#pending.delete(oldest);
    }
  }

  /** Records the true label of an earlier prediction; false when the id is unknown. */
  recordOutcome(monitor: string, id: string, label: string | number): boolean {
    const prediction = this.#pending.get(id);
    if (prediction === undefined) return false;
    this.#pending.delete(id);
    this.#outcomes++;
    let error: number;
    if (typeof prediction === 'number' && typeof label === 'number') {
      this.#numericOutcomes++;
      this.#absoluteError += Math.abs(prediction - label);
      return true;
    }
    this.#labelled++;
    if (String(prediction) === String(label)) {
      this.#correct++;
      error = 0;
    } else error = 1;
    if (this.#ddm.update(error).driftDetected) {
      this.#drifted = true;
      publishAccuracyDrift(monitor, this.#ddm.errorRate, this.#ddm.driftThreshold, this.#labelled);
    }
    return true;
  }

  /** Accuracy over the outcomes recorded so far. */
  get summary(): AccuracySummary {
    return {
      outcomes: this.#outcomes,
      accuracy: this.#labelled === 0 ? undefined : this.#correct / this.#labelled,
      meanAbsoluteError: this.#numericOutcomes === 0 ? undefined : this.#absoluteError / this.#numericOutcomes,
      drifted: this.#drifted,
    };
  }
}
