import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BallastError, promised } from '@ballast/core';
import type { ApiKeyRecord, KeyStore, KeyStoreCallOptions } from './key-store.js';
import type { GuardPrincipal } from './principal.js';

/*
 * Key format: `<prefix>_<id>_<secret>`.
 * - prefix: a short product tag ("bk") so leaked keys are recognisable by secret scanners;
 * - id: 16 lower-case hex characters, public, used to look the record up in O(1);
 * - secret: 32 random bytes, base64url (256 bits of entropy).
 *
 * Hashing: HMAC-SHA256(serverSecret, id + "." + secret), compared with timingSafeEqual.
 * Not scrypt: scrypt and friends exist to slow down guessing of low-entropy passwords, at
 * ~tens of ms of CPU per check, which would be paid on every request. A 256-bit random secret
 * cannot be guessed, so a fast keyed hash is enough; the server secret (a "pepper") kept outside
 * the key store means a stolen store alone cannot even confirm a leaked key.
 */

const ID_BYTES = 8;
const SECRET_BYTES = 32;
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,15}$/;
const ID_PATTERN = /^[0-9a-f]{16}$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** Options of {@link apiKeys}. */
export interface ApiKeysOptions {
  /** The server secret the key hashes are keyed with (at least 32 characters). Keep it out of the key store. */
  secret: string | Uint8Array;
  /** Where records live. */
  store: KeyStore;
  /** The key prefix (lower-case letters and digits, starting with a letter). Default `bk`. */
  prefix?: string;
  /** The clock, ms since the epoch (for tests). Default `Date.now`. */
  clock?: () => number;
  /**
   * Keeps recently verified keys in memory so a busy client is not re-hashed on every request.
   * Revoking or rotating through this object drops the entry at once and expiry is still checked
   * on every hit; a change made to the store by another process (or directly) takes effect within
   * `ttlMs`, or at once when the store has `subscribe` (the Redis and file stores do). Default `{ ttlMs: 2000, maxEntries: 1024 }`; `false` verifies every call against the store.
   */
  cache?: false | { ttlMs?: number; maxEntries?: number };
}

/** What {@link ApiKeys.create} takes. */
export interface CreateKeyOptions {
  /** The principal the key authenticates as. */
  principalId: string;
  /** Roles granted. Default `[]`. */
  roles?: readonly string[];
  /** Models the key is restricted to (names or `prefix*`). Default: no restriction. */
  models?: readonly string[];
  /** Actions granted directly on top of the roles. */
  actions?: readonly string[];
  /** Extra principal attributes (tenant, plan). */
  attributes?: Record<string, string | number | boolean>;
  /** A human label. */
  label?: string;
  /** Lifetime in ms from now; absent means no expiry. */
  expiresInMs?: number;
  /** Absolute expiry (wins over `expiresInMs`). */
  expiresAt?: Date;
}

/** A newly created key: the only time the full key string is visible. */
export interface CreatedKey {
  /** The full key to hand to the client. It is not stored anywhere. */
  key: string;
  /** The stored record (hash only). */
  record: ApiKeyRecord;
}

/** Options of {@link ApiKeys.rotate}. */
export interface RotateKeyOptions {
  /** How long the old key keeps working, ms. Default 0 (it stops at once). */
  graceMs?: number;
  /** Lifetime of the new key, ms; default: the old key's remaining lifetime rule (none if it had none). */
  expiresInMs?: number;
}

/** Why a key failed to authenticate (in `details.reason` of the `UNAUTHENTICATED` error). */
export type KeyFailure = 'missing' | 'malformed' | 'invalid' | 'revoked' | 'expired';

