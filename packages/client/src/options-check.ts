import { BallastError } from '@ballast/core';

/** @internal Fails with CONFIG naming the path unless `value` is a finite number >= `min` (or undefined). */
export function checkNumber(
  owner: string,
  path: string,
  value: unknown,
  min: number,
  options: { integer?: boolean; max?: number } = {},
): void {
  if (value === undefined) return;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= min &&
    (options.max === undefined || value <= options.max) &&
    (!options.integer || Number.isInteger(value));
  if (!ok) {
    const kind = options.integer ? 'an integer' : 'a finite number';
    const range = options.max === undefined ? `>= ${min}` : `in [${min}, ${options.max}]`;
    throw new BallastError('CONFIG', `${owner}: ${path} must be ${kind} ${range}, got ${String(value)}`, { details: { path } });
  }
}

/** @internal Fails with CONFIG naming the path unless `value` is a function (or undefined). */
export function checkFunction(owner: string, path: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new BallastError('CONFIG', `${owner}: ${path} must be a function`, { details: { path } });
  }
}
