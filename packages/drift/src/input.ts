import { BallastError } from '@ballast/core';

/** Numeric samples the tests accept. */
export type NumericSample = readonly number[] | Float64Array | Float32Array;

/** A cleaned sample: finite values only, and how many were dropped. */
export interface CleanSample {
  /** The finite values, in input order. */
  values: Float64Array;
  /** NaN and ±Infinity values dropped. */
  dropped: number;
}

/**
 * Copies the finite values of `sample` into a Float64Array and counts the rest (NaN, ±Infinity,
 * and in plain arrays anything that is not a number). Throws `INVALID_INPUT` when the input is not
 * an array or when no finite value remains (`minimum` finite values required).
 */
export function cleanSample(sample: NumericSample, name: string, minimum = 1): CleanSample {
  if (!(Array.isArray(sample) || sample instanceof Float64Array || sample instanceof Float32Array)) {
    throw new BallastError('INVALID_INPUT', `${name} must be an array, Float64Array or Float32Array of numbers`, {
      details: { argument: name },
    });
  }
  const length = sample.length;
  const values = new Float64Array(length);
  let count = 0;
  for (let i = 0; i < length; i++) {
    const value = sample[i];
    if (typeof value === 'number' && Number.isFinite(value)) values[count++] = value;
  }
  if (count < minimum) {
    throw new BallastError('INVALID_INPUT', `${name} needs at least ${minimum} finite value${minimum === 1 ? '' : 's'}, got ${count}`, {
      details: { argument: name, finite: count, dropped: length - count },
    });
  }
  return { values: count === length ? values : values.slice(0, count), dropped: length - count };
}
