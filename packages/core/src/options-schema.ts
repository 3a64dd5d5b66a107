import { BallastError } from './errors.js';

/*
 * Options are checked one way: each factory declares a zod schema next to itself and parses its
 * options with `parseOptions`, which turns a failure into `BallastError('CONFIG')` naming the bad
 * path. Core does not depend on zod: the schema is taken structurally (anything with zod's
 * `safeParse` result shape), so packages that declare schemas bring zod themselves.
 */

/** One problem a schema reports, in the shape zod's issues have. */
export interface SchemaIssue {
  /** The kind of problem (zod's issue code, e.g. `unrecognized_keys`). */
  readonly code?: string;
  /** Where the bad value is, from the options object down. */
  readonly path: readonly PropertyKey[];
  /** What is wrong with it. */
  readonly message: string;
  /** For an `unrecognized_keys` issue, the unknown keys. */
  readonly keys?: readonly string[];
  /** For an `invalid_union` issue, each alternative's issues (paths relative to this one's). */
  readonly errors?: readonly (readonly SchemaIssue[])[];
}

/** What a schema's `safeParse` returns: the parsed value, or the issues. */
export type SchemaParseResult<T> =
  | { readonly success: true; readonly data: T }
  | { readonly success: false; readonly error: { readonly issues: readonly SchemaIssue[] } };

/** A schema as `parseOptions` uses it: a zod schema fits. */
export interface OptionsSchema<T> {
  /** Parses a value, never throwing. */
  safeParse(value: unknown): SchemaParseResult<T>;
}

/** One options problem as errors carry it in `details.issues`: the dotted path and the message. */
export interface OptionIssue {
  /** The dotted path of the bad value (`retry.maxAttempts`); an unknown key is named in it. */
  path: string;
  /** What is wrong. */
  message: string;
  /** For an unknown key, the known key it was most likely meant to be. */
  suggestion?: string;
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
 * The known key an unknown one was most likely meant to be: the closest by edit distance (at most
 * a third of the longer name, and at least 1 edit allowed), or one sharing its stem (`retries` →
 * `retry`, `reserve` → `reserveMs`); `undefined` when nothing is close.
 *
 * @example
 * closestKey('retries', ['retry', 'breaker']); // 'retry'
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

// The parts of a zod schema's definition that say which object keys it accepts.
interface SchemaDefinition {
  type?: string;
  innerType?: unknown;
  options?: unknown[];
  element?: unknown;
  shape?: Record<string, unknown>;
  in?: unknown;
}

// The object keys a schema accepts at `path` (through optional, union, array and pipe layers),
// read from zod's `def`; a schema without one (not zod) names no keys, so no suggestion is made.
function keysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  const def = (schema as { def?: SchemaDefinition } | null)?.def;
  if (def === undefined) return [];
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      return keysAt(def.innerType, path);
    case 'pipe':
      return keysAt(def.in, path);
    case 'union':
      return [...new Set((def.options ?? []).flatMap((option) => keysAt(option, path)))];
    case 'array':
      return path.length > 0 ? keysAt(def.element, path.slice(1)) : [];
    case 'object': {
      const shape = def.shape ?? {};
      if (path.length === 0) return Object.keys(shape);
      const inner = shape[String(path[0])];
      return inner === undefined ? [] : keysAt(inner, path.slice(1));
    }
    default:
      return [];
  }
}

// A union none of whose alternatives matched (`retry: true | {...}`, `fallback: [...] | {...}`)
// is reported by the one alternative of the right kind: the others failed on the value's type
// itself. Its issues take the union's path in front of theirs, so the path reaches the bad value.
function unwrapUnions(issues: readonly SchemaIssue[]): SchemaIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || issue.errors === undefined) return [issue];
    const fitting = issue.errors.filter((branch) => !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
    if (fitting.length !== 1) return [issue];
    const branch = fitting[0] as readonly SchemaIssue[];
    return unwrapUnions(branch.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] })));
  });
}

/**
 * A schema's issues as {@link OptionIssue}s: dotted paths, an unknown key named in its path and,
 * when a known key at that place is close, `did you mean "<key>"?` with the key as `suggestion`.
 *
 * @example
 * const result = schema.safeParse(options);
 * if (!result.success) console.log(optionIssues(schema, result.error.issues));
 */
export function optionIssues(schema: unknown, issues: readonly SchemaIssue[]): OptionIssue[] {
  return unwrapUnions(issues).map((issue) => {
    const path = issue.path.map(String);
    if (issue.code !== 'unrecognized_keys' || issue.keys === undefined || issue.keys.length === 0) {
      return { path: path.join('.'), message: issue.message };
    }
    const unknown = String(issue.keys[0]);
    const suggestion = closestKey(unknown, keysAt(schema, issue.path));
    const message = `unknown option "${unknown}"${suggestion === undefined ? '' : `; did you mean "${suggestion}"?`}`;
    return { path: [...path, unknown].join('.'), message, ...(suggestion === undefined ? {} : { suggestion }) };
  });
}

/**
 * Parses a factory's options with its schema and returns the parsed value; on a mistake throws
 * `BallastError('CONFIG', '<owner>: <path>: <message>')` with `details: { path, issues }` (and
 * `suggestion` for a mistyped key). Options are parsed once, when a factory builds its policy,
 * never per call.
 *
 * @param owner the factory's name, first in the message (`retry`, `createClient`)
 * @param schema the options schema (a zod schema, or anything with its `safeParse` shape)
 * @param value the options as given
 *
 * @example
 * const retryOptionsSchema = z.strictObject({ maxAttempts: z.number().int().min(1).optional() });
 * const parsed = parseOptions('retry', retryOptionsSchema, options);
 */
export function parseOptions<T>(owner: string, schema: OptionsSchema<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = optionIssues(schema, result.error.issues);
  const first = issues[0] ?? { path: '', message: 'invalid options' };
  throw new BallastError('CONFIG', `${owner}: ${first.path === '' ? 'options' : first.path}: ${first.message}`, {
    details: { path: first.path, issues, ...(first.suggestion === undefined ? {} : { suggestion: first.suggestion }) },
  });
}
