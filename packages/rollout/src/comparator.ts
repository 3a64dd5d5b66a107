import { BallastError } from '@ballast/core';

/**
 * Decides whether the candidate's output agrees with the stable version's output for the same
 * input. Return `true` when they agree. A comparator that throws counts as a disagreement.
 */
export type Comparator<O> = (stable: O, candidate: O) => boolean;

/** Options of {@link outputComparator}. */
export interface OutputComparatorOptions {
  /** Absolute tolerance for numbers. Default `1e-6`. */
  absoluteTolerance?: number;
  /** Relative tolerance for numbers (times the larger magnitude). Default `1e-3`. */
  relativeTolerance?: number;
  /**
   * How numeric vectors of two or more values compare: `top-class` (default) compares the index of
   * the largest value (class scores, probabilities, logits), `tolerance` compares every value.
   */
  vectors?: 'top-class' | 'tolerance';
}

type NumericVector = ArrayLike<number>;

function isNumericVector(value: unknown): value is NumericVector {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return !(value instanceof BigInt64Array || value instanceof BigUint64Array);
  }
  if (!Array.isArray(value) || value.length === 0) return false;
  for (const item of value) if (typeof item !== 'number') return false;
  return true;
}

function argmax(values: NumericVector): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/**
 * The default shadow comparator, as a factory: numbers agree within a tolerance, numeric vectors
 * agree when their top class (index of the largest value) is the same, strings and booleans agree
 * when equal, and arrays and plain objects compare element by element (same keys, same length).
 *
 * @example
 * const same = outputComparator({ relativeTolerance: 0.01 });
 * same([0.1, 0.7, 0.2], [0.2, 0.6, 0.2]); // true: class 1 either way
 * same(1.0, 1.5); // false
 */
export function outputComparator(options: OutputComparatorOptions = {}): Comparator<unknown> {
  const { absoluteTolerance = 1e-6, relativeTolerance = 1e-3, vectors = 'top-class' } = options;
  if (!(absoluteTolerance >= 0) || !(relativeTolerance >= 0)) {
    throw new BallastError('CONFIG', 'outputComparator: tolerances must be non-negative numbers', {
      details: { absoluteTolerance, relativeTolerance },
    });
  }
  if (vectors !== 'top-class' && vectors !== 'tolerance') {
    throw new BallastError('CONFIG', `outputComparator: "vectors" must be 'top-class' or 'tolerance', got ${String(vectors)}`);
  }
  const close = (a: number, b: number): boolean => {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
    if (a === b) return true;
    return Math.abs(a - b) <= absoluteTolerance + relativeTolerance * Math.max(Math.abs(a), Math.abs(b));
  };
  const same = (a: unknown, b: unknown, depth: number): boolean => {
    // Outputs are data; a cycle or absurd nesting is not worth following.
    if (depth > 64) return false;
    if (typeof a === 'number' && typeof b === 'number') return close(a, b);
    if (isNumericVector(a) && isNumericVector(b)) {
      if (a.length !== b.length) return false;
      if (a.length === 1) return close(a[0] as number, b[0] as number);
      if (vectors === 'top-class') return argmax(a) === argmax(b);
      for (let i = 0; i < a.length; i++) if (!close(a[i] as number, b[i] as number)) return false;
      return true;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!same(a[i], b[i], depth + 1)) return false;
      return true;
    }
    if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
      if (Array.isArray(a) || Array.isArray(b)) return false;
      const keysA = Object.keys(a);
      const keysB = Object.keys(b);
      if (keysA.length !== keysB.length) return false;
      for (const key of keysA) {
        if (!Object.hasOwn(b, key)) return false;
        if (!same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    return Object.is(a, b);
  };
  return function compareOutputs(a: unknown, b: unknown): boolean {
    return same(a, b, 0);
  };
}
