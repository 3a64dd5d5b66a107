import { BallastError, type StoreEvent } from '@ballast/core';
import { type ApiKeyRecord, apiKeyRecordSchema, type KeyStore, type KeyStoreCallOptions } from '@ballast/guard';
import { createClient, type RedisClientType } from 'redis';
import { BoundedCommands, CommandTimeout } from './bounded-commands.js';
import { apiKeyKeys } from './key-layout.js';
import { storeChannel } from './redis-limiter-command.js';

/** Options of {@link redisKeyStore}. */
export interface RedisKeyStoreOptions {
  /**
   * A node-redis client (v6). The store connects it when it is not open yet, and uses a
   * duplicate of it for pub/sub. Give either `client` or `url`.
   */
  client?: RedisClientType;
  /** A Redis URL (`redis://127.0.0.1:6379`); the store makes its own client, which reconnects by itself. */
  url?: string;
  /**
   * Prefix of every key and of the change channel. Default `ballast:keys:`. On Redis Cluster give
   * one with a hash tag (`{ballast:keys}:`): each write touches a record and the set of ids in one
   * script, so they must share a slot.
   */
  prefix?: string;
  /**
   * The longest a single Redis command may take, ms; a caller's deadline shortens it further.
   * Default 250.
   */
  commandTimeoutMs?: number;
  /**
   * While Redis is slow or down, `get` answers with the record it last read for that key id,
   * for at most this long after that read, ms. After that it fails closed: `UPSTREAM` (or
   * `TIMEOUT` when the caller's deadline was the limit), and `verify` refuses the key.
   * `0` fails closed at once. Default 30,000.
   */
  staleForMs?: number;
  /** How many key ids the last-read records are kept for (oldest dropped first). Default 10,000. */
  maxStaleEntries?: number;
}

/** A {@link KeyStore} in Redis; {@link RedisKeyStore.close} releases its connections. */
export interface RedisKeyStore extends KeyStore {
  /** Stops pub/sub and closes the connections the store opened (not a client it was given). */
  close(): Promise<void>;
}

/*
 * Layout, for prefix P (key-layout.ts; on Redis Cluster give a prefix with a hash tag, such as
 * `{ballast:keys}:`, so a record and the set of ids, which one script writes together, share a slot):
 *   Precord:<id>  a hash: `record` (the record's JSON as last written), `revokedAt`/`revokedMs`
 *                 (the earliest revocation ever written, kept apart so no write can lift it) and
 *                 `replacedBy` (kept once set)
 *   Pids          a set of every key id, for list()
 *   Pchanged      the pub/sub channel (not a key); each write publishes the key id
 * Writes are one Lua script each: read, merge and write happen atomically in Redis, so two
 * writers that both read a record before writing (a revoke racing a rotation) lose no update,
 * and the change notice is published in the same step. Only the records' HMAC hashes are stored.
 */
const PUT_SCRIPT = `
local revokedAt, revokedMs, replacedBy = ARGV[3], ARGV[4], ARGV[5]
local currentMs = redis.call('HGET', KEYS[1], 'revokedMs')
if currentMs and currentMs ~= '' and (revokedMs == '' or tonumber(currentMs) < tonumber(revokedMs)) then
  revokedAt = redis.call('HGET', KEYS[1], 'revokedAt')
  revokedMs = currentMs
end
if replacedBy == '' then
  replacedBy = redis.call('HGET', KEYS[1], 'replacedBy') or ''
end
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'revokedAt', revokedAt, 'revokedMs', revokedMs, 'replacedBy', replacedBy)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[6], ARGV[1])
return 1
`;

const DELETE_SCRIPT = `
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if existed == 1 then redis.call('PUBLISH', ARGV[2], ARGV[1]) end
return existed
`;

const DEFAULT_PREFIX = 'ballast:keys:';
const DEFAULT_COMMAND_TIMEOUT_MS = 250;
const DEFAULT_STALE_FOR_MS = 30_000;
const DEFAULT_MAX_STALE_ENTRIES = 10_000;

function unavailable(error: unknown): BallastError {
  return new BallastError('UPSTREAM', 'the API key store (Redis) is unavailable', { cause: error, retryable: true });
}

/** The stored hash's fields back to a record, validated: a malformed record fails closed. */
function recordOf(id: string, fields: Record<string, string>): ApiKeyRecord | undefined {
  if (fields.record === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fields.record);
  } catch (error) {
    throw new BallastError('INTEGRITY', `the stored API key record "${id}" is not valid JSON`, { cause: error, details: { id } });
  }
  const { revokedAt: _revokedAt, replacedBy: _replacedBy, ...rest } = parsed as Record<string, unknown>;
  const merged = {
    ...rest,
    ...(fields.revokedAt ? { revokedAt: fields.revokedAt } : {}),
    ...(fields.replacedBy ? { replacedBy: fields.replacedBy } : {}),
  };
  const checked = apiKeyRecordSchema.safeParse(merged);
  if (!checked.success || checked.data.id !== id) {
    throw new BallastError('INTEGRITY', `the stored API key record "${id}" is not a valid record`, {
      details: { id, issues: checked.success ? [] : checked.error.issues },
    });
  }
  return checked.data as ApiKeyRecord;
}

