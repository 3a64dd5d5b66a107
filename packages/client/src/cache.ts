import {
  annotate,
  BallastError,
  callModel,
  channels,
  type InferOptions,
  type Middleware,
  type Model,
  parseOptions,
  remainingMs,
} from '@ballast/core';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { type CacheEncoding, decodeCacheValue, encodeCacheValue } from './cache-codec.js';
import { canonicalKey, givenKey, keyPrefix } from './cache-key.js';
import { detachedOptions } from './call-options.js';
import { wrapModel } from './model-wrap.js';
import { functionOption, msOption, objectWith, positiveIntOption } from './options-check.js';

/** A cached result with its timestamps (ms on the cache's clock). */
export interface CacheEntry<O = unknown> {
  /** The model's output. Shared by every caller that hits it: do not mutate. */
  readonly value: O;
  /** When it was stored. */
  readonly storedAt: number;
  /** When it stops being fresh. */
  readonly expiresAt: number;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * Where results live. The default is an in-process LRU ({@link lruCacheStore}); a shared store
 * (Redis, memcached) implements the same three methods, synchronously or with promises. Stores
 * keep entries past `expiresAt` (for stale-while-revalidate, stale-if-error and `staleCache()`);
 * `set`'s `retainMs` says how long an entry is still useful.
 *
 * A store that serializes declares it with `encoding`: the cache then hands it values encoded by
 * the cache codec (`encodeCacheValue`: a string for `text`, a Uint8Array for `bytes`) and decodes
 * what `get` returns, so typed arrays, BigInts and tensors come back exact. Without `encoding` the
 * store keeps values as they are (in-process stores).
 *
 * Every method receives the call's options: a store that does I/O bounds each command by the
 * call's remaining budget (`remainingMs(options)`, `signalOf(options)`). A failing or late store
 * costs the call its cache, never the call: the cache goes upstream and counts `storeErrors`.
 *
 * The optional lease methods (`acquire`, `wait`, `release`) extend single-flight across processes:
 * on a miss, one process computes a result while the others wait for it.
 */
export interface CacheStore<O = unknown> {
  /** `text` or `bytes` when the store serializes values (the cache encodes and decodes them); absent for stores that keep values as they are. */
  readonly encoding?: CacheEncoding;
  /** The entry for `key`, fresh or not. */
  get(key: string, options?: InferOptions): MaybePromise<CacheEntry<O> | undefined>;
  /** Stores an entry; `retainMs` is how long it may still be served (at least until `expiresAt`). */
  set(key: string, entry: CacheEntry<O>, retainMs: number, options?: InferOptions): MaybePromise<void>;
  /** Removes an entry. */
  delete(key: string, options?: InferOptions): MaybePromise<void>;
  /** Removes every entry. */
  clear?(): MaybePromise<void>;
  /**
   * Claims the computation of `key` for `leaseMs` across processes: `true` when this process
   * should compute it, `false` when another holds the lease (then the cache calls `wait`).
   */
  acquire?(key: string, leaseMs: number, options?: InferOptions): Promise<boolean>;
  /**
   * Waits at most `waitMs` for the lease holder to store `key` or give up its lease; returns the
   * entry when one was stored, `undefined` otherwise (the cache then computes it itself).
   */
  wait?(key: string, waitMs: number, options?: InferOptions): Promise<CacheEntry<O> | undefined>;
  /** Gives up a lease taken with `acquire` (after the result is stored, or when computing it failed) and wakes the waiters. */
  release?(key: string, options?: InferOptions): MaybePromise<void>;
}

/** Options of {@link lruCacheStore}. */
export interface LruCacheStoreOptions {
  /** Most entries. Default 1,000 (when `maxBytes` is not given). */
  max?: number;
  /** Most bytes (as `sizeOf` counts them). */
  maxBytes?: number;
  /** Size of an entry in bytes. Default: an estimate (typed arrays by byteLength, strings 2 bytes a char, 8 per number). */
  sizeOf?: (value: unknown, key: string) => number;
}

/** Rough byte size of a value, for `maxBytes`. */
export function estimateBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return 2 * value.length;
    case 'number':
    case 'bigint':
      return 8;
    case 'boolean':
      return 4;
    case 'object': {
      if (value === null) return 4;
      if (ArrayBuffer.isView(value)) return value.byteLength;
      if (value instanceof ArrayBuffer) return value.byteLength;
      if (depth > 16) return 64;
      let total = 16;
      if (Array.isArray(value)) for (const item of value) total += estimateBytes(item, depth + 1);
      else for (const key in value) total += 2 * key.length + estimateBytes((value as Record<string, unknown>)[key], depth + 1);
      return total;
    }
    default:
      return 8;
  }
}

