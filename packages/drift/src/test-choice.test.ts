import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { autoTest } from './test-choice.js';
import { featureRows } from './test-data.js';

describe('DriftMonitor test choice', () => {
  const reference = createProfile(featureRows(800, 0, 11));

  it('chooses tests by the documented auto rule', () => {
    const monitor = new DriftMonitor({ reference });
    expect(monitor.tests).toEqual({ a: 'ks', b: 'ks', color: 'chi-square' });
    const large = createProfile(featureRows(2000, 0, 3));
    expect(new DriftMonitor({ reference: large }).tests).toEqual({ a: 'wasserstein', b: 'wasserstein', color: 'jensen-shannon' });
    expect(autoTest({ kind: 'categorical', count: 10, missing: 0, counts: { x: 10 } })).toBe('chi-square');
  });

  it('uses distances with score thresholds when asked', () => {
    const monitor = new DriftMonitor({ reference, test: { a: 'psi', b: 'wasserstein', color: 'jensen-shannon' }, threshold: { a: 0.2 } });
    const result = monitor.check(featureRows(300, 1.5, 21));
    const byName = Object.fromEntries(result.features.map((f) => [f.feature, f]));
    expect(byName.a).toMatchObject({ test: 'psi', threshold: 0.2, drifted: true });
    expect(byName.a?.pValue).toBeUndefined();
    expect(byName.b).toMatchObject({ test: 'wasserstein', threshold: 0.1, drifted: false });
  });
});
