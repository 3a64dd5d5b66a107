import {
  BallastError,
  capTimeout,
  createStream,
  type InferOptions,
  isBallastError,
  type Middleware,
  type Model,
  type ModelStream,
  pipeline,
  wrapModel,
} from '@ballast/core';
import { type BreakerMiddleware, type BreakerOptions, type BreakerStats, circuitBreakerFromParsed } from './breaker.js';
import { type BulkheadMiddleware, type BulkheadOptions, type BulkheadStats, bulkheadFromParsed } from './bulkhead.js';
import { type CacheOptions, type CacheStats, type ResultCacheMiddleware, resultCacheFromParsed } from './cache.js';
import { type ChaosMiddleware, type ChaosOptions, type ChaosStats, chaosFromParsed } from './chaos.js';
import { parseClientOptions } from './client-options.js';
import {
  type FallbackMiddleware,
  type FallbackOptions,
  type FallbackSource,
  type FallbackStats,
  fallbackFromParsed,
  type StaleCacheFallback,
} from './fallback.js';
import { type HedgeMiddleware, type HedgeOptions, type HedgeStats, hedgeFromParsed } from './hedge.js';
import { type RateLimitOptions, rateLimitFromParsed } from './rate-limit.js';
import { type RetryMiddleware, type RetryOptions, type RetryStats, retryFromParsed } from './retry.js';
import { type StreamOptions, streamPolicies, type TokenLimitOptions } from './stream-policies.js';

/** Options of {@link createClient}. Every section is optional and off unless given (`true` = defaults). */
export interface ClientOptions<I = unknown, O = unknown> {
  /** The model to call: a `remoteModel()`, an in-process model, any `Model`. */
  model: Model<I, O>;
  /** The most any one call may take, ms, retries and fallbacks included; a caller's shorter budget wins. */
  timeoutMs?: number;
  /** Token-bucket rate limit per key. */
  rateLimit?: RateLimitOptions;
  /** Result cache. */
  cache?: CacheOptions | true;
  /** Concurrency cap. */
  bulkhead?: BulkheadOptions | true;
  /** Retries with backoff and a retry budget. */
  retry?: RetryOptions | boolean;
  /** Circuit breaker. */
  breaker?: BreakerOptions | boolean;
  /** Hedged second attempts. */
  hedge?: HedgeOptions;
  /** Fallback chain (a list of sources, or the full options). `staleCache()` here reads this client's cache. */
  fallback?: FallbackOptions<I, O> | readonly FallbackSource<I, O>[];
  /** Fault injection, for tests and game days. */
  chaos?: ChaosOptions;
  /**
   * How streams are treated: first-chunk, idle and whole-stream budgets, mid-stream fallback.
   * Every other section applies to streams too (docs/streaming.md). A client streams when its model does.
   */
  stream?: StreamOptions<I, O>;
  /** Tokens per key (principal), charged from the usage each stream reports; a spent allowance refuses the next stream with `RATE_LIMITED`. */
  tokenLimit?: TokenLimitOptions;
}

/** What {@link Client.stats} reports. Sections appear when configured. */
export interface ClientStats {
  /** Calls made. */
  calls: number;
  /** Calls that resolved (fallbacks included). */
  succeeded: number;
  /** Calls that failed. */
  failed: number;
  /** Failures by error code (`UNKNOWN` for non-Ballast errors). */
  errors: Record<string, number>;
  rateLimit?: { rejected: number };
  cache?: CacheStats;
  bulkhead?: BulkheadStats;
  retry?: RetryStats;
  breaker?: Record<string, BreakerStats>;
  hedge?: HedgeStats;
  fallback?: FallbackStats;
  chaos?: ChaosStats;
}

/** A resilient model: a `Model` with counters, breaker control and `close()`. */
export interface Client<I = unknown, O = unknown> extends Model<I, O> {
  /** Counters and breaker state. */
  stats(): ClientStats;
  /** The breaker, when configured (`isolate()`, `reset()`, `state()`). */
  readonly breaker: BreakerMiddleware | undefined;
  /** The result cache, when configured. */
  readonly cache: ResultCacheMiddleware | undefined;
  /** Refuses new calls (`MODEL_UNAVAILABLE`) and closes the model. */
  close(): Promise<void>;
}

