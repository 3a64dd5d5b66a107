import {
  BallastError,
  type Chunk,
  channels,
  createStream,
  deadlineOf,
  type InferOptions,
  isBallastError,
  type Limiter,
  type Model,
  type ModelStream,
  now,
  type StreamResult,
  timeoutError,
  toBallastError,
} from '@ballast/core';
import type { CacheOptions, ResultCacheMiddleware } from './cache.js';
import { cacheKeyOf } from './cache-key.js';
import type { FallbackOptions, FallbackSource, RuleFallback, StaleCacheFallback, StaticFallback } from './fallback.js';
import type { HedgeOptions } from './hedge.js';
import type { RetryOptions } from './retry.js';
import { type ContinueStream, continueChat, type MergeContinuation, mergeText } from './stream-continuation.js';

/** How a client treats streams (`createClient({ stream })`). See docs/streaming.md for every policy's rule. */
export interface StreamOptions<I = unknown, O = unknown> {
  /**
   * Most time an attempt may take to deliver its first chunk, ms. An attempt past it is aborted and
   * fails with retryable `TIMEOUT` (`details.phase: 'first-chunk'`), so retry, hedge and fallback
   * take over. Default: no limit of its own (the stream's budget still applies).
   */
  firstChunkTimeoutMs?: number;
  /** Most time between two chunks, ms. Past it the stream fails with `TIMEOUT` (`details.phase: 'idle'`). Default: none. */
  idleTimeoutMs?: number;
  /**
   * Budget for the whole stream, ms, in place of the client's `timeoutMs` (which is sized for one
   * answer, not a long stream). A caller's shorter budget wins. Default: the client's `timeoutMs`.
   */
  timeoutMs?: number;
  /**
   * After the first chunk has reached the caller, a failure ends the stream with a typed error
   * (`details.phase: 'mid-stream'`). With `true`, the fallback chain's models continue the answer
   * instead: they get the input with what was delivered so far (`continueWith`), and their chunks
   * follow the ones already read. Default `false`.
   */
  midStreamFallback?: boolean;
  /** Builds the input that asks a fallback model to continue. Default: {@link continueChat}. */
  continueWith?: ContinueStream<I>;
  /** Joins the delivered text with the continuation's output into the stream's output. Default: {@link mergeText}. */
  mergeOutput?: MergeContinuation<O>;
}

/** Tokens per principal, charged from the usage streams report (`createClient({ tokenLimit })`). */
export interface TokenLimitOptions {
  /**
   * The allowance, for example `new TokenBucketLimiter({ ratePerSecond: 100_000 / 60, burst: 100_000 })`
   * for 100k tokens a minute, or a shared limiter of `@ballast/redis`.
   */
  limiter: Limiter;
  /** Whose allowance a call spends. Default: `principal.id`, or `''` for anonymous calls. */
  key?: (input: unknown, options: InferOptions | undefined) => string;
}

/** What {@link streamPolicies} composes: the client's policies, shared with its `infer` path. */
export interface StreamPolicyParts<I, O> {
  model: Model<I, O>;
  stream: StreamOptions<I, O>;
  /** The client's own `timeoutMs`. */
  clientTimeoutMs: number | undefined;
  /** `rateLimit` applied to a model (shares the policy's limiter). */
  rateLimit?: <A, B>(next: Model<A, B>) => Model<A, B>;
  /** `bulkhead` applied to a model (shares the policy's slots). */
  bulkhead?: <A, B>(next: Model<A, B>) => Model<A, B>;
  /** `circuitBreaker` applied to a model (shares the policy's state). */
  breaker?: <A, B>(next: Model<A, B>) => Model<A, B>;
  retry?: RetryOptions;
  hedge?: HedgeOptions;
  fallback?: FallbackOptions<I, O>;
  cache?: ResultCacheMiddleware;
  cacheOptions?: CacheOptions;
  tokenLimit?: TokenLimitOptions;
  /** Called once per stream with how it ended (the client's counters). */
  settled(error: unknown): void;
}

