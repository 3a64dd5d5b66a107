import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BallastError } from '@ballast/core';
import { z } from 'zod';

/**
 * What a key store keeps for one API key. The key itself is never stored: only its keyed hash.
 * Every field is JSON-serializable so a store can be a file, a database row or a secret manager entry.
 */
export interface ApiKeyRecord {
  /** The key id (the public part of the key, also found inside the key string). */
  readonly id: string;
  /** Hex HMAC-SHA256 of the key's secret part under the server secret. */
  readonly hash: string;
  /** The principal the key authenticates as. Several keys may share one principal (rotation). */
  readonly principalId: string;
  /** Roles granted to the key's principal. */
  readonly roles: readonly string[];
  /** Model names (or `prefix*` patterns) the key may call; absent means any model its roles allow. */
  readonly models?: readonly string[];
  /** Actions granted directly to the key, on top of its roles (`infer`, `read`, `admin`, ...). */
  readonly actions?: readonly string[];
  /** Extra facts about the principal (tenant, plan); they travel on `Principal.attributes`. */
  readonly attributes?: Readonly<Record<string, string | number | boolean>>;
  /** A human label ("ci", "mobile app"). */
  readonly label?: string;
  /** Creation time, ISO 8601. */
  readonly createdAt: string;
  /** Expiry time, ISO 8601; absent means the key does not expire. */
  readonly expiresAt?: string;
  /** Revocation time, ISO 8601; a revoked key never authenticates again. */
  readonly revokedAt?: string;
  /** The id of the key that replaced this one in a rotation. */
  readonly replacedBy?: string;
}

/** What a caller hands a store call: its remaining budget, so a slow store never holds it past its deadline. */
export interface KeyStoreCallOptions {
  /** The caller's cancellation. */
  signal?: AbortSignal;
  /** The caller's deadline, `performance.now()` time. */
  deadline?: number;
}

/**
 * Where API key records live. Implement it over your database or secret store; Ballast ships
 * {@link memoryKeyStore} and {@link fileKeyStore} (and `@ballast/redis` a Redis store). Methods may
 * be sync or async.
 *
 * A store must never lift a revocation: `put` of a record without `revokedAt` over one that has it
 * keeps the revocation (see {@link mergeKeyRecords}), so a writer holding an old copy cannot
 * bring a revoked key back.
 */
export interface KeyStore {
  /** The record for a key id, or `undefined`. `options` carries the caller's budget. */
  get(id: string, options?: KeyStoreCallOptions): Promise<ApiKeyRecord | undefined> | ApiKeyRecord | undefined;
  /** Inserts a record, or merges it over the stored one with {@link mergeKeyRecords}. */
  put(record: ApiKeyRecord): Promise<void> | void;
  /** Removes a record; returns whether it existed. */
  delete(id: string): Promise<boolean> | boolean;
  /** Every record. */
  list(): Promise<readonly ApiKeyRecord[]> | readonly ApiKeyRecord[];
  /**
   * Tells `onChange` about records changed elsewhere (another process, another replica), so a
   * verification cache drops them at once: with a key id, or with no argument when anything may
   * have changed (a lost connection). Returns the function that stops it. Optional.
   */
  subscribe?(onChange: (keyId?: string) => void): () => void;
}

/**
 * The record a store keeps when `next` is written over `current`: `next`, except that a
 * revocation is never lifted (the earlier `revokedAt` wins) and `replacedBy` is never dropped.
 * Stores apply it on every `put`, so two writers that each read the record before the other wrote
 * (a revoke racing a rotation) both keep their effect on the key's validity.
 *
 * @example
 * mergeKeyRecords({ ...record, revokedAt: '2026-01-01T00:00:00.000Z' }, record).revokedAt; // '2026-01-01T00:00:00.000Z'
 */
export function mergeKeyRecords(current: ApiKeyRecord | undefined, next: ApiKeyRecord): ApiKeyRecord {
  if (current === undefined) return next;
  let merged = next;
  if (current.revokedAt !== undefined && (next.revokedAt === undefined || Date.parse(current.revokedAt) < Date.parse(next.revokedAt))) {
    merged = { ...merged, revokedAt: current.revokedAt };
  }
  if (current.replacedBy !== undefined && next.replacedBy === undefined) merged = { ...merged, replacedBy: current.replacedBy };
  return merged;
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);

// An ISO 8601 date-time with a zone that names a real instant: a malformed `revokedAt` or
// `expiresAt` ("yes", "never", "", "2024-13-45T00:00:00Z") is rejected, never read as "not set".
const timestamp = z.iso.datetime({ offset: true }).refine((value) => Number.isFinite(Date.parse(value)), {
  message: 'not a real date-time',
});

