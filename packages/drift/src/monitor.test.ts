import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { featureRows } from './test-data.js';

describe('DriftMonitor', () => {
  const reference = createProfile(featureRows(800, 0, 11));

  it('flags a shifted window and not a window from the reference distribution', () => {
    const results: boolean[] = [];
    const monitor = new DriftMonitor({ reference, window: { size: 300 }, onResult: (r) => results.push(r.datasetDrift) });
    const same = monitor.observeRows(featureRows(300, 0, 99));
    expect(same).toHaveLength(1);
    expect(same[0]?.driftedFeatures).toEqual([]);
    const shifted = monitor.observeRows(featureRows(300, 1, 7));
    expect(shifted[0]?.driftedFeatures).toEqual(expect.arrayContaining(['a', 'color']));
    expect(shifted[0]?.driftedFeatures).not.toContain('b');
    expect(shifted[0]?.datasetDrift).toBe(true);
    expect(results).toEqual([false, true]);
    const a = shifted[0]?.features.find((f) => f.feature === 'a');
    expect(a?.pValue).toBeLessThan(0.05);
    expect(a?.histogram.labels.length).toBeGreaterThan(3);
  });

  it('accepts typed columns and counts dropped values', () => {
    const monitor = new DriftMonitor({ reference, window: { size: 4 }, features: ['a', 'color'] });
    const [result] = monitor.observeColumns({
      a: new Float64Array([0.1, Number.NaN, 0.3, Number.POSITIVE_INFINITY]),
      color: ['red', null, 'blue', 'red'],
    });
    expect(result?.features[0]).toMatchObject({ feature: 'a', windowSize: 2, dropped: 2 });
    expect(result?.features[1]).toMatchObject({ feature: 'color', windowSize: 3, dropped: 1 });
  });

  it('rejects bad configuration with CONFIG errors', () => {
    const config = expect.objectContaining({ code: 'CONFIG' });
    expect(() => new DriftMonitor({ reference, features: ['nope'] })).toThrow(config);
    expect(() => new DriftMonitor({ reference, correction: 'holm' as never })).toThrow(config);
    expect(() => new DriftMonitor({ reference, window: { size: 0 } })).toThrow(config);
    expect(() => new DriftMonitor({ reference, test: { color: 'ks' } })).toThrow(config);
    expect(() => new DriftMonitor({ reference: undefined as never })).toThrow(config);
  });

  it('names the path of a bad option, and the key a mistyped one was meant to be', () => {
    const failure = (run: () => unknown): { message: string; details: Record<string, unknown> | undefined } => {
      try {
        run();
      } catch (error) {
        return error as { message: string; details: Record<string, unknown> | undefined };
      }
      throw new Error('expected a CONFIG error');
    };
    const small = failure(() => new DriftMonitor({ reference, window: { size: 100, maxRows: 50 } }));
    expect(small.details?.path).toBe('window.maxRows');
    expect(small.message).toMatch(/^DriftMonitor: window\.maxRows: /);
    expect(failure(() => new DriftMonitor({ reference, driftShare: 0 })).details?.path).toBe('driftShare');
    expect(failure(() => new DriftMonitor({ reference, threshold: { a: -1 } })).details?.path).toBe('threshold.a');
    const typo = failure(() => new DriftMonitor({ reference, windw: { size: 10 } } as never));
    expect(typo.details).toMatchObject({ path: 'windw', suggestion: 'window' });
  });

  it('answers rows and tables that are not arrays or objects with INVALID_INPUT', () => {
    const monitor = new DriftMonitor({ reference, window: { size: 50 } });
    for (const bad of [42, 'rows', null, { a: 1 }]) {
      expect(() => monitor.observeRows(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    }
    expect(() => monitor.observeColumns(null as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => monitor.observeTable(7 as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => monitor.check(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
