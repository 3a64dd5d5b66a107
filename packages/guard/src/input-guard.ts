import { BallastError } from '@ballast/core';
import type { z } from 'zod';
import { DEFAULT_SCORED_ROLES, isChatInput, readChat } from './chat-input.js';
import { INJECTION_PATTERNS, type InjectionOptions, scoreInjection } from './injection.js';

/** An inclusive numeric range. */
export interface NumericRange {
  /** Smallest allowed value. */
  min?: number;
  /** Largest allowed value. */
  max?: number;
}

/** Input rules for one model (or for every model, as the guard's default). */
export interface InputPolicy {
  /** A zod schema the input must satisfy; its parsed output replaces the input. */
  schema?: z.ZodType;
  /** Largest request body in bytes; adapters answer 413 above it. Default 1 MiB (set by the guard). */
  maxBodyBytes?: number;
  /**
   * Numeric ranges by field name: every number found under a key of that name (at any depth,
   * including arrays under it) must lie in the range. For v2 requests the key is the input name.
   */
  ranges?: Record<string, NumericRange>;
  /** Longest allowed string anywhere in the input, in UTF-16 code units. */
  maxTextLength?: number;
  /**
   * Prompt-injection check: `true` for the defaults, or options. It scores every string of the
   * input, except in a chat request (`{ messages }`), where it scores each message of the
   * `scoredRoles` as one text (a string content, or its text parts joined).
   */
  injection?: boolean | InjectionOptions;
  /**
   * Chat requests: the roles whose messages the injection check scores. Default `system`,
   * `developer` and `user`; add `tool` to score tool results too (a way in for text from the web).
   */
  scoredRoles?: readonly string[];
}

/** Formats a path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** An issue reported in `details.issues` of an `INVALID_INPUT` error. */
export interface InputIssue {
  /** Where, as `a.b[0]` (empty for the root). */
  path: string;
  /** What is wrong. */
  message: string;
  /** A stable kind: the zod issue code, `range`, `text-length`, `prompt-injection`, `not-finite`. */
  code: string;
}

/** Builds the `INVALID_INPUT` error for a zod failure, with field paths. */
export function schemaError(error: z.ZodError, message = 'the input does not match the schema'): BallastError {
  const issues: InputIssue[] = error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
    code: issue.code,
  }));
  return new BallastError('INVALID_INPUT', message, { details: { issues } });
}

const MAX_DEPTH = 64;

// The walk's state, passed to module-level functions rather than captured by closures made per
// call: checkInput runs on every request, and per-call closures cost an allocation each (and,
// under tools that keep function names, an Object.defineProperty each).
class Walk {
  ranges: Record<string, NumericRange> | undefined = undefined;
  maxText: number | undefined = undefined;
  injection = false;
  readonly issues: InputIssue[] = [];
  readonly texts: { text: string; path: string }[] = [];
  // One shared path stack, turned into a string only when an issue or a text needs it: the walk
  // runs over every element of numeric inputs, so it must not allocate per element. A node at
  // depth d has its path in the first d entries; entries are overwritten, never popped (an
  // array emptied by pop() or `length = 0` gives its storage back, and the next push allocates).
  readonly path: PropertyKey[] = [];
  busy = false;
}

// One walk serves every check in turn: its arrays are emptied and kept, so a check that finds
// nothing allocates nothing (the state and its three arrays were about 0.5 KB a request, and
// garbage). A check that starts while another one walks (code reached from the input, such as a
// getter, checking an input of its own) gets a walk of its own.
const reusable = new Walk();

function startWalk(ranges: Record<string, NumericRange> | undefined, maxText: number | undefined, injection: boolean): Walk {
  const walk = reusable.busy ? new Walk() : reusable;
  walk.busy = true;
  walk.ranges = ranges;
  walk.maxText = maxText;
  walk.injection = injection;
  return walk;
}

// Ends a walk: hands back copies of what it found, and empties the walk (it holds no texts or
// keys of the input afterwards).
function endWalk(walk: Walk): { issues: InputIssue[]; texts: { text: string; path: string }[] } | undefined {
  const { issues, texts, path } = walk;
  let found: { issues: InputIssue[]; texts: { text: string; path: string }[] } | undefined;
  // Emptied only when there is something to empty: setting an array's length is a slow path.
  if (issues.length !== 0 || texts.length !== 0) {
    found = { issues: issues.slice(), texts: texts.slice() };
    issues.length = 0;
    texts.length = 0;
  }
  for (let i = 0; i < path.length; i++) path[i] = 0;
  walk.ranges = undefined;
  walk.busy = false;
  return found;
}