/** The zod schema of an {@link ApiKeyRecord}, used where records cross a trust boundary (files). */
export const apiKeyRecordSchema = z.object({
  id: z.string().regex(/^[a-z0-9]{4,64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  principalId: z.string().min(1),
  roles: z.array(z.string()),
  models: z.array(z.string()).optional(),
  actions: z.array(z.string()).optional(),
  attributes: z.record(z.string(), scalar).optional(),
  label: z.string().optional(),
  createdAt: timestamp,
  expiresAt: timestamp.optional(),
  revokedAt: timestamp.optional(),
  replacedBy: z.string().optional(),
});

/**
 * A key store in memory: for tests, for keys provisioned at start-up, and as a cache.
 *
 * @example
 * const store = memoryKeyStore();
 * const keys = apiKeys({ secret: process.env.KEY_SECRET!, store });
 */
export function memoryKeyStore(initial: readonly ApiKeyRecord[] = []): KeyStore {
  const records = new Map<string, ApiKeyRecord>(initial.map((r) => [r.id, r]));
  return {
    get: (id) => records.get(id),
    put: (record) => {
      records.set(record.id, mergeKeyRecords(records.get(record.id), record));
    },
    delete: (id) => records.delete(id),
    list: () => [...records.values()],
  };
}

/** Options of {@link fileKeyStore}. */
export interface FileKeyStoreOptions {
  /** Path of the JSON file (`{ "keys": [ApiKeyRecord, ...] }`). Created on the first write. */
  path: string;
  /**
   * How long records read from the file are used before it is read again, ms. A change written
   * by another process (an admin command revoking a key) reaches this process within `ttlMs`.
   * Default 1000; 0 reads the file on every call.
   */
  ttlMs?: number;
  /**
   * How long a write waits for another process's lock on the file, ms, before it fails with
   * `TIMEOUT`. A lock older than ten times this is taken as left by a crashed process and broken.
   * Default 2000.
   */
  lockTimeoutMs?: number;
}

const DEFAULT_FILE_TTL_MS = 1000;
const DEFAULT_LOCK_TIMEOUT_MS = 2000;

const fileSchema = z.object({ keys: z.array(apiKeyRecordSchema) });

function fileError(message: string, error: unknown): BallastError {
  return new BallastError('CONFIG', message, {
    cause: error,
    details: { errno: (error as NodeJS.ErrnoException | undefined)?.code },
  });
}

/*
 * Several processes may use one file (a server and an admin command). Every write takes a lock
 * file (`<path>.lock`, created with O_EXCL), reads the file as it is now, applies its change with
 * mergeKeyRecords (a revocation is never lifted), writes a temporary file and renames it over the
 * old one, then releases the lock. The process's own view is replaced only after the rename
 * succeeded, so it never holds a record the file does not. Reads use the view for `ttlMs`, then
 * read the file again. A lock file is used rather than a library (proper-lockfile) because the
 * store needs only this one exclusive section and no new dependency.
 */

/**
 * A key store backed by one JSON file, shared safely by several processes. Records are read
 * lazily and re-read after `ttlMs`; every change locks the file, merges with what it holds now and
 * rewrites it atomically (temporary file, then rename), so a crash never leaves half a file and a
 * process with an old copy never reverts another's revocation. The file holds only hashes, but
 * treat it as a secret anyway (mode 0600). Filesystem failures are `CONFIG` errors
 * (`details.errno`), a lock held too long `TIMEOUT`.
 *
 * @example
 * const store = fileKeyStore({ path: './keys.json', ttlMs: 1000 });
 * const keys = apiKeys({ secret: process.env.KEY_SECRET!, store });
 */
export function fileKeyStore(options: FileKeyStoreOptions): KeyStore {
  const { path } = options;
  if (typeof path !== 'string' || path.length === 0) {
    throw new BallastError('CONFIG', 'fileKeyStore: "path" must be a non-empty string', { details: { path: 'path' } });
  }
  const ttlMs = Math.max(0, options.ttlMs ?? DEFAULT_FILE_TTL_MS);
  const lockTimeoutMs = Math.max(1, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const lockPath = `${path}.lock`;
  let view: { records: Map<string, ApiKeyRecord>; readAt: number } | undefined;
  let reading: Promise<Map<string, ApiKeyRecord>> | undefined;
  let writing: Promise<unknown> = Promise.resolve();
  const listeners = new Set<(keyId?: string) => void>();
  let watcher: ReturnType<typeof setInterval> | undefined;
  let stamp: string | undefined;

  /** Tells the listeners which records differ between two reads of the file. */
  const notifyChanges = (before: Map<string, ApiKeyRecord> | undefined, after: Map<string, ApiKeyRecord>) => {
    if (listeners.size === 0 || before === undefined) return;
    const ids = new Set([...before.keys(), ...after.keys()]);
    for (const id of ids) {
      if (JSON.stringify(before.get(id)) === JSON.stringify(after.get(id))) continue;
      for (const listener of listeners) listener(id);
    }
  };

  const readRecords = async (): Promise<Map<string, ApiKeyRecord>> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw fileError(`fileKeyStore: cannot read ${path}`, error);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new BallastError('CONFIG', `fileKeyStore: ${path} is not valid JSON`, { cause: error });
    }
    const parsed = fileSchema.safeParse(json);
    if (!parsed.success) {
      throw new BallastError('CONFIG', `fileKeyStore: ${path} does not hold valid key records`, {
        details: { issues: parsed.error.issues },
      });
    }
    return new Map(parsed.data.keys.map((r) => [r.id, r as ApiKeyRecord]));
  };

  const load = (): Promise<Map<string, ApiKeyRecord>> => {
    if (view !== undefined && Date.now() - view.readAt < ttlMs) return Promise.resolve(view.records);
    if (reading === undefined) {
      const readAt = Date.now();
      reading = readRecords().then(
        (records) => {
          reading = undefined;
          // A write that finished meanwhile left a newer view.
          if (view === undefined || view.readAt <= readAt) {
            notifyChanges(view?.records, records);
            view = { records, readAt };
          }
          return records;
        },
        (error: unknown) => {
          // A failed read is retried on the next call rather than cached.
          reading = undefined;
          throw error;
        },
      );
    }
    return reading;
  };

  const lock = async (): Promise<FileHandle> => {
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (error) {
      throw fileError(`fileKeyStore: cannot create the directory of ${path}`, error);
    }
    const until = Date.now() + lockTimeoutMs;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        return await open(lockPath, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(`fileKeyStore: cannot lock ${path}`, error);
      }
      const held = await stat(lockPath).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > lockTimeoutMs * 10) {
        await unlink(lockPath).catch(() => undefined);
        continue;
      }
      if (Date.now() >= until) {
        throw new BallastError('TIMEOUT', `fileKeyStore: ${lockPath} was held for more than ${lockTimeoutMs} ms`, {
          details: { path: lockPath },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };

  /** Applies `change` to the file's current records under the lock; returns its result. */
  const write = <T>(change: (records: Map<string, ApiKeyRecord>) => { result: T; changed: boolean }): Promise<T> => {
    const next = writing.then(async () => {
      const handle = await lock();
      try {
        const records = await readRecords();
        const { result, changed } = change(records);
        if (changed) {
          const body = `${JSON.stringify({ keys: [...records.values()] }, null, 2)}\n`;
          const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
          try {
            await writeFile(temporary, body, { mode: 0o600 });
            await rename(temporary, path);
          } catch (error) {
            await unlink(temporary).catch(() => undefined);
            throw fileError(`fileKeyStore: cannot write ${path}`, error);
          }
        }
        notifyChanges(view?.records, records);
        view = { records, readAt: Date.now() };
        return result;
      } finally {
        await handle.close().catch(() => undefined);
        await unlink(lockPath).catch(() => undefined);
      }
    });
    writing = next.catch(() => undefined);
    return next;
  };

  return {
    get: async (id) => (await load()).get(id),
    put: (record) =>
      write((records) => {
        records.set(record.id, mergeKeyRecords(records.get(record.id), record));
        return { result: undefined, changed: true };
      }),
    delete: (id) =>
      write((records) => {
        const existed = records.delete(id);
        return { result: existed, changed: existed };
      }),
    list: async () => [...(await load()).values()],
    /*
     * Change notices for verification caches: while anyone listens, the file's modification time
     * and size are checked every `ttlMs` (one stat, no read when nothing changed), and a changed
     * file is read and compared record by record. So a revocation written by another process
     * reaches a verifier within `ttlMs`, however long its verification cache keeps entries.
     */
    subscribe(onChange) {
      listeners.add(onChange);
      if (watcher === undefined) {
        watcher = setInterval(
          () => {
            stat(path).then(
              (info) => {
                const next = `${info.mtimeMs}:${info.size}`;
                if (stamp !== undefined && next !== stamp) {
                  view = view === undefined ? undefined : { ...view, readAt: -Infinity };
                  load().catch(() => undefined);
                }
                stamp = next;
              },
              () => undefined,
            );
          },
          Math.max(20, ttlMs),
        );
        watcher.unref?.();
      }
      return () => {
        listeners.delete(onChange);
        if (listeners.size === 0 && watcher !== undefined) {
          clearInterval(watcher);
          watcher = undefined;
          stamp = undefined;
        }
      };
    },
  };
}