/** @internal The schema of {@link LruCacheStoreOptions}. */
export const lruCacheStoreOptionsSchema = z.strictObject({
  max: positiveIntOption.optional(),
  maxBytes: positiveIntOption.optional(),
  sizeOf: functionOption.optional(),
});

/**
 * The default {@link CacheStore}: lru-cache bounded by entries and/or bytes. Expiry is checked by
 * the cache middleware, not by lru-cache, so stale entries stay available for stale serving until
 * evicted.
 *
 * @example
 * const store = lruCacheStore({ maxBytes: 64 * 1024 * 1024 });
 */
export function lruCacheStore<O = unknown>(options: LruCacheStoreOptions = {}): CacheStore<O> {
  return lruCacheStoreFromParsed(parseOptions('lruCacheStore', lruCacheStoreOptionsSchema, options) as LruCacheStoreOptions);
}

// lruCacheStore from options already parsed (resultCache's own, which include the store's).
function lruCacheStoreFromParsed<O>(options: LruCacheStoreOptions): CacheStore<O> {
  const sizeOf = options.sizeOf ?? ((value: unknown, key: string) => estimateBytes(value) + 2 * key.length);
  const lru =
    options.maxBytes === undefined
      ? new LRUCache<string, CacheEntry<O>>({ max: options.max ?? 1000 })
      : new LRUCache<string, CacheEntry<O>>({
          ...(options.max === undefined ? {} : { max: options.max }),
          maxSize: options.maxBytes,
          sizeCalculation: (entry: CacheEntry<O>, key: string) => Math.max(1, Math.ceil(sizeOf(entry.value, key))),
        });
  return {
    get: (key) => lru.get(key),
    set: (key, entry) => {
      lru.set(key, entry);
    },
    delete: (key) => {
      lru.delete(key);
    },
    clear: () => lru.clear(),
  };
}

/** Options of {@link resultCache}. */
export interface CacheOptions extends LruCacheStoreOptions {
  /** How long a result is fresh, ms. Default 60,000. */
  ttlMs?: number;
  /** After expiry, serve the stale result for this long while one call refreshes it in the background, ms. Default 0. */
  staleWhileRevalidateMs?: number;
  /** After expiry, serve the stale result for this long when the refresh fails, ms. Default 0. */
  staleIfErrorMs?: number;
  /** Derives the key part for an input; return `undefined` to not cache the call. Default: the canonical form (see docs). */
  key?: (input: unknown, options: InferOptions | undefined) => string | undefined;
  /** Skip the lookup for calls where this returns true (the fresh result is still stored). */
  bypass?: (input: unknown, options: InferOptions | undefined) => boolean;
  /** A shared store instead of the in-process LRU (`max`/`maxBytes`/`sizeOf` then do not apply). */
  store?: CacheStore;
  /** Wall clock for entry timestamps, ms. Default `Date.now` (shared stores compare across processes). */
  clock?: () => number;
  /**
   * With a store that has leases (`acquire`/`wait`/`release`, e.g. the Redis store): how long one
   * process may hold the computation of a missed key before others compute it themselves, ms.
   * Waiters wait at most this long and at most half of their own remaining budget. Default 5,000.
   */
  leaseMs?: number;
}