/*
 * Admission policies (rate limit, bulkhead, breaker) keep their state in the middleware the
 * client's infer path uses. A stream goes through the very same middleware with a stand-in model
 * whose `infer` answers when the stream ends: the bulkhead holds its slot for the stream's
 * lifetime, the breaker records the stream's outcome (a failure after the first chunk included),
 * the rate limit counts the call. No policy needs a second, stream-only implementation of its
 * state.
 */
const HOLD = Symbol('ballast.stream.hold');

interface Hold {
  admitted(): void;
  readonly lifetime: Promise<unknown>;
}

/** One admitted stream's hold on a policy: `end()` or `fail()` when the stream ends. */
interface Lease {
  end(): void;
  fail(error: unknown): void;
}

function holdingModel<I, O>(model: Model<I, O>): Model<I, O> {
  return {
    get name() {
      return model.name;
    },
    get version() {
      return model.version;
    },
    infer(_input: I, options?: InferOptions): Promise<O> {
      const hold = (options as { [HOLD]?: Hold } | undefined)?.[HOLD] as Hold;
      hold.admitted();
      return hold.lifetime as Promise<O>;
    },
  };
}

const noop = (): void => {};

async function acquire<I>(policy: Model<I, unknown>, input: I, options: InferOptions): Promise<Lease> {
  let admitted!: () => void;
  let end!: () => void;
  let fail!: (error: unknown) => void;
  const admission = new Promise<void>((resolve) => {
    admitted = resolve;
  });
  const lifetime = new Promise<unknown>((resolve, reject) => {
    end = () => resolve(undefined);
    fail = reject;
  });
  lifetime.catch(noop);
  const call = policy.infer(input, { ...options, [HOLD]: { admitted, lifetime } } as InferOptions);
  call.catch(noop);
  await Promise.race([admission, call]);
  return { end, fail };
}

/** An attempt that has delivered its first chunk (or ended without any). */
interface Opened<O> {
  readonly stream: ModelStream<O>;
  readonly iterator: AsyncIterator<Chunk>;
  readonly first: IteratorResult<Chunk>;
  readonly abort: (reason: BallastError) => void;
  lease?: Lease;
  readonly source: string;
}

function chunkOf(value: unknown): Chunk {
  if (typeof value === 'string') return { text: value, data: value };
  const text = (value as { text?: unknown } | null)?.text;
  return typeof text === 'string' ? { text, data: value } : { data: value };
}

/** A stream of one chunk: the answer of a model that does not stream, or a fallback value. */
function valueStream<O>(produce: () => Promise<O> | O, options: InferOptions): ModelStream<O> {
  return createStream<O>(
    async function* single() {
      const output = await produce();
      yield chunkOf(output);
      return { output };
    },
    { options },
  );
}

function streamOf<I, O>(model: Model<I, O>, input: I, options: InferOptions): ModelStream<O> {
  if (typeof model.stream === 'function') return model.stream(input, options);
  return valueStream(() => model.infer(input, options), options);
}

function isModel<I, O>(source: FallbackSource<I, O>): source is Model<I, O> {
  return typeof (source as Model<I, O>).infer === 'function';
}

function sourceName<I, O>(source: FallbackSource<I, O>): string {
  if (isModel(source)) return source.name;
  if (typeof source === 'function') return source.name || 'rule';
  return (source as StaleCacheFallback).kind === 'stale-cache' ? 'stale-cache' : 'static';
}

const NOT_FALLING_BACK = new Set(['INVALID_INPUT', 'CANCELLED', 'CONFIG', 'UNAUTHENTICATED', 'FORBIDDEN']);

function defaultWhen(error: unknown): boolean {
  return !(isBallastError(error) && NOT_FALLING_BACK.has(error.code));
}

function principalKey(_input: unknown, options: InferOptions | undefined): string {
  return options?.principal?.id ?? '';
}

