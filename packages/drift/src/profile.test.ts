import { describe, expect, it } from 'vitest';
import { createProfile, parseProfile } from './profile.js';
import { featureRows } from './test-data.js';

describe('createProfile', () => {
  it('infers kinds, keeps a bounded reservoir and round-trips through JSON', () => {
    const profile = createProfile(featureRows(3000, 0, 1), { reservoirSize: 500 });
    expect(profile.features.a?.kind).toBe('numeric');
    expect(profile.features.color?.kind).toBe('categorical');
    const a = profile.features.a;
    if (a?.kind !== 'numeric') throw new Error('numeric');
    expect(a.sample).toHaveLength(500);
    expect(a.count).toBe(3000);
    expect(Math.abs(a.mean)).toBeLessThan(0.1);
    expect(a.quantiles.p50).toBeGreaterThan(-0.2);
    const loaded = parseProfile(JSON.stringify(profile));
    expect(loaded).toEqual(profile);
  });
  it('accepts columns and declared kinds, and counts missing values', () => {
    const profile = createProfile(
      { code: [1, 2, 2, 3, Number.NaN], size: [1.5, null, 2.5, 3.5, 4] },
      { features: { code: 'categorical', size: 'numeric' } },
    );
    expect(profile.features.code).toMatchObject({ kind: 'categorical', counts: { '1': 1, '2': 2, '3': 1 }, missing: 1 });
    expect(profile.features.size).toMatchObject({ kind: 'numeric', count: 4, missing: 1 });
  });
  it('rejects bad input with typed errors', () => {
    expect(() => createProfile([{ a: Number.NaN }], { features: ['a'] })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => parseProfile('{')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => parseProfile({ version: 1, rows: 1, features: { a: { kind: 'numeric', count: 1 } } })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', details: { feature: 'a' } }),
    );
  });
});