/** Counters of a result cache. */
export interface CacheStats {
  /** Calls answered from the cache, `sharedHits` included. */
  hits: number;
  /**
   * Hits another process computed while this one waited on its single-flight lease (a store with
   * `acquire`/`wait`, e.g. the Redis store): counted in `hits`, not in `misses`, as no model ran
   * here for them.
   */
  sharedHits: number;
  /** Lookups that ran the model for the result. */
  misses: number;
  /** Stale results served (stale-while-revalidate or stale-if-error). */
  stale: number;
  /** Calls that joined an identical call in flight. */
  coalesced: number;
  /** Calls that skipped the cache (bypass, or no canonical key). */
  bypassed: number;
  /** Store operations (lookups, writes, leases, waits, decodes) that failed or ran out of time; their calls went upstream. */
  storeErrors: number;
}

/** A {@link resultCache} middleware with its store and counters. */
export interface ResultCacheMiddleware extends Middleware {
  /** Counters since creation. */
  stats(): CacheStats;
  /** The last good value stored for a call, however old; `undefined` when none. Used by `staleCache()`. */
  lastGood<I>(
    model: Pick<Model<I, unknown>, 'name' | 'version'>,
    input: I,
    options?: InferOptions,
  ): Promise<{ value: unknown } | undefined>;
  /** Removes every entry. */
  clear(): Promise<void>;
  /** The store in use. */
  readonly store: CacheStore;
}

const BYPASS = Symbol.for('ballast.cache.bypass');

/**
 * Marks a call to skip result-cache lookups (its fresh result is still stored).
 *
 * @example
 * await client.infer(input, bypassCache({ timeoutMs: 200 }));
 */
export function bypassCache(options: InferOptions = {}): InferOptions {
  return { ...options, [BYPASS]: true } as InferOptions;
}

function isBypassed(options: InferOptions | undefined): boolean {
  return options !== undefined && (options as Record<symbol, unknown>)[BYPASS] === true;
}

type LookupResult = 'hit' | 'miss' | 'stale' | 'coalesced';
const COUNTER: Record<LookupResult, 'hits' | 'misses' | 'stale' | 'coalesced'> = {
  hit: 'hits',
  miss: 'misses',
  stale: 'stale',
  coalesced: 'coalesced',
};

// The leader's own budget or cancellation ended its call; a joiner with budget left runs its own.
function isLeaderEnd(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'TIMEOUT' || code === 'CANCELLED';
}

/*
 * Why not an existing cache middleware: none knows the call's deadline, single-flight and stale
 * serving together. lru-cache does the storage; this class adds the policy. The hit path is a key
 * derivation, one Map lookup and Promise.resolve: no timer, listener or closure.
 */
class ResultCache {
  readonly counters: CacheStats = { hits: 0, sharedHits: 0, misses: 0, stale: 0, coalesced: 0, bypassed: 0, storeErrors: 0 };

  /**
   * Counts a lookup's result, adds it to the call's telemetry and publishes `ballast:cache`;
   * `shared` marks a hit another process computed (through the single-flight lease).
   */
  private record(model: string, options: InferOptions | undefined, result: LookupResult, shared = false): void {
    this.counters[COUNTER[result]]++;
    annotate(options, 'ballast.cache.result', result);
    if (shared) {
      this.counters.sharedHits++;
      annotate(options, 'ballast.cache.shared', true);
    }
    if (channels.cache.hasSubscribers) channels.cache.publish(shared ? { model, result, shared } : { model, result });
  }
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly encoding: CacheEncoding | undefined;
  private readonly leases: boolean;

  constructor(
    readonly store: CacheStore,
    private readonly ttlMs: number,
    private readonly swrMs: number,
    private readonly sieMs: number,
    private readonly keyFn: CacheOptions['key'],
    private readonly bypassFn: CacheOptions['bypass'],
    private readonly clock: () => number,
    private readonly leaseMs: number,
  ) {
    this.encoding = store.encoding;
    this.leases = typeof store.acquire === 'function' && typeof store.wait === 'function';
  }

