import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineModel } from '@ballast/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rollout } from './rollout.js';
import { jsonFileStore, memoryStore, type RolloutRecord } from './store.js';

const record = (phase: RolloutRecord['phase']): RolloutRecord => ({
  stableVersion: 'v1',
  candidateVersion: 'v2',
  phase,
  stepIndex: 0,
  switched: false,
  decisions: [],
  updatedAt: 1,
});

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'ballast-rollout-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('memoryStore', () => {
  it('returns copies, so a caller cannot change what is stored', () => {
    const store = memoryStore();
    const saved = record('running');
    store.save('a', saved);
    saved.phase = 'promoted';
    const loaded = store.load('a') as RolloutRecord;
    expect(loaded.phase).toBe('running');
    loaded.phase = 'rolled-back';
    expect((store.load('a') as RolloutRecord).phase).toBe('running');
    expect(store.load('missing')).toBeUndefined();
  });
});

describe('jsonFileStore', () => {
  it('saves several rollouts in one file and reads them back', async () => {
    const path = join(directory, 'nested', 'rollouts.json');
    const store = jsonFileStore(path);
    expect(await store.load('a')).toBeUndefined();
    await Promise.all([store.save('a', record('promoted')), store.save('b', record('rolled-back'))]);
    const again = jsonFileStore(path);
    expect(await again.load('a')).toMatchObject({ phase: 'promoted' });
    expect(await again.load('b')).toMatchObject({ phase: 'rolled-back' });
    expect(JSON.parse(await readFile(path, 'utf8'))).toHaveProperty('a');
  });

  it('fails with CONFIG on a file that is not JSON, and ignores entries that are not records', async () => {
    const path = join(directory, 'rollouts.json');
    await writeFile(path, '{ nope');
    await expect(jsonFileStore(path).load('a')).rejects.toMatchObject({ code: 'CONFIG' });
    await writeFile(path, JSON.stringify({ a: { phase: 'promoted' } }));
    expect(await jsonFileStore(path).load('a')).toBeUndefined();
    expect(() => jsonFileStore('')).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });

  it('keeps a promotion across a process restart (a new store and rollout on the same file)', async () => {
    const path = join(directory, 'rollouts.json');
    const v1 = defineModel({ name: 'm', version: 'v1', infer: async () => 'v1' });
    const v2 = defineModel({ name: 'm', version: 'v2', infer: async () => 'v2' });
    const before = rollout({ stable: v1, candidate: v2, strategy: { type: 'blue-green', autoSwitch: false }, store: jsonFileStore(path) });
    expect(await before.infer(null)).toBe('v1');
    await before.promote({ reason: 'release 2', by: 'alice' });
    await before.close();

    const after = rollout({ stable: v1, candidate: v2, strategy: { type: 'blue-green', autoSwitch: false }, store: jsonFileStore(path) });
    expect(await after.infer(null)).toBe('v2');
    expect(after.status()).toMatchObject({ phase: 'promoted', decisions: [{ decision: 'promote', reason: 'release 2', by: 'alice' }] });
    await after.close();
  });
});
