import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBallastError } from '@ballast/core';
import { apiKeys, fileKeyStore, memoryKeyStore } from '@ballast/guard';
import { describe, expect, it } from 'vitest';
import { runTsx } from './run-tsx.js';

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

function keyFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'ballast-keys-')), 'keys.json');
}

describe('fileKeyStore shared by several processes', () => {
  it('sees a revocation made by another process within ttlMs, and its own writes never lift it', async () => {
    const path = keyFile();
    const server = apiKeys({ secret, store: fileKeyStore({ path, ttlMs: 100 }), cache: { ttlMs: 100 } });
    const { key, record } = await server.create({ principalId: 'app', roles: ['infer'] });
    await expect(server.verify(key)).resolves.toMatchObject({ id: 'app' });

    expect(JSON.parse(await runTsx('./key-admin.ts', ['revoke', path, record.id]))).toEqual({ revoked: true });

    // Within the store's and the cache's ttl, the running server refuses the key.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await reasonOf(server.verify(key))).toBe('revoked');
    // The server writes again (a new key): the revocation stays in the file.
    await server.create({ principalId: 'other' });
    const onDisk = JSON.parse(readFileSync(path, 'utf8')).keys.find((r: { id: string }) => r.id === record.id);
    expect(onDisk.revokedAt).toEqual(expect.any(String));
    // After a restart (a fresh store on the same file), the key is still revoked.
    const restarted = apiKeys({ secret, store: fileKeyStore({ path }) });
    expect(await reasonOf(restarted.verify(key))).toBe('revoked');
  });

  it('tells a verifier with a long cache about a revocation made by another process within ttlMs', async () => {
    const path = keyFile();
    const store = fileKeyStore({ path, ttlMs: 100 });
    const server = apiKeys({ secret, store, cache: { ttlMs: 60_000 } });
    try {
      const { key, record } = await server.create({ principalId: 'app', roles: ['infer'] });
      await expect(server.verify(key)).resolves.toMatchObject({ id: 'app' });
      // Let the watcher take the file's stamp before the other process changes it.
      await new Promise((resolve) => setTimeout(resolve, 250));
      await runTsx('./key-admin.ts', ['revoke', path, record.id]);
      const revokedAt = performance.now();
      await expect.poll(() => reasonOf(server.verify(key)), { timeout: 2000, interval: 10 }).toBe('revoked');
      // The store's ttlMs (100 ms) plus one stat and one read, not the cache's 60 s.
      expect(performance.now() - revokedAt).toBeLessThan(1000);
    } finally {
      server.close();
    }
  });

  it('keeps the revocation when a writer holding an old copy of the record puts it back', async () => {
    const path = keyFile();
    const store = fileKeyStore({ path, ttlMs: 60_000 });
    const keys = apiKeys({ secret, store });
    const { key, record } = await keys.create({ principalId: 'app' });
    await runTsx('./key-admin.ts', ['revoke', path, record.id]);
    // This process still holds the unrevoked record (ttl not passed) and writes it back.
    const stale = await store.get(record.id);
    expect(stale?.revokedAt).toBeUndefined();
    await store.put({ ...(stale ?? record), label: 'renamed' });
    const fresh = apiKeys({ secret, store: fileKeyStore({ path }) });
    expect(await reasonOf(fresh.verify(key))).toBe('revoked');
    expect((await fileKeyStore({ path }).get(record.id))?.label).toBe('renamed');
  });

  it('loses no key when two processes create keys in the same file at once', async () => {
    const path = keyFile();
    await Promise.all([runTsx('./key-admin.ts', ['create', path, '100']), runTsx('./key-admin.ts', ['create', path, '100'])]);
    expect(await fileKeyStore({ path }).list()).toHaveLength(200);
  });

  it('fails a write with a typed error and keeps nothing in memory that the file does not hold', async () => {
    const path = keyFile();
    const store = fileKeyStore({ path, ttlMs: 60_000 });
    const keys = apiKeys({ secret, store, cache: false });
    const { record } = await keys.create({ principalId: 'app' });
    // The key file becomes unwritable (a directory takes its place).
    const { rmSync } = await import('node:fs');
    rmSync(path);
    mkdirSync(path);
    await expect(keys.create({ principalId: 'new' })).rejects.toMatchObject({ name: 'BallastError', code: 'CONFIG' });
    await expect(keys.revoke(record.id)).rejects.toMatchObject({ name: 'BallastError', code: 'CONFIG' });
    const held = await store.list();
    expect(held.map((r) => r.principalId)).toEqual(['app']);
    expect(held[0]?.revokedAt).toBeUndefined();
  });
});

describe('malformed timestamps', () => {
  const bad = ['yes', '2024-13-45T00:00:00Z', 'never', ''];

  it.each(bad)('a key file with revokedAt or expiresAt %j is rejected', async (value) => {
    const keys = apiKeys({ secret, store: memoryKeyStore() });
    const { key, record } = await keys.create({ principalId: 'app' });
    for (const field of ['revokedAt', 'expiresAt']) {
      const path = keyFile();
      writeFileSync(path, JSON.stringify({ keys: [{ ...record, [field]: value }] }));
      const fromFile = apiKeys({ secret, store: fileKeyStore({ path }) });
      await expect(fromFile.verify(key)).rejects.toMatchObject({ code: 'CONFIG' });
    }
  });

  it.each(bad)('a record from any store with revokedAt or expiresAt %j does not verify', async (value) => {
    const store = memoryKeyStore();
    const keys = apiKeys({ secret, store, cache: false });
    const { key, record } = await keys.create({ principalId: 'app' });
    for (const field of ['revokedAt', 'expiresAt'] as const) {
      await store.delete(record.id);
      await store.put({ ...record, [field]: value });
      expect(await reasonOf(keys.verify(key))).toBe(field === 'revokedAt' ? 'revoked' : 'expired');
    }
  });
});
