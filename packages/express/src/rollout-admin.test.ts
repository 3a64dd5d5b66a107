import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { defineModel } from '@ballast/core';
import { apiKeys, authorize, createGuard, memoryKeyStore } from '@ballast/guard';
import { type Rollout, rollout, rolloutAdmin } from '@ballast/rollout';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutAdminRoutes } from './rollout-admin.js';
import { ballastRouter } from './router.js';

// Rollout administration over real HTTP: a reader may see the status, only an admin may promote
// or roll back, and the served model follows the decisions.
let base: string;
let close: () => Promise<void>;
let adminKey: string;
let readerKey: string;
let ranker: Rollout<{ query: string }, string>;

beforeAll(async () => {
  const keys = apiKeys({ secret: randomBytes(32), store: memoryKeyStore() });
  adminKey = (await keys.create({ principalId: 'ops', roles: ['admin'] })).key;
  readerKey = (await keys.create({ principalId: 'analyst', roles: ['infer'] })).key;
  ranker = rollout({
    name: 'ranker',
    stable: defineModel({ name: 'ranker', version: 'v1', infer: async (q: { query: string }) => `v1:${q.query}` }),
    candidate: defineModel({ name: 'ranker', version: 'v2', infer: async (q: { query: string }) => `v2:${q.query}` }),
    strategy: { type: 'canary', weight: 0 },
  });
  // The guard's role policies decide: `read` for status, `admin` for promote and roll back.
  const admin = rolloutAdmin({ rollouts: [ranker], authorize: (principal, action, name) => authorize(principal, action, name) });
  const router = ballastRouter({
    models: { ranker },
    guard: createGuard({ keys }),
    mount: [{ path: '/admin/rollouts', handler: rolloutAdminRoutes(admin), action: 'read' }],
  });
  const app = express().use(router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => router.shutdown({ server });
});
afterAll(() => close());

const call = async (path: string, key: string | undefined, method = 'GET', body?: unknown) => {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(key ? { 'x-api-key': key } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('rollout admin routes', () => {
  it('lets a reader see the status and refuses anonymous callers', async () => {
    expect((await call('/admin/rollouts', undefined)).status).toBe(401);
    const list = await call('/admin/rollouts', readerKey);
    expect(list.status).toBe(200);
    const one = await call('/admin/rollouts/ranker', readerKey);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'ranker', phase: 'running', stableVersion: 'v1', candidateVersion: 'v2' });
    expect((await call('/admin/rollouts/nope', readerKey)).status).toBe(404);
  });

  it('allows promote and roll back to admins only, and the served model follows', async () => {
    const denied = await call('/admin/rollouts/ranker/promote', readerKey, 'POST', { reason: 'try' });
    expect(denied.status).toBe(403);
    expect((denied.body.error as { code: string }).code).toBe('FORBIDDEN');

    expect(await ranker.infer({ query: 'q' })).toBe('v1:q');
    const promoted = await call('/admin/rollouts/ranker/promote', adminKey, 'POST', { reason: 'offline eval passed' });
    expect(promoted.status).toBe(200);
    expect((await call('/admin/rollouts/ranker', adminKey)).body).toMatchObject({ phase: 'promoted' });
    expect(await ranker.infer({ query: 'q' })).toBe('v2:q');

    const bad = await call('/admin/rollouts/ranker/rollback', adminKey, 'POST', { why: 'typo' });
    expect(bad.status).toBe(400);
    const rolledBack = await call('/admin/rollouts/ranker/rollback', adminKey, 'POST');
    expect(rolledBack.status).toBe(200);
    expect((await call('/admin/rollouts/ranker', readerKey)).body).toMatchObject({ phase: 'rolled-back' });
    expect(await ranker.infer({ query: 'q' })).toBe('v1:q');
  });
});

describe('rollout admin routes follow the guard role policy', () => {
  it('lets an admin read and a custom role promote, whatever role names the rollout admin was given', async () => {
    const target = rollout({
      name: 'scorer',
      stable: defineModel({ name: 'scorer', version: 'v1', infer: async (x: number) => x }),
      candidate: defineModel({ name: 'scorer', version: 'v2', infer: async (x: number) => x + 1 }),
      strategy: { type: 'canary', weight: 0 },
    });
    // Literal role names as the rollout admin knows them: `read` for status, `admin` to decide.
    const admin = rolloutAdmin({ rollouts: [target], readRole: 'read' });
    const principals: Record<string, { id: string; roles: string[] }> = {
      'admin-token': { id: 'root', roles: ['admin'] },
      'ops-token': { id: 'oncall', roles: ['ops'] },
      'viewer-token': { id: 'viewer', roles: ['viewer'] },
    };
    const guard = createGuard({
      authenticate: (credential) => (credential === undefined ? undefined : principals[credential]),
      roles: { admin: { actions: ['*'] }, ops: { actions: ['read', 'admin'], models: ['scorer'] }, viewer: { actions: ['read'] } },
    });
    const router = ballastRouter({
      models: { scorer: target },
      guard,
      mount: [{ path: '/admin/rollouts', handler: rolloutAdminRoutes(admin), action: 'read' }],
    });
    const server = express().use(router).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (path: string, token: string, method = 'GET') =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    try {
      // The admin role grants every action in the guard's policy, reading included.
      expect((await send('/admin/rollouts/scorer', 'admin-token')).status).toBe(200);
      expect((await send('/admin/rollouts', 'admin-token')).status).toBe(200);
      // A viewer may read, not decide.
      expect((await send('/admin/rollouts/scorer', 'viewer-token')).status).toBe(200);
      const refused = await send('/admin/rollouts/scorer/promote', 'viewer-token', 'POST');
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      // A role of the app's own that the policy lets administer this rollout.
      expect((await send('/admin/rollouts/scorer/promote', 'ops-token', 'POST')).status).toBe(200);
      expect(await target.infer(1)).toBe(2);
      expect((await send('/admin/rollouts/scorer/rollback', 'admin-token', 'POST')).status).toBe(200);
    } finally {
      await router.shutdown({ server });
    }
  });
});