  /** The entry as the model returned it: decoded when the store serializes. A corrupt entry is no entry. */
  decoded(entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry === undefined || this.encoding === undefined) return entry;
    try {
      return { value: decodeCacheValue(entry.value as string | Uint8Array), storedAt: entry.storedAt, expiresAt: entry.expiresAt };
    } catch {
      this.counters.storeErrors++;
      return undefined;
    }
  }

  keyOf(model: Pick<Model, 'name' | 'version'>, input: unknown, options: InferOptions | undefined): string | undefined {
    return this.keyWith(keyPrefix(model), input, options);
  }

  /** The key with a precomputed `name@version:` prefix (one per wrapped model, not per call). */
  keyWith(prefix: string, input: unknown, options: InferOptions | undefined): string | undefined {
    if (options?.cacheKey !== undefined) return givenKey(prefix, options.cacheKey);
    if (this.keyFn) {
      const part = this.keyFn(input, options);
      return part === undefined ? undefined : givenKey(prefix, part);
    }
    try {
      return prefix + canonicalKey(input);
    } catch {
      return undefined;
    }
  }

  infer<I, O>(next: Model<I, O>, prefix: string, input: I, options: InferOptions | undefined): Promise<O> {
    let key: string | undefined;
    let skipLookup: boolean;
    try {
      key = this.keyWith(prefix, input, options);
      skipLookup = isBypassed(options) || (this.bypassFn !== undefined && this.bypassFn(input, options) === true);
    } catch (error) {
      return Promise.reject(new BallastError('INVALID_INPUT', 'cache: key or bypass function failed', { cause: error }));
    }
    if (key === undefined) {
      this.counters.bypassed++;
      annotate(options, 'ballast.cache.result', 'bypass');
      return callModel(next, input, options);
    }
    if (skipLookup) {
      this.counters.bypassed++;
      annotate(options, 'ballast.cache.result', 'bypass');
      return this.load(next, input, options, key, undefined);
    }
    let found: MaybePromise<CacheEntry | undefined>;
    try {
      found = this.store.get(key, options);
    } catch {
      this.counters.storeErrors++;
      found = undefined;
    }
    if (found instanceof Promise) return this.afterAsyncLookup(next, input, options, key, found);
    return this.afterLookup(next, input, options, key, this.decoded(found));
  }

  private async afterAsyncLookup<I, O>(
    next: Model<I, O>,
    input: I,
    options: InferOptions | undefined,
    key: string,
    found: Promise<CacheEntry | undefined>,
  ): Promise<O> {
    let entry: CacheEntry | undefined;
    try {
      entry = await found;
    } catch {
      this.counters.storeErrors++;
      entry = undefined; // a failing shared store must not fail the call
    }
    // A fresh hit answers with the value itself: handing afterLookup's promise back from this async
    // function would cost a promise and two more microtask turns on every hit. Only its value is
    // decoded (no second entry object).
    if (entry !== undefined && this.clock() < entry.expiresAt) {
      let value = entry.value;
      if (this.encoding !== undefined) {
        try {
          value = decodeCacheValue(value as string | Uint8Array);
        } catch {
          this.counters.storeErrors++; // a corrupt entry is no entry
          return this.afterLookup(next, input, options, key, undefined);
        }
      }
      this.record(next.name, options, 'hit');
      return value as O;
    }
    return this.afterLookup(next, input, options, key, this.decoded(entry));
  }

  private afterLookup<I, O>(
    next: Model<I, O>,
    input: I,
    options: InferOptions | undefined,
    key: string,
    entry: CacheEntry | undefined,
  ): Promise<O> {
    if (entry !== undefined) {
      const at = this.clock();
      if (at < entry.expiresAt) {
        this.record(next.name, options, 'hit');
        return Promise.resolve(entry.value as O);
      }
      if (at < entry.expiresAt + this.swrMs) {
        this.record(next.name, options, 'stale');
        if (!this.inflight.has(key)) {
          // Refresh in the background, detached from this call's scope (which ends now), within
          // what is left of the caller's budget.
          this.load(next, input, detachedOptions(options, undefined), key, undefined).catch(() => {});
        }
        return Promise.resolve(entry.value as O);
      }
    }
    const running = this.inflight.get(key);
    if (running !== undefined) {
      this.record(next.name, options, 'coalesced');
      return this.join(next, input, options, key, running as Promise<O>, entry);
    }
    // With leases, whether this is a miss is known only after the lease: another process may
    // deliver the result (a hit). fill() counts it then.
    if (!this.leases) this.record(next.name, options, 'miss');
    return this.load(next, input, options, key, entry, this.leases);
  }

  private async join<I, O>(
    next: Model<I, O>,
    input: I,
    options: InferOptions | undefined,
    key: string,
    running: Promise<O>,
    entry: CacheEntry | undefined,
  ): Promise<O> {
    try {
      return await running;
    } catch (error) {
      if (isLeaderEnd(error)) return this.load(next, input, options, key, entry);
      throw error;
    }
  }

  private load<I, O>(
    next: Model<I, O>,
    input: I,
    options: InferOptions | undefined,
    key: string,
    entry: CacheEntry | undefined,
    countLookup = false,
  ): Promise<O> {
    const work = this.fill(next, input, options, key, entry, countLookup);
    this.inflight.set(key, work);
    return work;
  }

  /** Computes (or, with leases, obtains) a missed key; `countLookup`: count the lookup's result here. */
  private async fill<I, O>(
    next: Model<I, O>,
    input: I,
    options: InferOptions | undefined,
    key: string,
    entry: CacheEntry | undefined,
    countLookup: boolean,
  ): Promise<O> {
    let leased = false;
    if (this.leases) {
      const shared = await this.shared(key, options);
      if (shared === undefined) leased = true;
      else if (shared !== false) {
        this.inflight.delete(key);
        if (countLookup) this.record(next.name, options, 'hit', true);
        return shared.value as O;
      }
    }
    if (countLookup) this.record(next.name, options, 'miss');
    let value: O;
    try {
      value = await callModel(next, input, options);
    } catch (error) {
      this.inflight.delete(key);
      if (leased) this.release(key, undefined);
      if (entry !== undefined && this.clock() < entry.expiresAt + this.sieMs) {
        this.record(next.name, options, 'stale');
        return entry.value as O;
      }
      throw error; // errors are never cached
    }
    this.inflight.delete(key);
    const at = this.clock();
    let stored: MaybePromise<void> | 'failed';
    try {
      stored = this.store.set(
        key,
        { value: this.encoding === undefined ? value : encodeCacheValue(value, this.encoding), storedAt: at, expiresAt: at + this.ttlMs },
        this.ttlMs + Math.max(this.swrMs, this.sieMs),
        // The write outlives the call: it is bounded by the store's own command timeout, not by
        // what is left of this caller's budget.
        undefined,
      );
    } catch (error) {
      // A failing store (or a value the codec cannot hold) loses one entry, not the call.
      if (!(error instanceof BallastError && error.code === 'INVALID_INPUT')) this.counters.storeErrors++;
      stored = 'failed';
    }
    if (stored instanceof Promise) {
      stored.then(
        () => {
          if (leased) this.release(key, undefined);
        },
        () => {
          this.counters.storeErrors++;
          if (leased) this.release(key, undefined);
        },
      );
    } else if (leased) this.release(key, undefined);
    return value;
  }

  /**
   * Cross-process single-flight before computing a missed key: `undefined` when this process holds
   * the lease (or the store cannot say: then it computes without one), `false` when the holder
   * did not deliver in time (compute without a lease), or the entry another process stored.
   */
  private async shared(key: string, options: InferOptions | undefined): Promise<CacheEntry | false | undefined> {
    const store = this.store as Required<Pick<CacheStore, 'acquire' | 'wait'>> & CacheStore;
    let held: boolean;
    try {
      held = await store.acquire(key, this.leaseMs, options);
    } catch {
      this.counters.storeErrors++;
      return false;
    }
    if (held) {
      // The holder may have stored and released between this call's lookup and its claim.
      const again = await this.lookup(key, options);
      if (again === undefined) return undefined;
      this.release(key, undefined);
      return again;
    }
    const waitMs = Math.min(this.leaseMs, remainingMs(options) / 2);
    let waited: CacheEntry | undefined;
    try {
      waited = this.decoded(await store.wait(key, waitMs, options));
    } catch {
      this.counters.storeErrors++;
      return false;
    }
    return waited !== undefined && this.clock() < waited.expiresAt ? waited : false;
  }

  /** A fresh decoded entry from the store, or undefined (missing, stale, failed). */
  private async lookup(key: string, options: InferOptions | undefined): Promise<CacheEntry | undefined> {
    try {
      const entry = this.decoded(await this.store.get(key, options));
      return entry !== undefined && this.clock() < entry.expiresAt ? entry : undefined;
    } catch {
      this.counters.storeErrors++;
      return undefined;
    }
  }

  private release(key: string, options: InferOptions | undefined): void {
    try {
      const done = this.store.release?.(key, options);
      if (done instanceof Promise) done.catch(() => this.counters.storeErrors++);
    } catch {
      this.counters.storeErrors++;
    }
  }
}

