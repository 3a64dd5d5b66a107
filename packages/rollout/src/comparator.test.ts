import { describe, expect, it } from 'vitest';
import { outputComparator } from './comparator.js';

describe('outputComparator', () => {
  const same = outputComparator();

  it('compares numbers within tolerance', () => {
    expect(same(1, 1.0005)).toBe(true);
    expect(same(1, 1.01)).toBe(false);
    expect(same(0, 1e-7)).toBe(true);
    expect(same(Number.NaN, Number.NaN)).toBe(true);
    expect(same(Number.NaN, 1)).toBe(false);
  });

  it('compares score vectors by top class, typed arrays included', () => {
    expect(same([0.1, 0.7, 0.2], [0.3, 0.4, 0.3])).toBe(true);
    expect(same([0.1, 0.7, 0.2], [0.5, 0.4, 0.1])).toBe(false);
    expect(same(Float32Array.of(0.2, 0.8), Float32Array.of(0.4, 0.6))).toBe(true);
    expect(same([0.2, 0.8], [0.2, 0.8, 0])).toBe(false);
    expect(
      same(
        [
          [0.1, 0.9],
          [0.8, 0.2],
        ],
        [
          [0.3, 0.7],
          [0.6, 0.4],
        ],
      ),
    ).toBe(true);
  });

  it('compares every value in tolerance mode', () => {
    const strict = outputComparator({ vectors: 'tolerance', relativeTolerance: 0.01 });
    expect(strict([1, 2, 3], [1.001, 2.001, 3])).toBe(true);
    expect(strict([0.1, 0.9], [0.3, 0.7])).toBe(false);
  });

  it('compares objects, strings and booleans', () => {
    expect(same({ label: 'cat', score: 0.9 }, { label: 'cat', score: 0.9000001 })).toBe(true);
    expect(same({ label: 'cat' }, { label: 'dog' })).toBe(false);
    expect(same({ label: 'cat' }, { label: 'cat', extra: 1 })).toBe(false);
    expect(same('yes', 'yes')).toBe(true);
    expect(same(true, false)).toBe(false);
    expect(same(null, {})).toBe(false);
    expect(same([1, 'a'], [1, 'a'])).toBe(true);
  });

  it('rejects bad options with CONFIG', () => {
    expect(() => outputComparator({ relativeTolerance: -1 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => outputComparator({ vectors: 'mean' as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
