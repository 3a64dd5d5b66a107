import {
  annotate,
  BallastError,
  callModel,
  channels,
  deadlineOf,
  type InferOptions,
  isBallastError,
  type Middleware,
  type Model,
  now,
  parseOptions,
  timeoutError,
  toBallastError,
  withDeadline,
} from '@ballast/core';
import { z } from 'zod';
import type { ResultCacheMiddleware } from './cache.js';
import { detachedOptions } from './call-options.js';
import { wrapModel } from './model-wrap.js';
import { functionOption, msOption } from './options-check.js';

/** A fixed answer. */
export interface StaticFallback<O = unknown> {
  /** The value served. */
  readonly value: O;
  /** Name in events and stats. Default `static`. */
  readonly name?: string;
}

/** The result cache's last good value for the call (see {@link staleCache}). */
export interface StaleCacheFallback {
  readonly kind: 'stale-cache';
  /** The cache to read; `createClient` fills in its own cache when omitted. */
  readonly cache: ResultCacheMiddleware | undefined;
}

/** A function deciding the answer from the input and the error; throw to pass to the next source. */
export type RuleFallback<I = unknown, O = unknown> = (input: I, error: unknown, options: InferOptions | undefined) => O | Promise<O>;

/** One step of a fallback chain: another model, a static value, a rule function or the stale cache. */
export type FallbackSource<I = unknown, O = unknown> = Model<I, O> | StaticFallback<O> | RuleFallback<I, O> | StaleCacheFallback;

/** Options of {@link fallback}. */
export interface FallbackOptions<I = unknown, O = unknown> {
  /** Sources tried in order after the primary fails. */
  chain: readonly FallbackSource<I, O>[];
  /**
   * Which primary errors fall back. Default: every error except `INVALID_INPUT`, `CANCELLED`,
   * `CONFIG`, `UNAUTHENTICATED` and `FORBIDDEN` (a fallback must not hide a caller's mistake).
   */
  when?: (error: unknown) => boolean;
  /**
   * Part of the call's budget kept for the chain, ms: the primary gets the rest, so a hung primary
   * still leaves time for a fallback. Default: 10 % of the budget, at most 100 ms (0 without a budget).
   */
  reserveMs?: number;
}

/** Counters of a fallback chain. */
export interface FallbackStats {
  /** Calls the primary served. */
  primary: number;
  /** Calls served per fallback source name. */
  served: Record<string, number>;
  /** Calls where every source failed. */
  exhausted: number;
}

/** A {@link fallback} middleware with its counters. */
export interface FallbackMiddleware extends Middleware {
  /** Counters since creation. */
  stats(): FallbackStats;
}

/**
 * A fallback source that serves the result cache's last good value for the call, however old.
 * Pass the cache, or nothing inside `createClient` (which uses its own cache).
 *
 * @example
 * const cache = resultCache({ ttlMs: 10_000 });
 * const model = pipeline(remote, fallback({ chain: [staleCache(cache), { value: defaultScore }] }), cache);
 */
export function staleCache(cache?: ResultCacheMiddleware): StaleCacheFallback {
  return { kind: 'stale-cache', cache };
}

const NO_FALLBACK = new Set(['INVALID_INPUT', 'CANCELLED', 'CONFIG', 'UNAUTHENTICATED', 'FORBIDDEN']);

function defaultWhen(error: unknown): boolean {
  return !(isBallastError(error) && NO_FALLBACK.has(error.code));
}

function isModel(source: unknown): source is Model {
  return typeof source === 'object' && source !== null && typeof (source as Model).infer === 'function';
}

function isStale(source: unknown): source is StaleCacheFallback {
  return typeof source === 'object' && source !== null && (source as StaleCacheFallback).kind === 'stale-cache';
}

/** @internal The name a source reports under. */
export function sourceName(source: FallbackSource): string {
  if (typeof source === 'function') return source.name || 'rule';
  if (isModel(source)) return source.name;
  if (isStale(source)) return 'stale-cache';
  return (source as StaticFallback).name ?? 'static';
}

const NOTHING = Symbol('nothing');

/** Time kept after the last model source for the static values, rules and stale cache after it, ms. */
const TAIL_MS = 1;

/*
 * Why not cockatiel's fallback(): it takes one value or function, while a chain needs an order,
 * a predicate, per-source reporting and the budget reserve. The primary runs in its own deadline
 * scope ending `reserveMs` early (the core's timer wheel; no per-call timer), so it is abandoned
 * (and aborted through its signal) in time for the chain to answer within the caller's budget.
 */