/** @internal The schema of {@link CacheOptions}; createClient composes it as its `cache` section. */
export const cacheOptionsSchema = z.strictObject({
  ...lruCacheStoreOptionsSchema.shape,
  ttlMs: msOption.optional(),
  staleWhileRevalidateMs: msOption.optional(),
  staleIfErrorMs: msOption.optional(),
  key: functionOption.optional(),
  bypass: functionOption.optional(),
  store: objectWith(['get', 'set'], 'a CacheStore (get() and set())').optional(),
  clock: functionOption.optional(),
  leaseMs: z.number().finite().min(1).optional(),
});

/**
 * Caches successful results per model and input. Keys are derived from the model's name and
 * version and a canonical form of the input (`cacheKeyOf`; `options.cacheKey` overrides). Identical
 * calls in flight share one upstream call (single-flight); expired results can be served while
 * one call refreshes them (`staleWhileRevalidateMs`) or when the refresh fails (`staleIfErrorMs`);
 * errors are never cached; `bypassCache()` or `bypass` skip the lookup. Publishes `ballast:cache`
 * and annotates `ballast.cache.result`.
 *
 * @example
 * const cache = resultCache({ max: 10_000, ttlMs: 30_000, staleIfErrorMs: 300_000 });
 * const model = pipeline(remote, cache);
 * await model.infer(new Float32Array(16)); // miss, then hits
 */