/*
 * Composition order, outermost first:
 *
 *   fallback → rateLimit → cache → bulkhead → retry → breaker → hedge → chaos → model
 *
 * - fallback outermost: it answers for every failure below, rejections included (rate limited,
 *   overloaded, circuit open), and keeps part of the budget for itself.
 * - rateLimit before the cache: a quota counts calls, whether or not they hit.
 * - cache before the bulkhead: hits and joined in-flight calls add no upstream load, so they
 *   should not take a slot or be shed.
 * - bulkhead outside retry: one slot per logical call across its attempts; retries do not jump
 *   the queue.
 * - retry outside the breaker: the breaker sees every attempt, and once it opens CIRCUIT_OPEN is
 *   not retryable, so the retries stop at once instead of hammering a failing upstream.
 * - hedge inside the breaker: a hedged pair counts as one call for the breaker's ratios.
 * - chaos innermost: it stands for the upstream failing.
 *
 * The budget (`timeoutMs`) is owned by pipeline(): one deadline for queueing, every attempt,
 * backoff sleeps and fallbacks.
 */

function section<T extends object>(value: T | boolean | undefined): T | undefined {
  if (value === undefined || value === false) return undefined;
  return value === true ? ({} as T) : value;
}

// A closed client's stream fails at its first read, before any chunk.
function closedStream<O>(name: string, options: InferOptions | undefined): ModelStream<O> {
  const error = new BallastError('MODEL_UNAVAILABLE', `client of "${name}" is closed`);
  return createStream<O>(
    async function* closedClient() {
      yield* failed(error);
    },
    { options },
  );
}

// biome-ignore lint/correctness/useYield: an iterable that fails before it yields anything
async function* failed(error: BallastError): AsyncGenerator<never, undefined, undefined> {
  throw error;
}

function codeOf(error: unknown): string {
  return isBallastError(error) ? error.code : 'UNKNOWN';
}

/**
 * Assembles the resilience policies around a model in the documented order, from one validated
 * options object. The result is itself a `Model` (built with `pipeline()`, so it owns the call's
 * deadline and is traced on `ballast:infer`) with `stats()` and `close()`. Invalid options throw
 * `BallastError('CONFIG')` naming the bad path.
 *
 * @example
 * const client = createClient({
 *   model: remoteModel({ url: 'http://scorer:8080', protocol: 'open-inference-v2', name: 'scorer' }),
 *   timeoutMs: 500,
 *   retry: { maxAttempts: 3 },
 *   breaker: { failureRatio: 0.5, minThroughput: 20 },
 *   bulkhead: { maxConcurrent: 32, maxQueue: 64 },
 *   cache: { ttlMs: 30_000 },
 *   fallback: [staleCache(), { value: { score: 0 } }],
 * });
 * const out = await client.infer(input);
 */
