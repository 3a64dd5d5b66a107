import { defineModel } from '@ballast/core';
import { describe, expect, it, vi } from 'vitest';
import { createRegistry } from './registry.js';
import { rollout } from './rollout.js';

const model = (version: string) => defineModel({ name: 'fraud', version, infer: async () => version, close: vi.fn(async () => undefined) });

describe('createRegistry', () => {
  it('registers ready models and loaders, loads once, and resolves aliases', async () => {
    const registry = createRegistry();
    registry.register('fraud', 'v1', model('v1'));
    const loader = vi.fn(async () => model('v2'));
    registry.register('fraud', 'v2', loader);
    expect(registry.isReady('fraud', 'v1')).toBe(true);
    expect(registry.isReady('fraud', 'v2')).toBe(false);
    expect(() => registry.get('fraud', 'v2')).toThrow(expect.objectContaining({ code: 'MODEL_UNAVAILABLE' }));

    const [a, b] = await Promise.all([registry.load('fraud', 'v2'), registry.load('fraud', 'v2')]);
    expect(a).toBe(b);
    expect(loader).toHaveBeenCalledTimes(1);
    registry.alias('fraud', 'stable', 'v1');
    registry.alias('fraud', 'candidate', 'v2');
    expect(await registry.get('fraud', 'candidate').infer(null)).toBe('v2');
    expect(registry.resolve('fraud', 'stable')).toBe('v1');
    registry.alias('fraud', 'stable', 'v2');
    expect(registry.versions('fraud')).toEqual([
      { name: 'fraud', version: 'v1', state: 'ready', aliases: [] },
      { name: 'fraud', version: 'v2', state: 'ready', aliases: ['stable', 'candidate'] },
    ]);
  });

  it('reports a failed load, and lets it be tried again', async () => {
    const registry = createRegistry();
    let attempts = 0;
    registry.register('fraud', 'v3', async () => {
      attempts++;
      if (attempts === 1) throw new Error('file missing');
      return model('v3');
    });
    await expect(registry.load('fraud', 'v3')).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    expect(registry.versions()[0]).toMatchObject({ state: 'failed', error: 'file missing' });
    await expect(registry.load('fraud', 'v3')).resolves.toBeDefined();
    expect(registry.isReady('fraud', 'v3')).toBe(true);
  });

  it('refuses bad input with typed errors', async () => {
    const registry = createRegistry();
    registry.register('fraud', 'v1', model('v1'));
    expect(() => registry.register('fraud', 'v1', model('v1'))).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => registry.register('fraud', '', model('v1'))).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => registry.register('fraud', 'v9', 42 as never)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => registry.get('nope', 'v1')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => registry.get('fraud', 'v9')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => registry.alias('fraud', 'v1', 'v1')).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    registry.register('fraud', 'v4', async () => ({ nope: true }) as never);
    await expect(registry.load('fraud', 'v4')).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('closes a version only when no alias points at it', async () => {
    const registry = createRegistry();
    const v1 = model('v1');
    registry.register('fraud', 'v1', v1);
    registry.alias('fraud', 'stable', 'v1');
    await expect(registry.close('fraud', 'v1')).rejects.toMatchObject({ code: 'CONFIG' });
    registry.register('fraud', 'v2', model('v2'));
    registry.alias('fraud', 'stable', 'v2');
    await registry.close('fraud', 'v1');
    expect(v1.close).toHaveBeenCalledTimes(1);
    expect(() => registry.get('fraud', 'v1')).toThrow(expect.objectContaining({ code: 'MODEL_UNAVAILABLE' }));
    await expect(registry.load('fraud', 'v1')).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('feeds a rollout, whose decisions can move the aliases', async () => {
    const registry = createRegistry();
    registry.register('fraud', 'v1', model('v1'));
    registry.register('fraud', 'v2', model('v2'));
    registry.alias('fraud', 'stable', 'v1');
    registry.alias('fraud', 'candidate', 'v2');
    const seen: string[] = [];
    const fraud = rollout({
      stable: registry.get('fraud', 'stable'),
      candidate: registry.get('fraud', 'candidate'),
      strategy: { type: 'canary', weight: 0.1 },
      onDecision: (decision, status) => {
        seen.push(`${decision.decision}:${status.phase}`);
        if (decision.decision === 'promote') registry.alias('fraud', 'stable', status.candidateVersion);
        throw new Error('ignored');
      },
    });
    await fraud.promote();
    expect(seen).toEqual(['promote:promoted']);
    expect(registry.resolve('fraud', 'stable')).toBe('v2');
    expect(await fraud.infer(null)).toBe('v2');
    await fraud.close();
  });
});