/** Creates, verifies, rotates and revokes API keys. Build it with {@link apiKeys}. */
export interface ApiKeys {
  /** Creates a key; returns the full key once and stores only its hash. */
  create(options: CreateKeyOptions): Promise<CreatedKey>;
  /**
   * Verifies a key string and returns its principal, or throws `UNAUTHENTICATED` with
   * `details.reason` (`missing`, `malformed`, `invalid`, `revoked`, `expired`). `revoked` and
   * `expired` are only reported to a caller that presented the right secret. `options` carries
   * the caller's budget (signal, deadline) to the store.
   */
  verify(key: string | undefined | null, options?: KeyStoreCallOptions): Promise<GuardPrincipal>;
  /**
   * `verify()` without a promise where none is needed: a key verified recently (the cache)
   * answers its principal at once, and a missing or malformed key throws `UNAUTHENTICATED` at
   * once; any other key is a promise, as from `verify()`. Optional for key sources of your own
   * (the guard calls `verify()` without it); `apiKeys()` has it.
   */
  verifyNow?(key: string | undefined | null, options?: KeyStoreCallOptions): GuardPrincipal | Promise<GuardPrincipal>;
  /** Issues a new key for the same principal and grants; the old one stops after `graceMs`. */
  rotate(id: string, options?: RotateKeyOptions): Promise<CreatedKey>;
  /** Revokes a key at once. Returns false if the id is unknown. */
  revoke(id: string): Promise<boolean>;
  /** Every record (hashes only). */
  list(): Promise<readonly ApiKeyRecord[]>;
  /** The key id inside a key string, or `undefined` when it is not a well-formed key. */
  idOf(key: string): string | undefined;
  /** Stops listening to the store's change notices (when it has `subscribe`). */
  close(): void;
}

const DEFAULT_CACHE_TTL_MS = 2000;
const DEFAULT_CACHE_ENTRIES = 1024;

interface CachedKey {
  /** The verified secret part of the key, as its character codes (see sameSecret). */
  secret: Uint8Array;
  /** The principal as verified (copied out on each hit). */
  principal: GuardPrincipal;
  /** When the entry must be re-verified against the store, ms since the epoch. */
  cachedUntil: number;
  /** When the key expires or was revoked, ms since the epoch (Infinity when neither). */
  stopsAt: number;
}

/*
 * Compares the secret of a presented key (from `start` to the key's end) with a verified one in
 * constant time. The verified one matched SECRET_PATTERN (43 characters), so every secret of its
 * length is compared character by character, the differences OR-ed together with no early exit;
 * one of another length is refused at once (every key's secret has that length: it tells
 * nothing). Written here rather than with `timingSafeEqual`, which needs a Buffer of the
 * presented secret on every authenticated request. The verified secret is kept as its character
 * codes (SECRET_PATTERN's characters are ASCII): read from a string, a sliced one as a key from
 * a header is, each character costs a look at the string's representation. From bytes, a cached
 * key's authenticateNow took 318-351 ns against 398-416 ns from two strings
 * (bench/_key-cache-hit.ts, Node 20). Kept as bytes, the cache also holds no slice of the request
 * that first presented the key.
 */
function sameSecret(key: string, start: number, known: Uint8Array): boolean {
  // The secret is compared where it sits in the key: no copy of it on every request.
  if (key.length - start !== known.length) return false;
  let difference = 0;
  for (let i = 0; i < known.length; i++) difference |= key.charCodeAt(start + i) ^ (known[i] as number);
  return difference === 0;
}

/** The character codes of a verified secret (ASCII, see SECRET_PATTERN). */
function codesOf(secret: string): Uint8Array {
  const codes = new Uint8Array(secret.length);
  for (let i = 0; i < secret.length; i++) codes[i] = secret.charCodeAt(i);
  return codes;
}

/** The `UNAUTHENTICATED` error with its reason in `details.reason`, as verify and the guard throw it. */
export function unauthenticated(reason: KeyFailure, message: string): BallastError {
  return new BallastError('UNAUTHENTICATED', message, { details: { reason } });
}