class FallbackChain<I, O> {
  readonly counters: FallbackStats = { primary: 0, served: {}, exhausted: 0 };
  private readonly names: string[];

  constructor(
    private readonly chain: readonly FallbackSource<I, O>[],
    private readonly when: (error: unknown) => boolean,
    private readonly reserveMs: number | undefined,
  ) {
    this.names = chain.map((s) => sourceName(s as FallbackSource));
    let models = 0;
    let cheapAfter = false;
    this.modelsFrom = new Array<number>(chain.length);
    this.cheapAfter = new Array<boolean>(chain.length);
    for (let index = chain.length - 1; index >= 0; index--) {
      this.cheapAfter[index] = cheapAfter;
      if (isModel(chain[index])) models++;
      else cheapAfter = true;
      this.modelsFrom[index] = models;
    }
  }

  // Model sources from each index on, and whether a static value, rule or stale cache comes after it.
  private readonly modelsFrom: number[];
  private readonly cheapAfter: boolean[];

  /*
   * A model source gets an equal share of what is left among the model sources still to try, so
   * a hung one cannot starve those after it; when a static value, rule or stale cache follows,
   * the shares end TAIL_MS before the call's deadline (one slot of core's deadline wheel, which
   * fires the earlier slot first), so the cheap source still answers in time.
   */
  private model(source: Model<I, O>, index: number, input: I, options: InferOptions | undefined): Promise<O> {
    const deadline = deadlineOf(options);
    if (deadline === Number.POSITIVE_INFINITY) return callModel(source, input, options);
    const at = now();
    const left = deadline - at - (this.cheapAfter[index] ? TAIL_MS : 0);
    if (left <= 0) return Promise.reject(timeoutError({ reason: 'no budget left for this fallback source' }));
    const end = at + left / (this.modelsFrom[index] as number);
    return withDeadline(detachedOptions(options, options?.signal, end), (scoped) => callModel(source, input, scoped));
  }

  primary(next: Model<I, O>, input: I, options: InferOptions | undefined): Promise<O> {
    const deadline = deadlineOf(options);
    if (deadline === Number.POSITIVE_INFINITY) return callModel(next, input, options);
    const budget = deadline - now();
    const reserve = this.reserveMs ?? Math.min(100, 0.1 * budget);
    if (reserve <= 0) return callModel(next, input, options);
    return withDeadline(detachedOptions(options, options?.signal, deadline - reserve), (scoped) => callModel(next, input, scoped));
  }

  async run(next: Model<I, O>, input: I, options: InferOptions | undefined): Promise<O> {
    let primaryError: unknown;
    try {
      const value = await this.primary(next, input, options);
      this.counters.primary++;
      return value;
    } catch (error) {
      primaryError = toBallastError(error);
    }
    if (!this.safeWhen(primaryError) || (isBallastError(primaryError) && primaryError.code === 'CANCELLED')) throw primaryError;
    const failures: { source: string; error: unknown }[] = [];
    for (let index = 0; index < this.chain.length; index++) {
      const source = this.chain[index] as FallbackSource<I, O>;
      const name = this.names[index] as string;
      let value: O | typeof NOTHING;
      try {
        value = await this.serve(source, index, next, input, primaryError, options);
      } catch (error) {
        failures.push({ source: name, error });
        if (channels.fallback.hasSubscribers)
          channels.fallback.publish({ model: next.name, source: name, index, error: primaryError, served: false });
        continue;
      }
      if (value === NOTHING) {
        failures.push({ source: name, error: new BallastError('MODEL_UNAVAILABLE', 'no cached value for this call') });
        if (channels.fallback.hasSubscribers)
          channels.fallback.publish({ model: next.name, source: name, index, error: primaryError, served: false });
        continue;
      }
      this.counters.served[name] = (this.counters.served[name] ?? 0) + 1;
      annotate(options, 'ballast.fallback.source', name);
      if (channels.fallback.hasSubscribers)
        channels.fallback.publish({ model: next.name, source: name, index, error: primaryError, served: true });
      return value;
    }
    this.counters.exhausted++;
    throw withFailures(primaryError, failures);
  }

