import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

/**
 * Where API key records live. Implement it over your database or secret store; Ballast ships
 * {@link memoryKeyStore} and {@link fileKeyStore}. Methods may be sync or async.
 */
export interface KeyStore {
  /** The record for a key id, or `undefined`. */
  get(id: string): Promise<ApiKeyRecord | undefined> | ApiKeyRecord | undefined;
  /** Inserts or replaces a record. */
  put(record: ApiKeyRecord): Promise<void> | void;
  /** Removes a record; returns whether it existed. */
  delete(id: string): Promise<boolean> | boolean;
  /** Every record. */
  list(): Promise<readonly ApiKeyRecord[]> | readonly ApiKeyRecord[];
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);

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
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
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
      records.set(record.id, record);
    },
    delete: (id) => records.delete(id),
    list: () => [...records.values()],
  };
}

/** Options of {@link fileKeyStore}. */
export interface FileKeyStoreOptions {
  /** Path of the JSON file (`{ "keys": [ApiKeyRecord, ...] }`). Created on the first write. */
  path: string;
}

/**
 * A key store backed by one JSON file. Reads the file once (lazily) and keeps records in memory;
 * every change rewrites the file atomically (write to a temporary file, then rename), so a crash
 * never leaves half a file. Writes are serialised. The file holds only hashes, but treat it as a
 * secret anyway (mode 0600). Not meant for several processes writing the same file.
 *
 * @example
 * const store = fileKeyStore({ path: './keys.json' });
 * const keys = apiKeys({ secret: process.env.KEY_SECRET!, store });
 */
export function fileKeyStore(options: FileKeyStoreOptions): KeyStore {
  const { path } = options;
  if (typeof path !== 'string' || path.length === 0) {
    throw new BallastError('CONFIG', 'fileKeyStore: "path" must be a non-empty string', { details: { path: 'path' } });
  }
  let loaded: Promise<Map<string, ApiKeyRecord>> | undefined;
  let writing: Promise<void> = Promise.resolve();

  const load = (): Promise<Map<string, ApiKeyRecord>> => {
    loaded ??= (async () => {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
        throw new BallastError('CONFIG', `fileKeyStore: cannot read ${path}`, { cause: error });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new BallastError('CONFIG', `fileKeyStore: ${path} is not valid JSON`, { cause: error });
      }
      const parsed = z.object({ keys: z.array(apiKeyRecordSchema) }).safeParse(json);
      if (!parsed.success) {
        throw new BallastError('CONFIG', `fileKeyStore: ${path} does not hold valid key records`, {
          details: { issues: parsed.error.issues },
        });
      }
      return new Map(parsed.data.keys.map((r) => [r.id, r as ApiKeyRecord]));
    })();
    // A failed load is retried on the next call rather than cached forever.
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  };

  const save = (records: Map<string, ApiKeyRecord>): Promise<void> => {
    const body = `${JSON.stringify({ keys: [...records.values()] }, null, 2)}\n`;
    const next = writing.then(async () => {
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(temporary, body, { mode: 0o600 });
      await rename(temporary, path);
    });
    writing = next.catch(() => undefined);
    return next;
  };

  return {
    get: async (id) => (await load()).get(id),
    put: async (record) => {
      const records = await load();
      records.set(record.id, record);
      await save(records);
    },
    delete: async (id) => {
      const records = await load();
      const existed = records.delete(id);
      if (existed) await save(records);
      return existed;
    },
    list: async () => [...(await load()).values()],
  };
}