export function createClient<I, O>(given: ClientOptions<I, O>): Client<I, O> {
  // Parsed once here, each section by its policy's schema; the policies are built from the parsed
  // sections without checking them again.
  const options = parseClientOptions(given) as unknown as ClientOptions<I, O>;
  const model = options.model;
  const rateLimitPolicy = options.rateLimit ? rateLimitFromParsed(options.rateLimit) : undefined;
  const cacheOptions = section(options.cache);
  const cache = cacheOptions ? resultCacheFromParsed(cacheOptions) : undefined;
  const bulkheadOptions = section(options.bulkhead);
  const bulkheadPolicy: BulkheadMiddleware | undefined = bulkheadOptions ? bulkheadFromParsed(bulkheadOptions) : undefined;
  const retryOptions = section(options.retry);
  const retryPolicy: RetryMiddleware | undefined = retryOptions ? retryFromParsed(retryOptions) : undefined;
  const breakerOptions = section(options.breaker);
  const breaker = breakerOptions ? circuitBreakerFromParsed(breakerOptions) : undefined;
  const hedgePolicy: HedgeMiddleware | undefined = options.hedge ? hedgeFromParsed(options.hedge) : undefined;
  const chaosPolicy: ChaosMiddleware | undefined = options.chaos ? chaosFromParsed(options.chaos) : undefined;

  let fallbackPolicy: FallbackMiddleware | undefined;
  let fallbackOptions: FallbackOptions<I, O> | undefined;
  if (options.fallback !== undefined) {
    const given = Array.isArray(options.fallback) ? { chain: options.fallback } : (options.fallback as FallbackOptions<I, O>);
    const chain = given.chain.map((source, index) => {
      const stale = source as StaleCacheFallback;
      if (typeof source === 'object' && source !== null && stale.kind === 'stale-cache' && stale.cache === undefined) {
        if (cache === undefined) {
          throw new BallastError('CONFIG', `createClient: fallback.chain.${index}: staleCache() needs the cache section`, {
            details: { path: `fallback.chain.${index}` },
          });
        }
        return { kind: 'stale-cache', cache } as StaleCacheFallback;
      }
      return source;
    });
    fallbackOptions = { ...given, chain };
    fallbackPolicy = fallbackFromParsed(fallbackOptions);
  }

  const policies: Middleware[] = [];
  if (rateLimitPolicy) policies.push(rateLimitPolicy);
  if (cache) policies.push(cache);
  if (bulkheadPolicy) policies.push(bulkheadPolicy);
  if (retryPolicy) policies.push(retryPolicy);
  if (breaker) policies.push(breaker);
  if (hedgePolicy) policies.push(hedgePolicy);
  if (chaosPolicy) policies.push(chaosPolicy);
  // With a fallback chain the primary path is its own pipeline: the chain gives it a deadline scope
  // that ends early (the reserve), and its policies' annotations land on its own traced call.
  const inner = fallbackPolicy ? pipeline(pipeline(model, ...policies), fallbackPolicy) : pipeline(model, ...policies);

  const counters = { calls: 0, succeeded: 0, failed: 0, errors: {} as Record<string, number> };
  let closed = false;
  const defaultTimeout = options.timeoutMs;
  const onSuccess = (value: O): O => {
    counters.succeeded++;
    return value;
  };
  const onFailure = (error: unknown): never => {
    counters.failed++;
    const code = codeOf(error);
    counters.errors[code] = (counters.errors[code] ?? 0) + 1;
    throw error;
  };

  // Streams go through the same policy instances (their state is shared with infer): see stream-policies.ts.
  const streamOf = streamPolicies<I, O>({
    model,
    stream: options.stream ?? {},
    clientTimeoutMs: defaultTimeout,
    ...(rateLimitPolicy ? { rateLimit: rateLimitPolicy } : {}),
    ...(bulkheadPolicy ? { bulkhead: bulkheadPolicy } : {}),
    ...(breaker ? { breaker } : {}),
    ...(retryOptions ? { retry: retryOptions } : {}),
    ...(options.hedge ? { hedge: options.hedge } : {}),
    ...(fallbackPolicy ? { fallback: fallbackOptions as FallbackOptions<I, O> } : {}),
    ...(cache ? { cache } : {}),
    ...(cacheOptions ? { cacheOptions } : {}),
    ...(options.tokenLimit ? { tokenLimit: options.tokenLimit } : {}),
    settled(error) {
      if (error === undefined) counters.succeeded++;
      else {
        counters.failed++;
        const code = codeOf(error);
        counters.errors[code] = (counters.errors[code] ?? 0) + 1;
      }
    },
  });

  // Live identity (core's wrapModel): a model that reloads a new version shows it here too.
  const wrapped = wrapModel(inner, {
    infer(input: I, callOptions?: InferOptions): Promise<O> {
      counters.calls++;
      if (closed) return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `client of "${inner.name}" is closed`)).catch(onFailure);
      // The client's timeoutMs caps every call: a caller may ask for less, never for more.
      if (defaultTimeout !== undefined) callOptions = capTimeout(callOptions, defaultTimeout);
      return inner.infer(input, callOptions).then(onSuccess, onFailure);
    },
    ...(inner.stream
      ? {
          stream: (input: I, callOptions?: InferOptions) => {
            counters.calls++;
            if (closed) return closedStream(inner.name, callOptions);
            return streamOf(input, callOptions);
          },
        }
      : {}),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await model.close?.();
    },
  });
  const stats = (): ClientStats => {
    const out: ClientStats = {
      calls: counters.calls,
      succeeded: counters.succeeded,
      failed: counters.failed,
      errors: { ...counters.errors },
    };
    if (rateLimitPolicy) out.rateLimit = rateLimitPolicy.stats();
    if (cache) out.cache = cache.stats();
    if (bulkheadPolicy) out.bulkhead = bulkheadPolicy.stats();
    if (retryPolicy) out.retry = retryPolicy.stats();
    if (breaker) out.breaker = breaker.stats();
    if (hedgePolicy) out.hedge = hedgePolicy.stats();
    if (fallbackPolicy) out.fallback = fallbackPolicy.stats();
    if (chaosPolicy) out.chaos = chaosPolicy.stats();
    return out;
  };
  // Object.assign adds new keys and leaves the identity getters in place.
  return Object.assign(wrapped, { stats, breaker, cache }) as Client<I, O>;
}
