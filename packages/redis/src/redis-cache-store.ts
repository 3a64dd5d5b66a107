import { createHash, randomBytes } from 'node:crypto';
import type { CacheEntry, CacheStore } from '@ballast/client';
import { BallastError, type InferOptions, remainingMs } from '@ballast/core';
import { RESP_TYPES } from 'redis';
import { cacheEntryKey, cacheKeys } from './key-layout.js';
import { checkConnection, type RedisClient, RedisCommands, type RedisConnectionOptions, type RedisStoreStats } from './redis-connection.js';

/** Options of {@link redisCacheStore}. */
export interface RedisCacheStoreOptions extends RedisConnectionOptions {
  /**
   * Prepended to every Redis key. Entries live at `<prefix>{<model>@<version>:<input>}:r` and
   * leases at `<prefix>{...}:l` (inputs longer than 200 characters are hashed with SHA-256; the
   * braces are a Redis Cluster hash tag, so an entry and its lease share a slot), so a model's new
   * version never reads the old one's results. Default `ballast:cache:`.
   */
  prefix?: string;
  /**
   * How often a replica waiting for another's result reads Redis again, ms, in case a wake-up
   * message was lost (a reconnect of the subscriber). Default 100.
   */
  pollMs?: number;
}

/** The store returned by {@link redisCacheStore}. */
export interface RedisCacheStore extends CacheStore<Uint8Array> {
  /** Entries are bytes written by the cache codec. */
  readonly encoding: 'bytes';
  /** Command outcomes since creation. */
  stats(): RedisStoreStats;
  /** Whether commands are sent now (connected, and not waiting for a hung server). */
  readonly usable: boolean;
  /** Stops the wake-up subscriber, and closes the client when the store created it from `url`. */
  close(): Promise<void>;
}

// Blob replies as Buffers, and no node-redis timer per command (RedisCommands bounds each one).
const BYTES_UNTIMED = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer }, timeout: 0 } as const;

// Entry layout: storedAt and expiresAt (float64 LE), then the codec's bytes.
const HEADER = 16;

// Deletes the lease only if this replica still holds it, then wakes the waiters.
// KEYS[1] the lease; ARGV: the holder's token, the channel (not a key: Redis Cluster routes only
// keys by slot), the message.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return redis.call('PUBLISH', ARGV[2], ARGV[3])`;

function pack(entry: CacheEntry<Uint8Array>): Buffer {
  const out = Buffer.allocUnsafe(HEADER + entry.value.byteLength);
  out.writeDoubleLE(entry.storedAt, 0);
  out.writeDoubleLE(entry.expiresAt, 8);
  out.set(entry.value, HEADER);
  return out;
}

function unpack(data: Buffer | null): CacheEntry<Uint8Array> | undefined {
  if (data === null || data.byteLength < HEADER) return undefined;
  return { storedAt: data.readDoubleLE(0), expiresAt: data.readDoubleLE(8), value: data.subarray(HEADER) };
}

/**
 * A result-cache store in Redis, shared by every replica: entries written by the cache codec
 * (typed arrays, BigInt and tensors come back byte-exact), kept by Redis for as long as the cache
 * may serve them (`PX`), under a prefix per model and version.
 *
 * On a miss, one replica computes while the others wait for its result (single-flight across
 * replicas): a short lease (`SET NX PX`, `leaseMs` of the cache), waiters woken by pub/sub (and a
 * poll every `pollMs`), each waiting at most the lease and half of its own budget before computing
 * itself.
 *
 * When Redis is slow or down the cache is skipped: every command is bounded by
 * `commandTimeoutMs` and the caller's remaining budget, a timed-out server is skipped until it
 * answers a PING, failures are counted (`stats()`, the cache's `storeErrors`) and published on
 * `ballast:store`, and a client created from `url` reconnects by itself.
 *
 * @example
 * const store = redisCacheStore({ url: 'redis://127.0.0.1:6379' });
 * const client = createClient({ model, timeoutMs: 500, cache: { store, ttlMs: 60_000 } });
 */
