import { channels, type StoreEvent } from '@ballast/core';
import { apiKeys } from '@ballast/guard';
import { redisKeyStore } from '@ballast/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, redisAvailable, startRedis } from './redis-server.js';
import { type Replica, startReplica } from './replica-process.js';

const secret = 'a-server-secret-of-at-least-32-bytes';

interface Created {
  key: string;
  keyId: string;
  at?: number;
}
interface Until {
  at: number;
  outcome: { ok: boolean; code?: string; reason?: string };
}

describe.skipIf(!redisAvailable)('redisKeyStore across three replica processes', () => {
  let redis: RedisServer;
  let replicas: Replica[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    // A verification cache of a minute: only the change notice can make a replica see a change soon.
    replicas = await Promise.all([0, 1, 2].map(() => startReplica(redis.url, 1500, 60_000)));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await redis?.stop();
  });

  it('a key revoked on A is refused on B and C within 100 ms', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const created = await a.send<Created>({ op: 'create', principalId: 'checkout' });
    for (const replica of [b, c]) await expect(replica.send({ op: 'verify', key: created.key })).resolves.toMatchObject({ ok: true });
    const revoked = await a.send<{ revoked: boolean; at: number }>({ op: 'revoke', keyId: created.keyId });
    expect(revoked.revoked).toBe(true);
    const seen = await Promise.all([b, c].map((replica) => replica.send<Until>({ op: 'until-refused', key: created.key, limitMs: 1000 })));
    for (const { at, outcome } of seen) {
      expect(outcome).toMatchObject({ ok: false, reason: 'revoked' });
      expect(at - revoked.at).toBeLessThan(100);
    }
  });

  it('a key rotated on A stops on B and C within 100 ms, and the new key works there', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const old = await a.send<Created>({ op: 'create', principalId: 'search' });
    for (const replica of [b, c]) await expect(replica.send({ op: 'verify', key: old.key })).resolves.toMatchObject({ ok: true });
    const next = await a.send<Created>({ op: 'rotate', keyId: old.keyId });
    const seen = await Promise.all([b, c].map((replica) => replica.send<Until>({ op: 'until-refused', key: old.key, limitMs: 1000 })));
    for (const { at, outcome } of seen) {
      expect(outcome).toMatchObject({ ok: false, reason: 'expired' });
      expect(at - (next.at ?? 0)).toBeLessThan(100);
    }
    for (const replica of [b, c]) {
      await expect(replica.send({ op: 'verify', key: next.key })).resolves.toMatchObject({ ok: true, principal: 'search' });
    }
  });

  it('two writers racing on the same keys lose no update', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).send<Created>({ op: 'create', principalId: `race-${i}` })),
    );
    // A revokes every key while B rotates the same keys: each read the record before the other wrote.
    const results = await Promise.allSettled(
      created.flatMap((k) => [a.send({ op: 'revoke', keyId: k.keyId }), b.send<Created>({ op: 'rotate', keyId: k.keyId })]),
    );
    const store = redisKeyStore({ url: redis.url, commandTimeoutMs: 5000 });
    try {
      const all = await store.list();
      for (const [index, k] of created.entries()) {
        const record = all.find((r) => r.id === k.keyId);
        expect(record?.revokedAt, `revocation of key ${index}`).toEqual(expect.any(String));
        const rotation = results[index * 2 + 1];
        if (rotation?.status === 'fulfilled') expect(record?.replacedBy).toBe((rotation.value as Created).keyId);
      }
      // Every key created by either writer is there.
      for (const k of created) expect(all.some((r) => r.id === k.keyId)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('with Redis killed, uses the last verified state within staleForMs, then fails closed, and recovers after a restart', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const created = await a.send<Created>({ op: 'create', principalId: 'mobile' });
    await expect(b.send({ op: 'verify', key: created.key })).resolves.toMatchObject({ ok: true });
    // B's verification cache must not answer: a fresh key id is read from the store.
    const readAt = Date.now();
    await redis.kill();
    const during = await b.send<{ ok: boolean; ms: number }>({ op: 'verify', key: created.key });
    // Answered from the last read state, and never past the 200 ms deadline the replica passes.
    expect(during).toMatchObject({ ok: true });
    expect(during.ms).toBeLessThan(300);
    const refused = await b.send<Until>({ op: 'until-refused', key: created.key, limitMs: 5000 });
    expect(refused.outcome).toMatchObject({ ok: false, code: 'UPSTREAM' });
    // The replica's cache is a minute long, so this says the store's stale bound (1.5 s) ended it.
    const refusedAfter = refused.at - readAt;
    expect(refusedAfter).toBeGreaterThanOrEqual(1400);
    expect(refusedAfter).toBeLessThan(3000);

    await redis.restart();
    // The restarted Redis is empty; both clients reconnect by themselves.
    let fresh: Created | undefined;
    for (let i = 0; i < 100 && fresh === undefined; i++) {
      fresh = await a.send<Created>({ op: 'create', principalId: 'after-restart' }).catch(() => undefined);
      if (fresh === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(fresh).toBeDefined();
    const accepted = await b.send<Until>({ op: 'until-accepted', key: fresh?.key, limitMs: 5000 });
    expect(accepted.outcome).toMatchObject({ ok: true });
    // The change notices flow again: a revocation reaches B within 100 ms.
    await expect.poll(async () => (await b.send<Until>({ op: 'until-accepted', key: fresh?.key, limitMs: 10 })).outcome.ok).toBe(true);
    const revoked = await a.send<{ at: number }>({ op: 'revoke', keyId: fresh?.keyId });
    const seen = await b.send<Until>({ op: 'until-refused', key: fresh?.key, limitMs: 1000 });
    expect(seen.outcome).toMatchObject({ ok: false, reason: 'revoked' });
    expect(seen.at - revoked.at).toBeLessThan(100);
  });
});

describe.skipIf(!redisAvailable)('redisKeyStore in one process', () => {
  it('never holds a call past its deadline while Redis hangs, and answers from the last read state', async () => {
    const redis = await startRedis();
    const store = redisKeyStore({ url: redis.url, staleForMs: 10_000, commandTimeoutMs: 5000 });
    const keys = apiKeys({ secret, store, cache: false });
    const events: StoreEvent[] = [];
    const listen = (event: unknown) => events.push(event as StoreEvent);
    channels.store.subscribe(listen);
    try {
      const { key, record } = await keys.create({ principalId: 'app' });
      await expect(keys.verify(key)).resolves.toMatchObject({ id: 'app' });
      redis.pause();
      let started = performance.now();
      await expect(keys.verify(key, { deadline: performance.now() + 50 })).resolves.toMatchObject({ id: 'app' });
      expect(performance.now() - started).toBeLessThan(150);
      // A key id never read before has no last state: the call fails when its budget is spent.
      started = performance.now();
      await expect(store.get('0123456789abcdef', { deadline: performance.now() + 50 })).rejects.toMatchObject({ code: 'TIMEOUT' });
      expect(performance.now() - started).toBeLessThan(150);
      redis.resume();
      await expect(store.get(record.id)).resolves.toMatchObject({ id: record.id });
      // Its commands are published on ballast:store as every store's are: answered, and timed out
      // on the caller's deadline while Redis hung.
      expect(events).toContainEqual(expect.objectContaining({ store: 'api-keys', op: 'put', outcome: 'ok' }));
      expect(events.filter((event) => event.store === 'api-keys' && event.op === 'get' && event.outcome === 'timeout')).toHaveLength(2);
    } finally {
      channels.store.unsubscribe(listen);
      redis.resume();
      await store.close();
      await redis.stop();
    }
  });

  it('keeps only hashes, never lifts a revocation, and refuses a malformed stored record', async () => {
    const redis = await startRedis();
    const store = redisKeyStore({ url: redis.url, prefix: 'test:' });
    const keys = apiKeys({ secret, store, cache: false });
    const raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    try {
      await raw.connect();
      const { key, record } = await keys.create({ principalId: 'app' });
      const stored = await raw.hGetAll(`test:record:${record.id}`);
      expect(JSON.stringify(stored)).not.toContain(key.slice(-43));
      await keys.revoke(record.id);
      // A writer holding the record from before the revocation writes it back.
      await store.put(record);
      expect((await store.get(record.id))?.revokedAt).toEqual(expect.any(String));
      await expect(keys.verify(key)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'revoked' } });
      await raw.hSet(`test:record:${record.id}`, 'record', JSON.stringify({ ...record, expiresAt: 'never' }));
      await expect(keys.verify(key)).rejects.toMatchObject({ code: 'INTEGRITY' });
      await expect(store.put({ ...record, revokedAt: 'yes' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    } finally {
      raw.destroy();
      await store.close();
      await redis.stop();
    }
  });
});