/**
 * API key management over a {@link KeyStore}.
 *
 * @example
 * const keys = apiKeys({ secret: process.env.KEY_SECRET!, store: memoryKeyStore() });
 * const { key } = await keys.create({ principalId: 'checkout', roles: ['infer'], expiresInMs: 90 * 86_400_000 });
 * const principal = await keys.verify(key); // { id: 'checkout', roles: ['infer'], keyId: '…' }
 */
export function apiKeys(options: ApiKeysOptions): ApiKeys {
  const { store, prefix = 'bk', clock = Date.now } = options;
  const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
  if (secret.length < 32) {
    throw new BallastError('CONFIG', 'apiKeys: "secret" must be at least 32 bytes', { details: { path: 'secret' } });
  }
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new BallastError('CONFIG', 'apiKeys: "prefix" must be 1-16 lower-case letters or digits, starting with a letter', {
      details: { path: 'prefix' },
    });
  }
  if (store === undefined || typeof store.get !== 'function' || typeof store.put !== 'function') {
    throw new BallastError('CONFIG', 'apiKeys: "store" must be a KeyStore', { details: { path: 'store' } });
  }
  const head = `${prefix}_`;
  const cacheTtlMs = options.cache === false ? 0 : Math.max(0, options.cache?.ttlMs ?? DEFAULT_CACHE_TTL_MS);
  const cacheMax = options.cache === false ? 0 : Math.max(0, Math.floor(options.cache?.maxEntries ?? DEFAULT_CACHE_ENTRIES));
  const useCache = cacheTtlMs > 0 && cacheMax > 0;
  // Verified keys by key id (the public part). A hit still compares the presented secret with the
  // cached one in constant time, so the cache never answers for a secret it has not verified.
  // Map iteration order is insertion order: deleting and re-inserting on a hit makes it an LRU.
  const cache = new Map<string, CachedKey>();
  // Bumped by every revoke/rotate: a verify that read the store before the change does not cache
  // what it read (its store read may predate the revocation).
  let generation = 0;
  const forget = (id: string): void => {
    generation++;
    cache.delete(id);
  };
  // A store that can tell about changes made elsewhere drops cache entries at once.
  const unsubscribe =
    useCache && typeof store.subscribe === 'function'
      ? store.subscribe((id) => {
          generation++;
          if (id === undefined) cache.clear();
          else cache.delete(id);
        })
      : undefined;
  const hashOf = (id: string, keySecret: string): Buffer => createHmac('sha256', secret).update(`${id}.${keySecret}`).digest();
  // Stands in for the record of an unknown id, so that an unknown id goes through the same work
  // as a known one with a wrong secret: the hash check and hex decoding, the HMAC and the compare.
  const decoyHash = randomBytes(32).toString('hex');

  const parse = (key: string): { id: string; secret: string } | undefined => {
    if (!key.startsWith(head)) return undefined;
    const id = key.slice(head.length, head.length + 16);
    if (key.charCodeAt(head.length + 16) !== 95 /* _ */) return undefined;
    const keySecret = key.slice(head.length + 17);
    if (!ID_PATTERN.test(id) || !SECRET_PATTERN.test(keySecret)) return undefined;
    return { id, secret: keySecret };
  };

  const create = async (create: CreateKeyOptions): Promise<CreatedKey> => {
    if (typeof create?.principalId !== 'string' || create.principalId.length === 0) {
      throw new BallastError('CONFIG', 'apiKeys.create: "principalId" must be a non-empty string', {
        details: { path: 'principalId' },
      });
    }
    const id = randomBytes(ID_BYTES).toString('hex');
    const keySecret = randomBytes(SECRET_BYTES).toString('base64url');
    const createdAt = clock();
    const expiresAt = create.expiresAt?.getTime() ?? (create.expiresInMs === undefined ? undefined : createdAt + create.expiresInMs);
    const record: ApiKeyRecord = {
      id,
      hash: hashOf(id, keySecret).toString('hex'),
      principalId: create.principalId,
      roles: [...(create.roles ?? [])],
      ...(create.models === undefined ? {} : { models: [...create.models] }),
      ...(create.actions === undefined ? {} : { actions: [...create.actions] }),
      ...(create.attributes === undefined ? {} : { attributes: { ...create.attributes } }),
      ...(create.label === undefined ? {} : { label: create.label }),
      createdAt: new Date(createdAt).toISOString(),
      ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt).toISOString() }),
    };
    await store.put(record);
    return { key: `${head}${id}_${keySecret}`, record };
  };

  // The hit path of verify(): one Map lookup and a 43-byte constant-time compare instead of
  // HMAC-SHA256 (a fresh Hmac object each time: ~10-20 us, the largest per-request cost of the
  // authenticated HTTP path), a store read and hex decoding.
  const fromCache = (id: string, key: string, secretStart: number): GuardPrincipal | undefined => {
    const entry = cache.get(id);
    if (entry === undefined) return undefined;
    const at = clock();
    if (at >= entry.cachedUntil || at >= entry.stopsAt) {
      // Stale, expired or revoked: the full path decides (and reports the reason).
      cache.delete(id);
      return undefined;
    }
    if (!sameSecret(key, secretStart, entry.secret)) return undefined;
    if (cache.size > 1) {
      cache.delete(id);
      cache.set(id, entry);
    }
    // A copy per call, as the uncached path returns a fresh object.
    return copyPrincipal(entry.principal);
  };

  // A fixed-shape copy: `{ ...principal }` takes V8's generic spread path, about 1 µs on every
  // authenticated request. The cached principals are built by verify() below: id, keyId and roles
  // always, the other fields when the record has them.
  const copyPrincipal = (principal: GuardPrincipal): GuardPrincipal => {
    const copy: { -readonly [K in keyof GuardPrincipal]: GuardPrincipal[K] } = {
      id: principal.id,
      keyId: principal.keyId,
      roles: principal.roles,
    };
    if (principal.models !== undefined) copy.models = principal.models;
    if (principal.actions !== undefined) copy.actions = principal.actions;
    if (principal.attributes !== undefined) copy.attributes = principal.attributes;
    return copy;
  };

  const remember = (record: ApiKeyRecord, keySecret: string, principal: GuardPrincipal, at: number): void => {
    const revokedAt = record.revokedAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(record.revokedAt);
    const expiresAt = record.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(record.expiresAt);
    cache.delete(record.id);
    while (cache.size >= cacheMax) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
    cache.set(record.id, {
      secret: codesOf(keySecret),
      principal,
      cachedUntil: at + cacheTtlMs,
      stopsAt: Math.min(revokedAt, expiresAt),
    });
  };

  // Not an async function: a cache hit (every request but a key's first) answers at once,
  // without a promise and the ticks of awaiting it.
  const verifyNow = (key: string | undefined | null, call?: KeyStoreCallOptions): GuardPrincipal | Promise<GuardPrincipal> => {
    if (key === undefined || key === null || key === '') throw unauthenticated('missing', 'an API key is required');
    if (typeof key !== 'string') throw unauthenticated('malformed', 'the API key is malformed');
    // The cache first, on the key's parts as they sit: only verified ids are cached, and a secret
    // equal to a verified one is well-formed, so the format checks are left to the other keys.
    if (useCache && key.startsWith(head) && key.charCodeAt(head.length + 16) === 95 /* _ */) {
      const cached = fromCache(key.slice(head.length, head.length + 16), key, head.length + 17);
      if (cached !== undefined) return cached;
    }
    const parts = parse(key);
    if (parts === undefined) throw unauthenticated('malformed', 'the API key is malformed');
    return verifyStored(parts, call);
  };

  const verify = (key: string | undefined | null, call?: KeyStoreCallOptions): Promise<GuardPrincipal> =>
    promised(() => verifyNow(key, call));

  // The full path: the store, HMAC-SHA256 and a constant-time compare, then the cache.
  const verifyStored = async (parts: { id: string; secret: string }, call?: KeyStoreCallOptions): Promise<GuardPrincipal> => {
    const startedGeneration = generation;
    const record = await store.get(parts.id, call);
    const storedHash = record === undefined || typeof record.hash !== 'string' ? decoyHash : record.hash;
    const wellFormed = HASH_PATTERN.test(storedHash);
    const expected = Buffer.from(wellFormed ? storedHash : decoyHash, 'hex');
    const presented = hashOf(parts.id, parts.secret);
    const match = timingSafeEqual(presented, expected) && wellFormed && record !== undefined;
    if (!match || record === undefined) throw unauthenticated('invalid', 'the API key is not valid');
    const at = clock();
    // Fail closed: a revocation or expiry that is present but not a date (NaN) counts as passed.
    if (record.revokedAt !== undefined && !(Date.parse(record.revokedAt) > at)) {
      throw unauthenticated('revoked', 'the API key has been revoked');
    }
    if (record.expiresAt !== undefined && !(Date.parse(record.expiresAt) > at)) {
      throw unauthenticated('expired', 'the API key has expired');
    }
    const principal: GuardPrincipal = {
      id: record.principalId,
      keyId: record.id,
      roles: record.roles,
      ...(record.models === undefined ? {} : { models: record.models }),
      ...(record.actions === undefined ? {} : { actions: record.actions }),
      ...(record.attributes === undefined ? {} : { attributes: record.attributes }),
    };
    if (useCache && generation === startedGeneration) remember(record, parts.secret, { ...principal }, at);
    return principal;
  };

  const rotate = async (id: string, rotation: RotateKeyOptions = {}): Promise<CreatedKey> => {
    forget(id);
    const old = await store.get(id);
    if (old === undefined) throw new BallastError('NOT_FOUND', `no API key with id "${id}"`, { details: { id } });
    if (old.revokedAt !== undefined) {
      throw new BallastError('INVALID_INPUT', `API key "${id}" is revoked and cannot be rotated`, { details: { id } });
    }
    const at = clock();
    const remaining = old.expiresAt === undefined ? undefined : Date.parse(old.expiresAt) - Date.parse(old.createdAt);
    const next = await create({
      principalId: old.principalId,
      roles: old.roles,
      ...(old.models === undefined ? {} : { models: old.models }),
      ...(old.actions === undefined ? {} : { actions: old.actions }),
      ...(old.attributes === undefined ? {} : { attributes: { ...old.attributes } }),
      ...(old.label === undefined ? {} : { label: old.label }),
      ...((rotation.expiresInMs ?? remaining) === undefined ? {} : { expiresInMs: rotation.expiresInMs ?? remaining }),
    });
    const graceMs = Math.max(0, rotation.graceMs ?? 0);
    const oldExpiry = old.expiresAt === undefined ? Number.POSITIVE_INFINITY : Date.parse(old.expiresAt);
    const stopAt = Math.min(oldExpiry, at + graceMs);
    await store.put({ ...old, expiresAt: new Date(stopAt).toISOString(), replacedBy: next.record.id });
    // Dropped again after the write: a verify that ran while the store was being updated may have
    // cached the old record.
    forget(id);
    return next;
  };

  const revoke = async (id: string): Promise<boolean> => {
    forget(id);
    const old = await store.get(id);
    if (old === undefined) return false;
    if (old.revokedAt === undefined) await store.put({ ...old, revokedAt: new Date(clock()).toISOString() });
    forget(id);
    return true;
  };

  return {
    create,
    verify,
    verifyNow,
    rotate,
    revoke,
    list: async () => store.list(),
    idOf: (key) => (typeof key === 'string' ? parse(key)?.id : undefined),
    close: () => unsubscribe?.(),
  };
}