export function redisCacheStore(options: RedisCacheStoreOptions): RedisCacheStore {
  const commandTimeoutMs = checkConnection('redisCacheStore', options);
  const prefix = options.prefix ?? 'ballast:cache:';
  if (typeof prefix !== 'string')
    throw new BallastError('CONFIG', 'redisCacheStore: prefix must be a string', { details: { path: 'prefix' } });
  const pollMs = options.pollMs ?? 100;
  if (typeof pollMs !== 'number' || !(pollMs > 0)) {
    throw new BallastError('CONFIG', 'redisCacheStore: pollMs must be a positive number', { details: { path: 'pollMs' } });
  }
  const redis = new RedisCommands('redis-cache', options, commandTimeoutMs);
  const binary = redis.commands.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const channel = `${prefix}done`;
  const token = randomBytes(12).toString('base64url');
  const held = new Map<string, string>();
  let leaseCount = 0;

  // One subscriber connection per store; waiters register here and are woken by key.
  const waiters = new Map<string, Set<() => void>>();
  let subscriber: RedisClient | undefined;
  const subscribing = (async () => {
    const connection = redis.client.duplicate();
    connection.on('error', () => {});
    subscriber = connection;
    await connection.connect();
    await connection.subscribe(channel, (message: string) => {
      const wakers = waiters.get(message); // the hashed key
      if (wakers) for (const wake of wakers) wake();
    });
  })();
  subscribing.catch(() => {}); // waiters fall back to polling

  const hashed = (key: string): string => {
    if (key.length <= 200) return key;
    const model = key.slice(0, key.indexOf(':') + 1);
    return `${model}#${createHash('sha256').update(key).digest('base64url')}`;
  };
  // Entry and lease share a hash tag: one Redis Cluster slot (key-layout.ts).
  const entryKey = (key: string) => cacheEntryKey(prefix, hashed(key));
  const leaseKey = (key: string) => cacheKeys(prefix, hashed(key)).lease;

  // The hit path sends GET with sendCommand: node-redis' command methods (`get()`) add an async
  // function, an argument parser and a reply transform per call, about 1 µs of CPU on a hit,
  // for a command whose arguments and reply need none of them.
  const read = (key: string, options: InferOptions | undefined) =>
    redis.run(
      'get',
      options,
      () => redis.client.sendCommand(['GET', entryKey(key)], BYTES_UNTIMED),
      (data) => unpack(data as unknown as Buffer | null),
    );

  const sleepOrWake = (hashedKey: string, ms: number) =>
    new Promise<void>((resolve) => {
      let set = waiters.get(hashedKey);
      if (set === undefined) {
        set = new Set();
        waiters.set(hashedKey, set);
      }
      const wakers = set;
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        if (wakers.size === 0 && waiters.get(hashedKey) === wakers) waiters.delete(hashedKey);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });

  const store: RedisCacheStore = {
    encoding: 'bytes',
    get: (key, callOptions) => read(key, callOptions),
    set: async (key, entry, retainMs, callOptions) => {
      await redis.run('set', callOptions, () =>
        redis.commands.set(entryKey(key), pack(entry), { expiration: { type: 'PX', value: Math.max(1, Math.ceil(retainMs)) } }),
      );
    },
    delete: async (key, callOptions) => {
      await redis.run('delete', callOptions, () => redis.commands.del(entryKey(key)));
    },
    clear: async () => {
      // SCAN + UNLINK under the prefix: entries of other prefixes (other apps) stay.
      const keys: string[] = [];
      for await (const batch of redis.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
      for (let i = 0; i < keys.length; i += 500) await redis.client.unlink(keys.slice(i, i + 500));
    },
    acquire: async (key, leaseMs, callOptions) => {
      const mine = `${token}:${++leaseCount}`;
      const reply = await redis.run('acquire', callOptions, () =>
        redis.commands.set(leaseKey(key), mine, { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(leaseMs)) } }),
      );
      if (reply !== 'OK') return false;
      held.set(key, mine);
      return true;
    },
    wait: async (key, waitMs, callOptions) => {
      const until = performance.now() + Math.min(waitMs, remainingMs(callOptions));
      for (;;) {
        const left = until - performance.now();
        if (left <= 0) return undefined;
        await sleepOrWake(hashed(key), Math.min(pollMs, left));
        // One round trip: the entry, and whether the holder still holds the lease.
        const [data, lease] = (await redis.run('wait', callOptions, () =>
          binary.mGet([entryKey(key), leaseKey(key)]),
        )) as (Buffer | null)[];
        const entry = unpack(data ?? null);
        if (entry !== undefined && entry.expiresAt > Date.now()) return entry;
        if (lease === null || lease === undefined) return undefined; // the holder gave up: compute
      }
    },
    release: async (key, callOptions) => {
      const mine = held.get(key);
      if (mine === undefined) return;
      held.delete(key);
      await redis.run('release', callOptions, () =>
        redis.commands.eval(RELEASE, { keys: [leaseKey(key)], arguments: [mine, channel, hashed(key)] }),
      );
    },
    stats: () => redis.stats(),
    get usable() {
      return redis.usable;
    },
    close: async () => {
      try {
        subscriber?.destroy();
      } catch {
        // never connected
      }
      await redis.close();
    },
  };
  return store;
}
