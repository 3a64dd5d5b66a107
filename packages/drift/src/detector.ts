import { BallastError } from '@ballast/core';

/** What every online detector offers (River's shape). */
export interface DriftDetector {
  /** Adds one value; returns the detector so `detector.update(x).driftDetected` reads naturally. */
  update(value: number): this;
  /** True when the last `update` detected a change (the detector resets itself on the next update). */
  readonly driftDetected: boolean;
  /** Clears all state. */
  reset(): void;
}

/** @internal Validates a numeric option. */
export function checkOption(name: string, value: number, predicate: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !predicate(value)) {
    throw new BallastError('CONFIG', `${name} must be ${rule}, got ${String(value)}`, { details: { option: name } });
  }
  return value;
}

/** @internal Rejects non-finite stream values. */
export function checkValue(value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new BallastError('INVALID_INPUT', `detector values must be finite numbers, got ${String(value)}`);
  }
}