/** The typed error a stream ends with when it fails after its first chunk reached the caller. */
function midStreamError(model: string, error: BallastError, chunks: number): BallastError {
  return new BallastError(error.code, `stream of "${model}" failed after ${chunks} chunk${chunks === 1 ? '' : 's'}: ${error.message}`, {
    retryable: false,
    cause: error,
    details: { ...error.details, phase: 'mid-stream', chunks, ...(error.details?.phase ? { failedIn: error.details.phase } : {}) },
  });
}

// A stored stream. Plain data with a string marker (no symbol, no class), so a shared store that
// serializes entries (JSON for Redis) keeps it whole.
interface CachedStream {
  readonly kind: typeof CACHED;
  readonly chunks: readonly Chunk[];
  readonly result: StreamResult<unknown>;
}
const CACHED = 'ballast.stream';

/**
 * @internal The client's `stream()`: every policy's stream rule (docs/streaming.md), composed in
 * the client's order: rate limit and token limit, cache, bulkhead, then attempts (retry around
 * breaker around hedge), then the fallback chain before the first chunk, or after it when
 * mid-stream fallback is on.
 */
export function streamPolicies<I, O>(parts: StreamPolicyParts<I, O>): (input: I, options?: InferOptions) => ModelStream<O> {
  const { model, stream: settings } = parts;
  const holder = holdingModel(model);
  const limited = parts.rateLimit?.(holder);
  const bulkheaded = parts.bulkhead?.(holder);
  const broken = parts.breaker?.(holder);
  const retry = parts.retry;
  const maxAttempts = retry ? (retry.maxAttempts ?? 3) : 1;
  const baseDelayMs = retry?.baseDelayMs ?? 50;
  const maxDelayMs = retry?.maxDelayMs ?? 2000;
  const random = retry?.random ?? Math.random;
  const shouldRetry = retry?.shouldRetry ?? ((error: unknown) => isBallastError(error) && error.retryable);
  const hedgeDelayMs = parts.hedge?.delayMs;
  const chain = parts.fallback?.chain ?? [];
  const when = parts.fallback?.when ?? defaultWhen;
  const continueWith = settings.continueWith ?? (continueChat as ContinueStream<I>);
  const mergeOutput = settings.mergeOutput ?? (mergeText as MergeContinuation<O>);
  const keepText = settings.midStreamFallback === true && chain.length > 0;
  const budgetMs = settings.timeoutMs ?? parts.clientTimeoutMs;
  const firstChunkMs = settings.firstChunkTimeoutMs;
  const idleMs = settings.idleTimeoutMs;
  const tokens = parts.tokenLimit;
  const tokenKey = tokens?.key ?? principalKey;
  const cache = parts.cache;
  const cacheTtlMs = parts.cacheOptions?.ttlMs ?? 60_000;
  const cacheKeyFn = parts.cacheOptions?.key;
  const clock = parts.cacheOptions?.clock ?? Date.now;

  function cacheKey(input: I, options: InferOptions): string | undefined {
    if (cache === undefined) return undefined;
    if (parts.cacheOptions?.bypass?.(input, options)) return undefined;
    try {
      const given = options.cacheKey ?? (cacheKeyFn ? cacheKeyFn(input, options) : undefined);
      if (cacheKeyFn && given === undefined) return undefined;
      // Its own key space: a stored stream (chunks and result) never answers an infer call.
      return `stream:${cacheKeyOf(model, input, given)}`;
    } catch {
      return undefined;
    }
  }

  /** Starts one attempt on `target` and waits for its first chunk (or its end). */
  async function openOnce(
    target: Model<I, O>,
    input: I,
    options: InferOptions,
    signal: AbortSignal,
    controller = new AbortController(),
  ): Promise<Opened<O>> {
    const attemptSignal = AbortSignal.any([signal, controller.signal]);
    const stream = streamOf(target, input, { ...options, signal: attemptSignal });
    const iterator = stream[Symbol.asyncIterator]();
    const timer =
      firstChunkMs === undefined
        ? undefined
        : setTimeout(() => controller.abort(timeoutError({ phase: 'first-chunk', firstChunkTimeoutMs: firstChunkMs })), firstChunkMs);
    try {
      const first = await iterator.next();
      return { stream, iterator, first, abort: (reason) => controller.abort(reason), source: target.name };
    } catch (error) {
      controller.abort(error);
      throw error;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** The primary with a hedged second attempt: the first to deliver a chunk wins, the other is aborted. */
  function openHedged(input: I, options: InferOptions, signal: AbortSignal): Promise<Opened<O>> {
    if (hedgeDelayMs === undefined) return openOnce(model, input, options, signal);
    const delayMs = hedgeDelayMs;
    return new Promise<Opened<O>>((resolve, reject) => {
      let pending = 1;
      let settled = false;
      let hedged = false;
      const primary = new AbortController();
      const hedge = new AbortController();
      const won = (winner: 'primary' | 'hedge') => (opened: Opened<O>) => {
        if (settled) {
          // The other attempt delivered first: this one stops at once.
          opened.abort(new BallastError('CANCELLED', 'the other hedged attempt delivered first'));
          return;
        }
        settled = true;
        clearTimeout(timer);
        // The loser stops now, before it delivers anything.
        (winner === 'primary' ? hedge : primary).abort(new BallastError('CANCELLED', 'the other hedged attempt delivered first'));
        if (hedged && channels.hedge.hasSubscribers) channels.hedge.publish({ model: model.name, afterMs: delayMs, winner });
        resolve(opened);
      };
      const failed = (error: unknown): void => {
        if (--pending > 0 || settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        if (settled) return;
        pending++;
        hedged = true;
        if (channels.hedge.hasSubscribers) channels.hedge.publish({ model: model.name, afterMs: delayMs });
        openOnce(model, input, options, signal, hedge).then(won('hedge'), failed);
      }, delayMs);
      openOnce(model, input, options, signal, primary).then(won('primary'), failed);
    });
  }

  /** Attempts on the primary: retry around breaker around hedge, all before the first chunk. */
  async function openPrimary(input: I, options: InferOptions, signal: AbortSignal): Promise<Opened<O>> {
    for (let attempt = 1; ; attempt++) {
      let lease: Lease | undefined;
      try {
        if (broken) lease = await acquire(broken, input, options);
        const opened = await openHedged(input, options, signal);
        if (lease) opened.lease = lease;
        return opened;
      } catch (thrown) {
        const error = toBallastError(thrown);
        lease?.fail(error);
        if (signal.aborted) throw isBallastError(signal.reason) ? signal.reason : error;
        if (attempt >= maxAttempts || !shouldRetry(error, attempt)) throw error;
        const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        let delayMs = retry?.jitter === 'none' ? backoff : random() * backoff;
        if (error.retryAfterMs !== undefined) delayMs = Math.max(delayMs, error.retryAfterMs);
        if (now() + delayMs >= deadlineOf(options)) throw error;
        if (channels.retry.hasSubscribers) channels.retry.publish({ model: model.name, attempt, delayMs, error });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (signal.aborted) throw signal.reason;
      }
    }
  }

  /** Tries the chain's sources in order (models only, when continuing mid-stream). */
  async function openFallback(
    input: I,
    options: InferOptions,
    signal: AbortSignal,
    error: BallastError,
    continuing: boolean,
  ): Promise<Opened<O> | undefined> {
    for (let index = 0; index < chain.length; index++) {
      const source = chain[index] as FallbackSource<I, O>;
      if (continuing && !isModel(source)) continue;
      const name = sourceName(source);
      try {
        let opened: Opened<O>;
        if (isModel(source)) {
          opened = await openOnce(source, input, options, signal);
        } else {
          const produce = async (): Promise<O> => {
            if (typeof source === 'function') return (source as RuleFallback<I, O>)(input, error, options);
            if ((source as StaleCacheFallback).kind === 'stale-cache') {
              const stale = await parts.cache?.lastGood(model, input, options);
              if (stale === undefined) throw new BallastError('NOT_FOUND', 'no cached result to serve');
              return stale.value as O;
            }
            return (source as StaticFallback<O>).value;
          };
          opened = await openOnce({ name, infer: produce } as Model<I, O>, input, options, signal);
        }
        if (channels.fallback.hasSubscribers) channels.fallback.publish({ model: model.name, source: name, index, error, served: true });
        return opened;
      } catch (failed) {
        if (channels.fallback.hasSubscribers) channels.fallback.publish({ model: model.name, source: name, index, error, served: false });
        if (signal.aborted) throw signal.reason;
        void failed;
      }
    }
    return undefined;
  }

  return function stream(input: I, callOptions?: InferOptions): ModelStream<O> {
    const options: InferOptions = { ...callOptions };
    if (budgetMs !== undefined) options.timeoutMs = Math.min(options.timeoutMs ?? budgetMs, budgetMs);
    return createStream<O>(
      async function* clientStream(signal) {
        const down: InferOptions = { ...options, signal };
        const deadline = deadlineOf(options);
        delete down.timeoutMs;
        if (deadline !== Number.POSITIVE_INFINITY) down.deadline = deadline;
        const leases: Lease[] = [];
        let current: Opened<O> | undefined;
        let outcome: unknown;
        let delivered = 0;
        let usageTokens: number | undefined;
        let tokenCharged = false;
        try {
          if (limited) (await acquire(limited, input, down)).end();
          const key = tokens ? tokenKey(input, down) : '';
          if (tokens) {
            const taken = await tokens.limiter.take(key, 1, down);
            if (!taken.ok) {
              throw new BallastError('RATE_LIMITED', `token allowance of "${key}" for "${model.name}" is spent`, {
                retryAfterMs: taken.retryAfterMs,
                details: { key, source: 'token-limit' },
              });
            }
          }
          // Cache: a completed stream replays as a stream.
          const storeKey = cacheKey(input, down);
          if (storeKey !== undefined && cache) {
            const entry = await cache.store.get(storeKey);
            const value = entry?.value as CachedStream | undefined;
            if (entry !== undefined && value?.kind === CACHED && entry.expiresAt > clock()) {
              if (channels.cache.hasSubscribers) channels.cache.publish({ model: model.name, result: 'hit' });
              for (const chunk of value.chunks) yield chunk;
              tokenCharged = true; // a replay costs no upstream tokens
              return value.result as StreamResult<O>;
            }
            if (channels.cache.hasSubscribers) channels.cache.publish({ model: model.name, result: 'miss' });
          }
          if (bulkheaded) leases.push(await acquire(bulkheaded, input, down));

          try {
            current = await openPrimary(input, down, signal);
          } catch (thrown) {
            const error = toBallastError(thrown);
            if (signal.aborted || !when(error)) throw error;
            current = await openFallback(input, down, signal, error, false);
            if (current === undefined) throw error;
          }

          const recorded: Chunk[] | undefined = storeKey === undefined ? undefined : [];
          let text = '';
          let prefix = '';
          let step = current.first;
          let lastChunkAt = now();
          let waiting = true;
          let idleTimer: NodeJS.Timeout | undefined;
          // One timer per stream, not per chunk: each chunk only stamps the time; the timer, when
          // it fires, re-arms itself for the rest of the gap unless the gap is really over. Time
          // the caller spends between two reads is not the upstream's idle time.
          const checkIdle = (): void => {
            if (!waiting) {
              idleTimer = setTimeout(checkIdle, idleMs as number);
              return;
            }
            const gap = now() - lastChunkAt;
            if (gap >= (idleMs as number)) current?.abort(timeoutError({ phase: 'idle', idleTimeoutMs: idleMs }));
            else idleTimer = setTimeout(checkIdle, (idleMs as number) - gap);
          };
          if (idleMs !== undefined) idleTimer = setTimeout(checkIdle, idleMs);
          try {
            while (!step.done) {
              const chunk = step.value;
              // The delivered text is kept only for a continuation: nothing per chunk otherwise.
              if (keepText && chunk.text !== undefined) text += chunk.text;
              delivered++;
              recorded?.push(chunk);
              waiting = false;
              yield chunk;
              waiting = true;
              lastChunkAt = now();
              try {
                step = await current.iterator.next();
              } catch (thrown) {
                const error = toBallastError(thrown);
                current.lease?.fail(error);
                current.lease = undefined;
                if (signal.aborted) throw isBallastError(signal.reason) ? signal.reason : error;
                let continuation: I | undefined;
                if (settings.midStreamFallback && when(error)) {
                  try {
                    continuation = continueWith(input, text);
                  } catch {
                    continuation = undefined; // an input that cannot be continued ends like any mid-stream failure
                  }
                }
                const next = continuation === undefined ? undefined : await openFallback(continuation, down, signal, error, true);
                if (next === undefined) throw midStreamError(model.name, error, delivered);
                current = next;
                prefix = text;
                step = current.first;
                lastChunkAt = now();
              }
            }
          } finally {
            if (idleTimer !== undefined) clearTimeout(idleTimer);
          }
          const ended = await current.stream.result;
          current.lease?.end();
          current.lease = undefined;
          const result: StreamResult<O> = prefix === '' ? ended : { ...ended, output: mergeOutput(prefix, ended.output) };
          usageTokens = tokensOf(result);
          if (storeKey !== undefined && cache && recorded) {
            const storedAt = clock();
            const value: CachedStream = { kind: CACHED, chunks: recorded, result };
            await Promise.resolve(cache.store.set(storeKey, { value, storedAt, expiresAt: storedAt + cacheTtlMs }, cacheTtlMs)).catch(noop);
          }
          return result;
        } catch (error) {
          outcome = error;
          throw error;
        } finally {
          // Leaving early, failing or completing: the upstream stops and every hold is released.
          if (current?.lease) {
            // The caller stopped reading: not the upstream's failure.
            current.lease.end();
          }
          current?.abort(new BallastError('CANCELLED', 'the stream ended'));
          for (const lease of leases) {
            if (outcome === undefined || (isBallastError(outcome) && outcome.code === 'CANCELLED')) lease.end();
            else lease.fail(outcome);
          }
          if (tokens && !tokenCharged) {
            // The admission took one token; the rest is charged from the usage (or, for a stream
            // that ended without usage, one token per chunk delivered).
            const spend = Math.max(0, (usageTokens ?? delivered) - 1);
            if (spend > 0) void charge(tokens.limiter, tokenKey(input, down), spend, down);
          }
          parts.settled(outcome);
        }
      },
      { options },
    );
  };
}

// The stream's own signal has ended by now; a shared limiter still gets the call's deadline.
function deadlineOptions(options: InferOptions): { deadline?: number } {
  return options.deadline === undefined ? {} : { deadline: Math.max(options.deadline, now() + 1000) };
}

function tokensOf(result: StreamResult<unknown>): number | undefined {
  const usage = result.usage;
  if (usage === undefined) return undefined;
  return usage.totalTokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
}

/*
 * Spends `cost` tokens; when the allowance holds fewer, it spends what is left, so the next call
 * is refused until the allowance refills (a limiter refuses a take larger than what it holds and
 * then spends nothing, which would let a large stream go uncharged). A cost above what the
 * limiter can ever hold (a token bucket's burst) is refused with INVALID_INPUT: the same case.
 */
async function charge(limiter: Limiter, key: string, cost: number, options: InferOptions): Promise<void> {
  try {
    let granted = false;
    try {
      granted = (await limiter.take(key, cost, deadlineOptions(options))).ok;
    } catch (error) {
      if (!isBallastError(error) || error.code !== 'INVALID_INPUT') throw error;
    }
    if (granted || limiter.available === undefined) return;
    const left = Math.floor(await limiter.available(key));
    if (left > 0) await limiter.take(key, left);
  } catch {
    // A limiter that fails to charge must not fail a stream that already completed.
  }
}
