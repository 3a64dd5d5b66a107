import { z } from 'zod';

/*
 * The zod pieces every policy's options schema is made of. Each policy declares its schema next
 * to its factory (retryOptionsSchema in retry.ts) and parses with core's parseOptions; createClient
 * composes those schemas, so a section is checked once and a mistake names its full path.
 */

/** @internal A function (any signature: the policy's types say which). */
export const functionOption = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'expected a function');
/** @internal A duration or size in milliseconds: a finite number >= 0. */
export const msOption = z.number().finite().nonnegative();
/** @internal A share in [0, 1]. */
export const ratioOption = z.number().min(0).max(1);
/** @internal An integer >= 1. */
export const positiveIntOption = z.number().int().min(1);

/** @internal An object with the named methods (a store, a limiter, a model), described by `what`. */
export function objectWith(methods: readonly string[], what: string) {
  return z.custom<object>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
    `expected ${what}`,
  );
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