// The path of a node at `depth`, as text (for an issue or a text to score).
function pathAt(walk: Walk, depth: number): string {
  return formatPath(walk.path.length === depth ? walk.path : walk.path.slice(0, depth));
}

function checkNumber(walk: Walk, node: number, range: NumericRange, depth: number): void {
  if (!Number.isFinite(node)) walk.issues.push({ path: pathAt(walk, depth), message: 'must be a finite number', code: 'not-finite' });
  else if ((range.min !== undefined && node < range.min) || (range.max !== undefined && node > range.max)) {
    walk.issues.push({
      path: pathAt(walk, depth),
      message: `must be between ${range.min ?? '-Infinity'} and ${range.max ?? 'Infinity'}, got ${node}`,
      code: 'range',
    });
  }
}

// True when every element is a finite number within `range` (NaN fails both comparisons).
function allWithin(list: ArrayLike<unknown>, range: NumericRange): boolean {
  const min = range.min ?? Number.NEGATIVE_INFINITY;
  const max = range.max ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < list.length; i++) {
    const value = list[i];
    if (typeof value !== 'number' || !(value >= min && value <= max) || !Number.isFinite(value)) return false;
  }
  return true;
}

function walkNode(walk: Walk, node: unknown, range: NumericRange | undefined, depth: number): void {
  const { issues, path, maxText, ranges } = walk;
  if (issues.length >= 20) return;
  if (typeof node === 'number') {
    if (range !== undefined) checkNumber(walk, node, range, depth);
    return;
  }
  if (typeof node === 'string') {
    if (maxText !== undefined && node.length > maxText) {
      issues.push({ path: pathAt(walk, depth), message: `must be at most ${maxText} characters, got ${node.length}`, code: 'text-length' });
    } else if (walk.injection) walk.texts.push({ text: node, path: pathAt(walk, depth) });
    return;
  }
  if (typeof node !== 'object' || node === null || depth > MAX_DEPTH) return;
  if (Array.isArray(node)) {
    // Numbers under a range (a tensor's data) pass in one loop; the per-element walk, which keeps
    // each element's path, runs only to report what failed (or for other elements).
    if (range !== undefined && allWithin(node, range)) return;
    for (let i = 0; i < node.length; i++) {
      const item = node[i];
      // Numbers without a range and other scalars that cannot fail are skipped without a push.
      if (typeof item === 'number' && range === undefined) continue;
      path[depth] = i;
      walkNode(walk, item, range, depth + 1);
    }
    return;
  }
  if (ArrayBuffer.isView(node)) {
    if (range === undefined || !('length' in node)) return;
    const list = node as unknown as ArrayLike<number>;
    if (allWithin(list, range)) return;
    for (let i = 0; i < list.length; i++) {
      path[depth] = i;
      checkNumber(walk, Number(list[i]), range, depth + 1);
    }
    return;
  }
  // `for…in` over own keys rather than `Object.keys()`: no array of the keys per object.
  for (const key in node) {
    if (!Object.hasOwn(node, key)) continue;
    const childRange = ranges !== undefined && Object.hasOwn(ranges, key) ? ranges[key] : range;
    path[depth] = key;
    walkNode(walk, (node as Record<string, unknown>)[key], childRange, depth + 1);
  }
}

/**
 * Checks `input` against `policy` for `model`: schema, then numeric ranges, text lengths and the
 * prompt-injection check. Returns the (schema-parsed) input, or throws `INVALID_INPUT` with
 * `details.issues` (each with a `path`).
 *
 * @example
 * await checkInput({ ranges: { age: { min: 0, max: 130 } } }, 'risk', { age: 200 }); // throws INVALID_INPUT at "age"
 */
export async function checkInput(policy: InputPolicy | undefined, model: string, input: unknown): Promise<unknown> {
  return checkInputNow(policy, model, input);
}

