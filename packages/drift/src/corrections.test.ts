import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { featureRows } from './test-data.js';

describe('DriftMonitor corrections', () => {
  const reference = createProfile(featureRows(800, 0, 11));

  it('applies bonferroni, fdr and none corrections to the p-values', () => {
    const batch = featureRows(200, 0.15, 5);
    const raw = new DriftMonitor({ reference, correction: 'none' }).check(batch);
    const bonferroni = new DriftMonitor({ reference, correction: 'bonferroni' }).check(batch);
    const fdr = new DriftMonitor({ reference, correction: 'fdr' }).check(batch);
    const p = raw.features.map((f) => f.rawPValue as number);
    expect(bonferroni.features.map((f) => f.pValue)).toEqual(p.map((x) => Math.min(1, x * 3)));
    const sorted = [...p].sort((x, y) => x - y);
    const smallest = fdr.features.find((f) => f.rawPValue === sorted[0]);
    expect(smallest?.pValue).toBeCloseTo(Math.min((sorted[0] as number) * 3, (sorted[1] as number) * 1.5, sorted[2] as number), 12);
    for (const f of fdr.features) expect(f.pValue).toBeGreaterThanOrEqual(f.rawPValue as number);
  });
});
