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

/** Edit distance between two short strings (option names), for did-you-mean hints. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * @internal The known key an unknown one was most likely meant to be: the closest by edit
 * distance (at most a third of the longer name, and at least 1 edit allowed), or one sharing its
 * stem (`retries` → `retry`, `reserve` → `reserveMs`); `undefined` when nothing is close.
 */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const typed = unknown.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const key of known) {
    const candidate = key.toLowerCase();
    const distance = editDistance(typed, candidate);
    const allowed = Math.max(1, Math.floor(Math.max(typed.length, candidate.length) / 3));
    let common = 0;
    while (common < typed.length && typed[common] === candidate[common]) common++;
    // The same stem with another ending (`retries` for `retry`, `reserve` for `reserveMs`).
    const prefix = common >= Math.max(4, Math.min(typed.length, candidate.length) - 1);
    if ((distance <= allowed || prefix) && distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}

// The object keys a schema accepts at `path` (through optional, union and array layers).
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = (
    schema as unknown as {
      def: { type: string; innerType?: z.ZodType; options?: z.ZodType[]; element?: z.ZodType; shape?: Record<string, z.ZodType> };
    }
  ).def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
      return def.innerType ? keysAt(def.innerType, path) : [];
    case 'union':
      return [...new Set((def.options ?? []).flatMap((option) => keysAt(option, path)))];
    case 'array':
      return def.element && path.length > 0 ? keysAt(def.element, path.slice(1)) : [];
    case 'object': {
      const shape = def.shape ?? {};
      if (path.length === 0) return Object.keys(shape);
      const inner = shape[String(path[0])];
      return inner ? keysAt(inner, path.slice(1)) : [];
    }
    default:
      return [];
  }
}

/**
 * @internal {@link issueSummaries} for an options schema: an unknown key is named in its path,
 * and, when a known key at that place is close, its issue says `did you mean "<key>"?` and
 * carries it as `suggestion`.
 */
export function optionIssues(schema: z.ZodType, error: z.ZodError): (IssueSummary & { suggestion?: string })[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    if (issue.code !== 'unrecognized_keys' || issue.keys.length === 0) return { path: path.join('.'), message: issue.message };
    const unknown = String(issue.keys[0]);
    const suggestion = closestKey(unknown, keysAt(schema, issue.path));
    const message = `unknown option "${unknown}"${suggestion === undefined ? '' : `; did you mean "${suggestion}"?`}`;
    return { path: [...path, unknown].join('.'), message, ...(suggestion === undefined ? {} : { suggestion }) };
  });
}