  private async serve(
    source: FallbackSource<I, O>,
    index: number,
    next: Model<I, O>,
    input: I,
    error: unknown,
    options: InferOptions | undefined,
  ): Promise<O | typeof NOTHING> {
    if (typeof source === 'function') return (source as RuleFallback<I, O>)(input, error, options);
    if (isModel(source)) return this.model(source as Model<I, O>, index, input, options);
    if (isStale(source)) {
      const found = await source.cache?.lastGood(next, input, options);
      return found === undefined ? NOTHING : (found.value as O);
    }
    return (source as StaticFallback<O>).value;
  }

  private safeWhen(error: unknown): boolean {
    try {
      return this.when(error) === true;
    } catch {
      return false;
    }
  }
}

function withFailures(primary: unknown, failures: { source: string; error: unknown }[]): BallastError {
  const base = toBallastError(primary, 'UPSTREAM');
  const summary = failures.map((f) => ({
    source: f.source,
    code: toBallastError(f.error).code,
    message: f.error instanceof Error ? f.error.message : String(f.error),
  }));
  const error = new BallastError(base.code, base.message, {
    retryable: base.retryable,
    ...(base.retryAfterMs === undefined ? {} : { retryAfterMs: base.retryAfterMs }),
    cause: primary,
    details: { ...base.details, fallbacks: summary },
  });
  // The raw errors, for code that wants more than the JSON summary.
  Object.defineProperty(error, 'fallbackErrors', { value: failures.map((f) => f.error), enumerable: false });
  return error;
}

/** @internal One source of a fallback chain, as its schema checks it. */
export const fallbackSourceSchema = z.custom(
  (value) =>
    typeof value === 'function' ||
    (typeof value === 'object' && value !== null && ('value' in value || 'infer' in value || 'kind' in value)),
  'expected a model, { value }, a function or staleCache()',
);

/** @internal The schema of {@link FallbackOptions}; createClient composes it (or a bare chain) as `fallback`. */
export const fallbackOptionsSchema = z.strictObject({
  chain: z.array(fallbackSourceSchema),
  when: functionOption.optional(),
  reserveMs: msOption.optional(),
});

/**
 * On failure, tries an ordered chain of sources: other models, static values, rule functions and
 * `staleCache()`. The first that answers serves the call (reported as `ballast:fallback`, in
 * `stats()` and as `ballast.fallback.source`); when all fail, the caller gets the primary's error
 * with the others summarised in `details.fallbacks` (and the raw errors as `fallbackErrors`).
 * A share of the budget (`reserveMs`) is kept for the chain.
 *
 * @example
 * const model = pipeline(remote, fallback({ chain: [localCopy, { value: { score: 0 } }] }));
 */
export function fallback<I = unknown, O = unknown>(options: FallbackOptions<I, O>): FallbackMiddleware {
  return fallbackFromParsed(parseOptions('fallback', fallbackOptionsSchema, options) as FallbackOptions<I, O>);
}

/**
 * @internal {@link fallback} from options already parsed with {@link fallbackOptionsSchema}
 * (createClient's section, its `staleCache()` sources given the client's cache).
 */
export function fallbackFromParsed<I = unknown, O = unknown>(options: FallbackOptions<I, O>): FallbackMiddleware {
  // A source's wiring, not its shape: staleCache() outside createClient must be given its cache.
  options.chain.forEach((source, index) => {
    const ok =
      typeof source === 'function' ||
      isModel(source) ||
      (isStale(source) && source.cache !== undefined) ||
      (typeof source === 'object' && source !== null && 'value' in source);
    if (!ok) {
      const why = isStale(source) ? 'staleCache() needs a cache outside createClient' : 'not a model, { value }, function or staleCache()';
      throw new BallastError('CONFIG', `fallback: chain[${index}]: ${why}`, { details: { path: `chain.${index}` } });
    }
  });
  const chain = new FallbackChain<unknown, unknown>(
    options.chain as FallbackSource[],
    (options.when ?? defaultWhen) as (e: unknown) => boolean,
    options.reserveMs,
  );
  const middleware = function fallbackMiddleware<In, Out>(next: Model<In, Out>): Model<In, Out> {
    const typed = chain as unknown as FallbackChain<In, Out>;
    return wrapModel(next, function fallingBack(input: In, callOptions?: InferOptions): Promise<Out> {
      return typed.run(next, input, callOptions);
    });
  } as FallbackMiddleware;
  middleware.stats = () => ({ primary: chain.counters.primary, served: { ...chain.counters.served }, exhausted: chain.counters.exhausted });
  return middleware;
}