/**
 * {@link checkInput}, answered synchronously when nothing in the policy is: without a schema and
 * without an injection classifier it returns the input or throws `INVALID_INPUT`; otherwise it
 * returns a promise (that rejects with it). Servers call it on every request, where a promise and
 * its ticks would be paid for nothing.
 *
 * @example
 * const checked = checkInputNow({ ranges: { age: { min: 0, max: 130 } } }, 'risk', { age: 30 }); // { age: 30 }
 */
export function checkInputNow(policy: InputPolicy | undefined, model: string, input: unknown): unknown {
  if (policy === undefined) return input;
  if (policy.schema !== undefined) return parseThenCheck(policy, policy.schema, model, input);
  return checkParsed(policy, model, input);
}

async function parseThenCheck(policy: InputPolicy, schema: z.ZodType, model: string, input: unknown): Promise<unknown> {
  const parsed = await schema.safeParseAsync(input);
  if (!parsed.success) throw schemaError(parsed.error);
  return checkParsed(policy, model, parsed.data);
}

function injectionOf(policy: InputPolicy): InjectionOptions | undefined {
  return policy.injection === true ? {} : policy.injection === false ? undefined : policy.injection;
}

// The checks after the schema: ranges, text lengths, chat shapes and the injection heuristic, all
// synchronous; a classifier (asynchronous) scores the texts after them.
function checkParsed(policy: InputPolicy, model: string, value: unknown): unknown {
  const ranges = policy.ranges;
  const maxText = policy.maxTextLength;
  const injection = injectionOf(policy);
  const chat = isChatInput(value);
  if (ranges === undefined && maxText === undefined && injection === undefined && !chat) return value;

  const walk = startWalk(ranges, maxText, injection !== undefined);
  let found: ReturnType<typeof endWalk>;
  try {
    walkNode(walk, value, undefined, 0);
  } finally {
    found = endWalk(walk);
  }
  if (found === undefined && !chat && injection === undefined) return value;
  const issues = found?.issues ?? [];
  let texts = found?.texts ?? [];
  if (chat) {
    // The messages' shapes are checked, and the injection check scores the caller's messages.
    const read = readChat((value as { messages: unknown[] }).messages, policy.scoredRoles ?? DEFAULT_SCORED_ROLES);
    issues.push(...read.issues);
    if (injection !== undefined) texts = [...texts.filter((t) => !t.path.startsWith('messages[')), ...read.texts];
  }
  if (issues.length === 0 && injection !== undefined) {
    if (injection.classifier !== undefined) return classifyThenAnswer(injection, injection.classifier, model, texts, value);
    for (const { text, path } of texts) {
      const issue = injectionIssue(injection, path, scoreInjection(text, injection.patterns ?? INJECTION_PATTERNS).score);
      if (issue !== undefined) {
        issues.push(issue);
        break;
      }
    }
  }
  return answer(issues, value);
}

async function classifyThenAnswer(
  injection: InjectionOptions,
  classifier: NonNullable<InjectionOptions['classifier']>,
  model: string,
  texts: readonly { text: string; path: string }[],
  value: unknown,
): Promise<unknown> {
  const issues: InputIssue[] = [];
  for (const { text, path } of texts) {
    let score = scoreInjection(text, injection.patterns ?? INJECTION_PATTERNS).score;
    let classified: number;
    try {
      classified = await classifier(text, { model, path });
    } catch (error) {
      throw new BallastError('INTERNAL', 'the prompt-injection classifier failed', { cause: error });
    }
    if (Number.isFinite(classified)) score = Math.max(score, classified);
    const issue = injectionIssue(injection, path, score);
    if (issue !== undefined) {
      issues.push(issue);
      break;
    }
  }
  return answer(issues, value);
}

function injectionIssue(injection: InjectionOptions, path: string, score: number): InputIssue | undefined {
  if (score < (injection.threshold ?? 0.7)) return undefined;
  return { path, message: `looks like a prompt-injection attempt (score ${score.toFixed(2)})`, code: 'prompt-injection' };
}

function answer(issues: readonly InputIssue[], value: unknown): unknown {
  if (issues.length > 0) {
    throw new BallastError(
      'INVALID_INPUT',
      issues[0]?.message ? `invalid input at "${issues[0].path}": ${issues[0].message}` : 'invalid input',
      {
        details: { issues },
      },
    );
  }
  return value;
}
