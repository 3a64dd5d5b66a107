import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { apiKeys } from './api-keys.js';
import { fileKeyStore, memoryKeyStore } from './key-store.js';

const secret = 'server-secret-of-at-least-32-bytes!!';

async function reasonOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (isBallastError(error) && error.code === 'UNAUTHENTICATED') return error.details?.reason as string;
    throw error;
  }
  return undefined;
}

describe('apiKeys', () => {
  it('creates a prefixed key, stores only its hash and verifies it', async () => {
    const store = memoryKeyStore();
    const keys = apiKeys({ secret, store, prefix: 'test' });
    const { key, record } = await keys.create({ principalId: 'app', roles: ['infer'], models: ['fraud*'], label: 'ci' });
    expect(key).toMatch(/^test_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(keys.idOf(key)).toBe(record.id);
    const stored = await store.get(record.id);
    expect(JSON.stringify(stored)).not.toContain(key.split('_').slice(2).join('_'));
    expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
    const principal = await keys.verify(key);
    expect(principal).toEqual({ id: 'app', keyId: record.id, roles: ['infer'], models: ['fraud*'] });
  });

  it('rejects missing, malformed and wrong keys with a reason', async () => {
    const keys = apiKeys({ secret, store: memoryKeyStore() });
    const { key } = await keys.create({ principalId: 'app' });
    expect(await reasonOf(keys.verify(undefined))).toBe('missing');
    expect(await reasonOf(keys.verify('nonsense'))).toBe('malformed');
    const wrongSecret = `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
    expect(await reasonOf(keys.verify(wrongSecret))).toBe('invalid');
    const unknownId = `bk_${'0'.repeat(16)}_${key.slice(-43)}`;
    expect(await reasonOf(keys.verify(unknownId))).toBe('invalid');
    // A key hashed under another server secret does not verify.
    const other = apiKeys({ secret: `${secret}-other`, store: memoryKeyStore() });
    expect(await reasonOf(other.verify(key))).toBe('invalid');
  });

  it('expires, revokes and rotates keys with a grace period', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const keys = apiKeys({ secret, store: memoryKeyStore(), clock: () => clock });
    const short = await keys.create({ principalId: 'app', roles: ['infer'], expiresInMs: 1000 });
    await expect(keys.verify(short.key)).resolves.toMatchObject({ id: 'app' });
    clock += 1000;
    expect(await reasonOf(keys.verify(short.key))).toBe('expired');

    const old = await keys.create({ principalId: 'svc', roles: ['read'] });
    const next = await keys.rotate(old.record.id, { graceMs: 500 });
    expect(next.record).toMatchObject({ principalId: 'svc', roles: ['read'] });
    await expect(keys.verify(old.key)).resolves.toMatchObject({ id: 'svc' });
    clock += 500;
    expect(await reasonOf(keys.verify(old.key))).toBe('expired');
    await expect(keys.verify(next.key)).resolves.toMatchObject({ id: 'svc', keyId: next.record.id });

    expect(await keys.revoke(next.record.id)).toBe(true);
    expect(await reasonOf(keys.verify(next.key))).toBe('revoked');
    expect(await keys.revoke('ffffffffffffffff')).toBe(false);
    await expect(keys.rotate('ffffffffffffffff')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('caches verified keys briefly, and revoke or rotate through the same object takes effect at once', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const store = memoryKeyStore();
    let reads = 0;
    const counted = {
      ...store,
      get: (id: string) => {
        reads++;
        return store.get(id);
      },
    };
    const keys = apiKeys({ secret, store: counted, clock: () => clock, cache: { ttlMs: 1000, maxEntries: 2 } });
    const { key, record } = await keys.create({ principalId: 'app', roles: ['infer'] });
    const first = await keys.verify(key);
    const second = await keys.verify(key);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(reads).toBe(1);
    // A wrong secret for a cached id is never answered from the cache.
    const wrong = `${key.slice(0, -4)}${key.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    expect(await reasonOf(keys.verify(wrong))).toBe('invalid');
    // The cache is looked up before the key's format is checked: a malformed secret for a cached id is still malformed.
    expect(await reasonOf(keys.verify(`${key.slice(0, -1)}!`))).toBe('malformed');
    expect(await reasonOf(keys.verify(`${key}A`))).toBe('malformed');
    // Nor a character whose low byte is the right one (the cache keeps the secret as bytes).
    const lookalike = `${key.slice(0, -1)}${String.fromCharCode(0x100 + key.charCodeAt(key.length - 1))}`;
    expect(await reasonOf(keys.verify(lookalike))).toBe('malformed');
    // After the TTL the store is read again.
    clock += 1000;
    await keys.verify(key);
    expect(reads).toBe(3);

    await keys.revoke(record.id);
    expect(await reasonOf(keys.verify(key))).toBe('revoked');

    const old = await keys.create({ principalId: 'svc' });
    await keys.verify(old.key);
    await keys.rotate(old.record.id);
    expect(await reasonOf(keys.verify(old.key))).toBe('expired');
  });

  // A store whose next get() reads the record at once but answers only when the test opens the
  // gate: the verify holding that read is still in flight while a revoke or rotate runs to the end.
  function gatedStore() {
    const store = memoryKeyStore();
    let held: Promise<void> | undefined;
    let open = (): void => undefined;
    return {
      store: {
        ...store,
        get: async (id: string) => {
          const record = await store.get(id);
          const gate = held;
          held = undefined;
          if (gate !== undefined) await gate;
          return record;
        },
      },
      holdNextGet(): void {
        held = new Promise<void>((resolve) => {
          open = resolve;
        });
      },
      open: (): void => open(),
    };
  }

  it('does not cache a record read before a revoke that finished first', async () => {
    const gated = gatedStore();
    const keys = apiKeys({ secret, store: gated.store, clock: () => Date.parse('2026-01-01T00:00:00Z') });
    const { key, record } = await keys.create({ principalId: 'app' });
    gated.holdNextGet();
    const racing = keys.verify(key);
    await keys.revoke(record.id);
    gated.open();
    // The racing verify read the record before the revoke, so it passes, but must not leave a cache
    // entry: the revoke's cache drops all ran before the verify got its answer.
    await expect(racing).resolves.toMatchObject({ id: 'app' });
    expect(await reasonOf(keys.verify(key))).toBe('revoked');
  });

  it('does not cache a record read before a rotate that finished first', async () => {
    const gated = gatedStore();
    const keys = apiKeys({ secret, store: gated.store, clock: () => Date.parse('2026-01-01T00:00:00Z') });
    const old = await keys.create({ principalId: 'svc' });
    gated.holdNextGet();
    const racing = keys.verify(old.key);
    const next = await keys.rotate(old.record.id);
    gated.open();
    await expect(racing).resolves.toMatchObject({ id: 'svc' });
    expect(await reasonOf(keys.verify(old.key))).toBe('expired');
    await expect(keys.verify(next.key)).resolves.toMatchObject({ id: 'svc', keyId: next.record.id });
  });

  it('checks expiry on cached keys, bounds the cache and can be turned off', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const store = memoryKeyStore();
    let reads = 0;
    const counted = {
      ...store,
      get: (id: string) => {
        reads++;
        return store.get(id);
      },
    };
    const keys = apiKeys({ secret, store: counted, clock: () => clock, cache: { ttlMs: 60_000, maxEntries: 2 } });
    const short = await keys.create({ principalId: 'a', expiresInMs: 100 });
    await keys.verify(short.key);
    clock += 100;
    expect(await reasonOf(keys.verify(short.key))).toBe('expired');

    const made = await Promise.all(['x', 'y', 'z'].map((principalId) => keys.create({ principalId })));
    for (const { key } of made) await keys.verify(key);
    reads = 0;
    await keys.verify((made[2] as { key: string }).key);
    await keys.verify((made[1] as { key: string }).key);
    expect(reads).toBe(0);
    // The least recently used entry was evicted.
    await keys.verify((made[0] as { key: string }).key);
    expect(reads).toBe(1);

    const uncached = apiKeys({ secret, store: counted, cache: false });
    reads = 0;
    await uncached.verify((made[0] as { key: string }).key);
    await uncached.verify((made[0] as { key: string }).key);
    expect(reads).toBe(2);
  });

  it('refuses weak configuration', () => {
    expect(() => apiKeys({ secret: 'short', store: memoryKeyStore() })).toThrow(/32 bytes/);
    expect(() => apiKeys({ secret, store: memoryKeyStore(), prefix: 'Bad_Prefix' })).toThrow(/prefix/);
  });

  it('persists records in a JSON file that a new store reads back', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ballast-keys-')), 'keys.json');
    const keys = apiKeys({ secret, store: fileKeyStore({ path }) });
    const { key, record } = await keys.create({ principalId: 'app', roles: ['infer'] });
    const reopened = apiKeys({ secret, store: fileKeyStore({ path }) });
    await expect(reopened.verify(key)).resolves.toMatchObject({ id: 'app' });
    await reopened.revoke(record.id);
    const json = JSON.parse(readFileSync(path, 'utf8'));
    expect(json.keys[0].revokedAt).toBeTypeOf('string');
    expect(await reasonOf(apiKeys({ secret, store: fileKeyStore({ path }) }).verify(key))).toBe('revoked');
  });

  it('reports a corrupt key file as CONFIG', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ballast-keys-')), 'keys.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, '{"keys":[{"id":"x"}]}');
    await expect(fileKeyStore({ path }).list()).rejects.toMatchObject({ code: 'CONFIG' });
  });

  it('verifyNow answers a cached key without a promise, fails missing and malformed keys at once, and waits for the rest', async () => {
    const keys = apiKeys({ secret, store: memoryKeyStore() });
    const { key, record } = await keys.create({ principalId: 'app', roles: ['infer'] });
    const first = keys.verifyNow?.(key);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ id: 'app', keyId: record.id, roles: ['infer'] });
    const cached = keys.verifyNow?.(key);
    expect(cached).not.toBeInstanceOf(Promise);
    expect(cached).toEqual(await keys.verify(key));
    expect(() => keys.verifyNow?.(undefined)).toThrow(expect.objectContaining({ details: { reason: 'missing' } }));
    expect(() => keys.verifyNow?.('nonsense')).toThrow(expect.objectContaining({ details: { reason: 'malformed' } }));
    // Another secret for the cached id goes the whole way, and fails there.
    const wrong = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    const other = keys.verifyNow?.(wrong);
    expect(other).toBeInstanceOf(Promise);
    expect(await reasonOf(other as Promise<unknown>)).toBe('invalid');
  });
});
