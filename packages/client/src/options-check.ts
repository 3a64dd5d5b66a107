import { BallastError } from '@ballast/core';
import type { z } from 'zod';

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

/** @internal One validation problem: the dotted path of the bad value and zod's message. */
export interface IssueSummary {
  path: string;
  message: string;
}

/**
 * @internal A zod error's issues as `{ path, message }` with dotted paths, the form errors carry
 * in `details`. With `nameUnknownKeys`, an unknown key is added to its issue's path, so a typo in
 * options points at itself.
 */
export function issueSummaries(error: z.ZodError, nameUnknownKeys = false): IssueSummary[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    if (nameUnknownKeys && issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(String(issue.keys[0]));
    return { path: path.join('.'), message: issue.message };
  });
}
