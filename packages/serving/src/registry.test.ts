import { defineModel } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { ModelRegistry } from './registry.js';

const model = (name: string, version?: string) =>
  defineModel({ name, ...(version === undefined ? {} : { version }), infer: async (input: unknown) => input });

describe('ModelRegistry', () => {
  it('refuses the same name and version twice (every adapter: one rule)', () => {
    expect(() => new ModelRegistry([model('a', '1'), model('a', '1')], 'test')).toThrow(/registered twice/);
    expect(() => new ModelRegistry([model('a'), model('a')], 'test')).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });

  it('keeps versions of one name, the first as the default', () => {
    const registry = new ModelRegistry([model('a', '1'), model('a', '2'), model('b')]);
    expect(registry.resolve('a').original.version).toBe('1');
    expect(registry.resolve('a', '2').original.version).toBe('2');
    expect(registry.names()).toEqual(['a', 'b']);
    expect(() => registry.resolve('a', '3')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('refuses things that are not models and an empty list', () => {
    expect(() => new ModelRegistry([])).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new ModelRegistry([{ name: '' } as never])).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