export function resultCache(options: CacheOptions = {}): ResultCacheMiddleware {
  return resultCacheFromParsed(parseOptions('resultCache', cacheOptionsSchema, options) as CacheOptions);
}

/** @internal {@link resultCache} from options already parsed with {@link cacheOptionsSchema} (createClient's section). */
export function resultCacheFromParsed(options: CacheOptions): ResultCacheMiddleware {
  const store =
    options.store ??
    lruCacheStoreFromParsed({
      ...(options.max === undefined ? {} : { max: options.max }),
      ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
      ...(options.sizeOf === undefined ? {} : { sizeOf: options.sizeOf }),
    });
  const cache = new ResultCache(
    store,
    options.ttlMs ?? 60_000,
    options.staleWhileRevalidateMs ?? 0,
    options.staleIfErrorMs ?? 0,
    options.key,
    options.bypass,
    options.clock ?? Date.now,
    options.leaseMs ?? 5000,
  );
  const middleware = function cacheMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    const prefix = keyPrefix(next);
    return wrapModel(next, function caching(input: I, callOptions?: InferOptions): Promise<O> {
      return cache.infer(next, prefix, input, callOptions);
    });
  } as ResultCacheMiddleware;
  middleware.stats = () => ({ ...cache.counters });
  middleware.lastGood = async (model, input, callOptions) => {
    let key: string | undefined;
    try {
      key = cache.keyOf(model, input, callOptions);
    } catch {
      return undefined;
    }
    if (key === undefined) return undefined;
    let entry: CacheEntry | undefined;
    try {
      entry = cache.decoded(await store.get(key, callOptions));
    } catch {
      cache.counters.storeErrors++; // a failing shared store has no last good value to give
      return undefined;
    }
    return entry === undefined ? undefined : { value: entry.value };
  };
  middleware.clear = async () => {
    await store.clear?.();
  };
  Object.defineProperty(middleware, 'store', { value: store, enumerable: true });
  return middleware;
}
