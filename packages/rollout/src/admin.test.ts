import { BallastError, defineModel, httpStatusFor, isBallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { rolloutAdmin } from './admin.js';
import { rollout } from './rollout.js';

function setup() {
  const v1 = defineModel({ name: 'fraud', version: 'v1', infer: async () => 'v1' });
  const v2 = defineModel({ name: 'fraud', version: 'v2', infer: async () => 'v2' });
  const fraud = rollout({ stable: v1, candidate: v2, strategy: { type: 'canary', weight: 0.2 } });
  const admin = rolloutAdmin({ rollouts: [fraud], role: 'ml-admin', readRole: 'ml-viewer' });
  return { fraud, admin };
}

const adminUser = { id: 'alice', roles: ['ml-admin', 'ml-viewer'] };
const viewer = { id: 'bob', roles: ['ml-viewer'] };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'none';
  } catch (error) {
    return isBallastError(error) ? error.code : 'not-a-ballast-error';
  }
}

describe('rolloutAdmin', () => {
  it('reports status to a reader, and lists all rollouts', async () => {
    const { admin, fraud } = setup();
    const one = await admin.status(viewer, 'fraud');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: 'fraud', phase: 'running', weight: 0.2, stableVersion: 'v1', candidateVersion: 'v2' });
    const all = await admin.status(viewer);
    expect((all.body as { rollouts: unknown[] }).rollouts).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(all.body))).toEqual(all.body);
    await fraud.close();
  });

  it('lets authorizedBy() decide instead of the role names', async () => {
    const { admin, fraud } = setup();
    const byPolicy = admin.authorizedBy((principal, action) => action === 'read' || principal?.roles?.includes('boss') === true);
    const boss = { id: 'carol', roles: ['boss'] };
    expect(await codeOf(admin.status(boss, 'fraud'))).toBe('FORBIDDEN');
    expect((await byPolicy.status(boss, 'fraud')).status).toBe(200);
    expect(await codeOf(byPolicy.promote(viewer, 'fraud'))).toBe('FORBIDDEN');
    expect(await codeOf(byPolicy.status(undefined, 'fraud'))).toBe('UNAUTHENTICATED');
    expect((await byPolicy.promote(boss, 'fraud', { reason: 'policy allows' })).status).toBe(200);
    await fraud.close();
  });

  it('enforces roles: UNAUTHENTICATED without a principal, FORBIDDEN without the role', async () => {
    const { admin, fraud } = setup();
    expect(await codeOf(admin.status(undefined, 'fraud'))).toBe('UNAUTHENTICATED');
    expect(await codeOf(admin.status({ id: 'eve' }, 'fraud'))).toBe('FORBIDDEN');
    expect(await codeOf(admin.promote(viewer, 'fraud'))).toBe('FORBIDDEN');
    expect(await codeOf(admin.rollback(viewer, 'fraud'))).toBe('FORBIDDEN');
    expect(httpStatusFor('FORBIDDEN')).toBe(403);
    expect(fraud.status().phase).toBe('running');
    await fraud.close();
  });

  it('promotes and rolls back, recording who and why', async () => {
    const { admin, fraud } = setup();
    const promoted = await admin.promote(adminUser, 'fraud', { reason: 'metrics look good' });
    expect(promoted).toMatchObject({ status: 200, body: { phase: 'promoted', weight: 1 } });
    expect(await fraud.infer(null)).toBe('v2');
    const back = await admin.rollback(adminUser, 'fraud');
    expect(back.body).toMatchObject({ phase: 'rolled-back' });
    expect(fraud.status().decisions.map((d) => [d.decision, d.reason, d.by])).toEqual([
      ['promote', 'metrics look good', 'alice'],
      ['rollback', 'manual', 'alice'],
    ]);
    await fraud.close();
  });

  it('lets a policy function decide instead of the role, failing closed', async () => {
    const v1 = defineModel({ name: 'fraud', version: 'v1', infer: async () => 'v1' });
    const fraud = rollout({ stable: v1, candidate: v1, strategy: { type: 'canary' } });
    const calls: unknown[][] = [];
    const admin = rolloutAdmin({
      rollouts: { fraud },
      authorize: (principal, action, name) => {
        calls.push([principal?.id, action, name]);
        if (principal?.id === 'broken') throw new Error('policy store down');
        if (principal?.id === 'anon') throw new BallastError('UNAUTHENTICATED', 'who are you');
        return principal?.id === 'ops' || action === 'read';
      },
    });
    expect((await admin.status({ id: 'anyone' })).status).toBe(200);
    expect(await codeOf(admin.promote({ id: 'anyone' }, 'fraud'))).toBe('FORBIDDEN');
    expect(await codeOf(admin.promote({ id: 'broken' }, 'fraud'))).toBe('FORBIDDEN');
    expect(await codeOf(admin.promote({ id: 'anon' }, 'fraud'))).toBe('UNAUTHENTICATED');
    expect(fraud.status().phase).toBe('running');
    expect((await admin.promote({ id: 'ops' }, 'fraud')).status).toBe(200);
    expect(calls[0]).toEqual(['anyone', 'read', undefined]);
    expect(calls.at(-1)).toEqual(['ops', 'admin', 'fraud']);
    await fraud.close();
  });

  it('uses the admin role by default', async () => {
    const v1 = defineModel({ name: 'fraud', version: 'v1', infer: async () => 'v1' });
    const fraud = rollout({ stable: v1, candidate: v1, strategy: { type: 'canary' } });
    const admin = rolloutAdmin({ rollouts: [fraud] });
    expect(await codeOf(admin.rollback({ id: 'x', roles: ['infer'] }, 'fraud'))).toBe('FORBIDDEN');
    expect((await admin.rollback({ id: 'x', roles: ['admin'] }, 'fraud')).status).toBe(200);
    await fraud.close();
  });

  it('rejects unknown rollouts and bad bodies with typed errors', async () => {
    const { admin, fraud } = setup();
    expect(await codeOf(admin.promote(adminUser, 'nope'))).toBe('NOT_FOUND');
    expect(await codeOf(admin.promote(adminUser, 'fraud', 'text'))).toBe('INVALID_INPUT');
    expect(await codeOf(admin.promote(adminUser, 'fraud', { reason: 7 }))).toBe('INVALID_INPUT');
    expect(await codeOf(admin.promote(adminUser, 'fraud', { reason: 'x', extra: 1 }))).toBe('INVALID_INPUT');
    expect(fraud.status().phase).toBe('running');
    expect(() => rolloutAdmin({ rollouts: [fraud, fraud] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => rolloutAdmin({ rollouts: [{} as never] })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    await fraud.close();
  });
});
