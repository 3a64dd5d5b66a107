import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cramerVonMises } from './cramer-von-mises.js';
import { ksTest } from './ks.js';

// One-sided alternatives, unequal sizes and ties, computed with scipy (see the file's `generator`).
const fixture = JSON.parse(readFileSync(new URL('./fixtures/scipy-ks-alternatives.json', import.meta.url), 'utf8')) as {
  samples: Record<string, [number[], number[]]>;
  cases: {
    samples: string;
    alternative?: 'two-sided' | 'less' | 'greater';
    method?: 'exact' | 'asymp';
    test?: string;
    statistic: number;
    pValue: number;
  }[];
};

describe('ksTest and cramerVonMises against scipy: alternatives, unequal sizes, ties', () => {
  for (const c of fixture.cases) {
    const [reference, current] = fixture.samples[c.samples] as [number[], number[]];
    const label = c.test ?? `ks ${c.alternative} ${c.method}`;
    it(`${c.samples}: ${label}`, () => {
      const r =
        c.test === 'cramer-von-mises'
          ? cramerVonMises(reference, current)
          : ksTest(reference, current, { method: c.method ?? 'auto', alternative: c.alternative ?? 'two-sided' });
      expect(Math.abs(r.statistic - c.statistic)).toBeLessThanOrEqual(1e-9 * Math.abs(c.statistic));
      expect(Math.abs(r.pValue - c.pValue) <= 1e-12 || Math.abs(r.pValue - c.pValue) <= 1e-6 * c.pValue).toBe(true);
    });
  }
  it('rejects unknown methods and empty samples with INVALID_INPUT', () => {
    expect(() => ksTest([1], [2], { method: 'fast' as never })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => ksTest([], [2])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => ksTest([Number.NaN], [2])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => ksTest('abc' as never, [2])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
