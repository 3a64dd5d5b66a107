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