/**
 * A guard {@link KeyStore} kept in Redis, shared by every replica. Creating, rotating and revoking
 * a key is seen by every replica at once: each write publishes the key id, and `apiKeys` on every
 * replica drops its verified-key cache entry for it (through `subscribe`). Writes are atomic Lua
 * scripts that never lift a revocation. Every command carries the caller's remaining budget
 * (capped by `commandTimeoutMs`). While Redis is slow or down, `get` answers with the record last
 * read for at most `staleForMs`, then fails closed. The client reconnects by itself; after a
 * reconnect the subscribers are told that anything may have changed.
 *
 * @example
 * const store = redisKeyStore({ url: process.env.REDIS_URL!, staleForMs: 30_000 });
 * const keys = apiKeys({ secret: process.env.KEY_SECRET!, store });
 * const principal = await keys.verify(key, { deadline: performance.now() + 50 });
 */
export function redisKeyStore(options: RedisKeyStoreOptions): RedisKeyStore {
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new BallastError('CONFIG', 'redisKeyStore: give exactly one of "client" and "url"', { details: { path: 'client' } });
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const commandTimeoutMs = Math.max(1, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
  const staleForMs = Math.max(0, options.staleForMs ?? DEFAULT_STALE_FOR_MS);
  const maxStaleEntries = Math.max(0, Math.floor(options.maxStaleEntries ?? DEFAULT_MAX_STALE_ENTRIES));
  const owned = options.client === undefined;
  const client: RedisClientType =
    options.client ??
    (createClient({
      url: options.url,
      // Reconnects for ever, backing off to 1 s; commands issued meanwhile fail at once rather
      // than wait in a queue, so a call falls back to the last read state without delay.
      socket: { reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
      disableOfflineQueue: true,
    }) as RedisClientType);
  // A client with no 'error' listener would crash the process when Redis goes away.
  const ignore = (): void => {};
  client.on('error', ignore);
  const layout = apiKeyKeys(prefix);
  const idsKey = layout.ids;
  const channel = `${prefix}changed`;
  const recordKey = layout.record;

  let connecting: Promise<unknown> | undefined;
  const connected = (): void => {
    if (!client.isOpen && connecting === undefined) {
      connecting = client.connect().catch(ignore);
      void connecting.finally(() => {
        connecting = undefined;
      });
    }
  };

  /** Resolves when the client is ready or after `ms`, whichever comes first. */
  const readyWithin = (ms: number): Promise<void> => {
    if (client.isReady) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        client.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      client.on('ready', done);
    });
  };

  /*
   * Runs `command` with the caller's remaining budget, capped by `commandTimeoutMs`, including the
   * wait for a connection under way, bounded like every command of this package (BoundedCommands).
   * A command abandoned at its budget is answered, or failed, when the connection is.
   */
  // Each command's outcome is published on `ballast:store`, as the other stores' are.
  const bounded = new BoundedCommands('api-keys', (op, outcome, startedAt, error) => {
    if (storeChannel.hasSubscribers) {
      const durationMs = performance.now() - startedAt;
      storeChannel.publish({ store: 'api-keys', op, outcome, durationMs, ...(error === undefined ? {} : { error }) } satisfies StoreEvent);
    }
  });
  const withBudget = <T>(
    op: string,
    call: KeyStoreCallOptions | undefined,
    command: (redis: RedisClientType) => Promise<T>,
  ): Promise<T> => {
    connected();
    const at = performance.now();
    const capped = at + commandTimeoutMs;
    const deadlineBinds = call?.deadline !== undefined && call.deadline <= capped;
    const end = deadlineBinds ? (call?.deadline as number) : capped;
    const signal = call?.signal;
    if (signal?.aborted) return Promise.reject(new BallastError('CANCELLED', 'the call was cancelled'));
    if (end <= at) return Promise.reject(new BallastError('TIMEOUT', 'no budget left for the API key store'));
    const send = async (): Promise<T> => {
      if (!client.isReady) {
        await readyWithin(Math.max(0, end - performance.now()));
        // The budget ran out while connecting: the call has its answer already, send nothing.
        if (performance.now() >= end) throw new Error('no budget left to send');
      }
      return command(signal === undefined ? client : (client.withAbortSignal(signal) as unknown as RedisClientType));
    };
    return bounded.run(op, end - at, deadlineBinds ? 'caller' : 'command', send, undefined, signal).catch((error: unknown) => {
      if (!(error instanceof CommandTimeout)) throw error;
      throw error.limitedBy === 'caller'
        ? new BallastError('TIMEOUT', 'the deadline passed while waiting for the API key store')
        : unavailable(new Error(`Redis did not answer within commandTimeoutMs (${commandTimeoutMs} ms)`));
    });
  };

  // The record last read per key id (undefined: known to be absent), for the stale fallback.
  const lastRead = new Map<string, { record: ApiKeyRecord | undefined; at: number }>();
  const rememberRead = (id: string, record: ApiKeyRecord | undefined): void => {
    if (maxStaleEntries === 0 || staleForMs === 0) return;
    lastRead.delete(id);
    while (lastRead.size >= maxStaleEntries) {
      const oldest = lastRead.keys().next().value;
      if (oldest === undefined) break;
      lastRead.delete(oldest);
    }
    lastRead.set(id, { record, at: Date.now() });
  };

  const listeners = new Set<(keyId?: string) => void>();
  let subscriber: RedisClientType | undefined;
  const notify = (keyId?: string): void => {
    if (keyId !== undefined) lastRead.delete(keyId);
    for (const listener of listeners) listener(keyId);
  };
  const startSubscriber = (): void => {
    if (subscriber !== undefined) return;
    const duplicate = client.duplicate() as RedisClientType;
    subscriber = duplicate;
    duplicate.on('error', ignore);
    let live = false;
    // While the subscription is down no notice arrives, so no cached entry can be trusted: the
    // listeners drop everything when it goes down (and verification falls back to the store,
    // bounded by staleForMs), and again when it is back, as notices published meanwhile are lost.
    // node-redis subscribes again by itself after a reconnect.
    duplicate.on('error', () => {
      if (live) notify();
      live = false;
    });
    duplicate.on('ready', () => {
      if (!live) notify();
      live = true;
    });
    duplicate
      .connect()
      .then(() => duplicate.subscribe(channel, (keyId) => notify(keyId)))
      .catch(ignore);
  };

  const get = async (id: string, call?: KeyStoreCallOptions): Promise<ApiKeyRecord | undefined> => {
    let fields: Record<string, string>;
    try {
      fields = (await withBudget('get', call, (redis) => redis.hGetAll(recordKey(id)))) as Record<string, string>;
    } catch (error) {
      const last = lastRead.get(id);
      const until = last === undefined ? 0 : last.at + staleForMs;
      if (last !== undefined && Date.now() <= until) {
        // The last read state, valid no longer than the stale bound: a verification cache that
        // keeps it (apiKeys stops an entry at its expiresAt) asks the store again after the bound.
        const record = last.record;
        if (record === undefined) return undefined;
        const expiresAt = record.expiresAt === undefined ? until : Math.min(Date.parse(record.expiresAt), until);
        return { ...record, expiresAt: new Date(expiresAt).toISOString() };
      }
      // TIMEOUT (the caller's deadline), CANCELLED, or UPSTREAM: Redis down or slower than commandTimeoutMs.
      throw error instanceof BallastError ? error : unavailable(error);
    }
    const record = recordOf(id, fields);
    rememberRead(id, record);
    return record;
  };

  const put = async (record: ApiKeyRecord): Promise<void> => {
    const checked = apiKeyRecordSchema.safeParse(record);
    if (!checked.success) {
      throw new BallastError('INVALID_INPUT', 'redisKeyStore.put: not a valid API key record', {
        details: { issues: checked.error.issues },
      });
    }
    const revokedMs = record.revokedAt === undefined ? '' : String(Date.parse(record.revokedAt));
    try {
      await withBudget('put', undefined, (redis) =>
        redis.eval(PUT_SCRIPT, {
          keys: [recordKey(record.id), idsKey],
          arguments: [record.id, JSON.stringify(record), record.revokedAt ?? '', revokedMs, record.replacedBy ?? '', channel],
        }),
      );
    } catch (error) {
      throw error instanceof BallastError ? error : unavailable(error);
    }
  };

  const remove = async (id: string): Promise<boolean> => {
    try {
      const existed = await withBudget('delete', undefined, (redis) =>
        redis.eval(DELETE_SCRIPT, { keys: [recordKey(id), idsKey], arguments: [id, channel] }),
      );
      return existed === 1;
    } catch (error) {
      throw error instanceof BallastError ? error : unavailable(error);
    }
  };

  const list = async (): Promise<readonly ApiKeyRecord[]> => {
    try {
      const ids = await withBudget('list', undefined, (redis) => redis.sMembers(idsKey));
      const records: ApiKeyRecord[] = [];
      for (const id of ids) {
        const fields = await withBudget('list', undefined, (redis) => redis.hGetAll(recordKey(id)));
        const record = recordOf(id, fields as Record<string, string>);
        if (record !== undefined) records.push(record);
      }
      return records;
    } catch (error) {
      if (error instanceof BallastError) throw error;
      throw unavailable(error);
    }
  };

  connected();
  return {
    get,
    put,
    delete: remove,
    list,
    subscribe(onChange) {
      listeners.add(onChange);
      startSubscriber();
      return () => {
        listeners.delete(onChange);
      };
    },
    async close() {
      listeners.clear();
      subscriber?.destroy();
      subscriber = undefined;
      bounded.close();
      if (owned) client.destroy();
      else client.off('error', ignore);
    },
  };
}
