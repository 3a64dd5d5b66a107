import { type DriftEvent, seededRandom, subscribe } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { autoTest, DriftMonitor, MAX_WINDOW_ROWS } from './monitor.js';
import { createProfile, parseProfile } from './profile.js';
import { normalSample } from './test-data.js';

function rows(n: number, shift: number, seed: number): Record<string, unknown>[] {
  const a = normalSample(n, shift, 1, seed);
  const b = normalSample(n, 10, 2, seed + 1);
  const random = seededRandom(seed + 2);
  return a.map((x, i) => ({ a: x, b: b[i], color: random() < (shift > 0 ? 0.8 : 0.5) ? 'red' : 'blue' }));
}

describe('createProfile', () => {
  it('infers kinds, keeps a bounded reservoir and round-trips through JSON', () => {
    const profile = createProfile(rows(3000, 0, 1), { reservoirSize: 500 });
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

describe('DriftMonitor', () => {
  const reference = createProfile(rows(800, 0, 11));

  it('chooses tests by the documented auto rule', () => {
    const monitor = new DriftMonitor({ reference });
    expect(monitor.tests).toEqual({ a: 'ks', b: 'ks', color: 'chi-square' });
    const large = createProfile(rows(2000, 0, 3));
    expect(new DriftMonitor({ reference: large }).tests).toEqual({ a: 'wasserstein', b: 'wasserstein', color: 'jensen-shannon' });
    expect(autoTest({ kind: 'categorical', count: 10, missing: 0, counts: { x: 10 } })).toBe('chi-square');
  });

  it('flags a shifted window and not a window from the reference distribution', () => {
    const results: boolean[] = [];
    const monitor = new DriftMonitor({ reference, window: { size: 300 }, onResult: (r) => results.push(r.datasetDrift) });
    const same = monitor.observeRows(rows(300, 0, 99));
    expect(same).toHaveLength(1);
    expect(same[0]?.driftedFeatures).toEqual([]);
    const shifted = monitor.observeRows(rows(300, 1, 7));
    expect(shifted[0]?.driftedFeatures).toEqual(expect.arrayContaining(['a', 'color']));
    expect(shifted[0]?.driftedFeatures).not.toContain('b');
    expect(shifted[0]?.datasetDrift).toBe(true);
    expect(results).toEqual([false, true]);
    const a = shifted[0]?.features.find((f) => f.feature === 'a');
    expect(a?.pValue).toBeLessThan(0.05);
    expect(a?.histogram.labels.length).toBeGreaterThan(3);
  });

  it('applies bonferroni, fdr and none corrections to the p-values', () => {
    const batch = rows(200, 0.15, 5);
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

  it('publishes ballast:drift events per feature and for the dataset', () => {
    const events: string[] = [];
    const stop = subscribe('drift', (e) => events.push(`${e.monitor}:${e.feature}:${e.test}:${e.drifted}`));
    try {
      new DriftMonitor({ name: 'm1', reference, window: { size: 100 } }).observeRows(rows(100, 2, 4));
    } finally {
      stop();
    }
    expect(events).toEqual(['m1:a:ks:true', 'm1:b:ks:false', 'm1:color:chi-square:true', 'm1:__dataset__:drift-share:true']);
  });

  it('slides count windows and keeps memory bounded', () => {
    const monitor = new DriftMonitor({ reference, window: { size: 100, slide: 25 } });
    const results = monitor.observeRows(rows(1000, 0, 8));
    expect(results).toHaveLength(37);
    expect(monitor.windowRows).toBe(100);
    expect(results.every((r) => r.windowRows === 100)).toBe(true);
  });

  it('closes time windows with an injected clock', () => {
    let now = 0;
    const monitor = new DriftMonitor({ reference, window: { durationMs: 1000 }, now: () => now, minRows: 5 });
    const input = rows(50, 0, 12);
    const closed = [];
    for (let i = 0; i < 50; i++) {
      now = i * 100; // 10 rows a second
      const r = monitor.observe(input[i] as Record<string, unknown>);
      if (r) closed.push(r);
    }
    expect(closed.length).toBe(4);
    expect(closed.every((r) => r.windowRows === 10)).toBe(true);
    expect(monitor.flush()?.windowRows).toBe(10);
    expect(monitor.flush()).toBeUndefined();
  });

  it('bounds a time window by maxRows, keeping the most recent rows, however long the stream', () => {
    let now = 0;
    const monitor = new DriftMonitor({ reference, window: { durationMs: 60_000, maxRows: 200 }, now: () => now });
    const a = new Float32Array(5000).map((_, i) => (i < 4800 ? -100 : 100)); // only the last 200 rows are high
    const b = new Float32Array(5000).fill(10);
    monitor.observeColumns({ a, b, color: new Array(5000).fill('red') });
    expect(monitor.windowRows).toBe(200);
    now = 60_000;
    const result = monitor.flush();
    expect(result?.windowRows).toBe(200);
    const shares = result?.features.find((f) => f.feature === 'a')?.histogram.current ?? [];
    expect(shares[0]).toBe(0);
    expect(shares[shares.length - 1]).toBe(1);
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

  it('uses distances with score thresholds when asked', () => {
    const monitor = new DriftMonitor({ reference, test: { a: 'psi', b: 'wasserstein', color: 'jensen-shannon' }, threshold: { a: 0.2 } });
    const result = monitor.check(rows(300, 1.5, 21));
    const byName = Object.fromEntries(result.features.map((f) => [f.feature, f]));
    expect(byName.a).toMatchObject({ test: 'psi', threshold: 0.2, drifted: true });
    expect(byName.a?.pValue).toBeUndefined();
    expect(byName.b).toMatchObject({ test: 'wasserstein', threshold: 0.1, drifted: false });
  });

  it('tracks accuracy from late labels and detects a drop with DDM', () => {
    const monitor = new DriftMonitor({ reference });
    const events: string[] = [];
    const stop = subscribe('drift', (e) => events.push(e.feature));
    const random = seededRandom(3);
    try {
      for (let i = 0; i < 2000; i++) {
        monitor.recordPrediction(`id${i}`, 'yes');
        const errorRate = i < 1000 ? 0.1 : 0.5;
        expect(monitor.recordOutcome(`id${i}`, random() < errorRate ? 'no' : 'yes')).toBe(true);
      }
    } finally {
      stop();
    }
    expect(monitor.recordOutcome('unknown', 'yes')).toBe(false);
    expect(monitor.accuracy.outcomes).toBe(2000);
    expect(monitor.accuracy.accuracy).toBeGreaterThan(0.6);
    expect(monitor.accuracy.drifted).toBe(true);
    expect(events).toContain('__accuracy__');
  });

  it('forgets the oldest pending predictions beyond maxPending', () => {
    const monitor = new DriftMonitor({ reference, accuracy: { maxPending: 2 } });
    monitor.recordPrediction('a', 1);
    monitor.recordPrediction('b', 2);
    monitor.recordPrediction('c', 3);
    expect(monitor.recordOutcome('a', 1)).toBe(false);
    expect(monitor.recordOutcome('c', 4)).toBe(true);
    expect(monitor.accuracy.meanAbsoluteError).toBe(1);
  });

  it('rejects bad configuration with CONFIG errors', () => {
    const config = expect.objectContaining({ code: 'CONFIG' });
    expect(() => new DriftMonitor({ reference, features: ['nope'] })).toThrow(config);
    expect(() => new DriftMonitor({ reference, correction: 'holm' as never })).toThrow(config);
    expect(() => new DriftMonitor({ reference, window: { size: 0 } })).toThrow(config);
    expect(() => new DriftMonitor({ reference, test: { color: 'ks' } })).toThrow(config);
    expect(() => new DriftMonitor({ reference: undefined as never })).toThrow(config);
  });
});

describe('DriftMonitor limits and data quality', () => {
  const reference = createProfile(rows(800, 0, 11));

  it('caps the window size and answers bad input with typed errors', () => {
    expect(() => new DriftMonitor({ reference, window: { size: 1e9 } })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new DriftMonitor({ reference, window: { durationMs: 1000, maxRows: MAX_WINDOW_ROWS + 1 } })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(() => new DriftMonitor({ reference, window: { size: MAX_WINDOW_ROWS } })).not.toThrow();
    const monitor = new DriftMonitor({ reference, window: { size: 50 } });
    for (const bad of [42, 'rows', null, { a: 1 }]) {
      expect(() => monitor.observeRows(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    }
    expect(() => monitor.observeColumns(null as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => monitor.observeTable(7 as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => monitor.check(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('reports a feature missing from a whole window as a data-quality alert with its own event', () => {
    const events: DriftEvent[] = [];
    const stop = subscribe('drift', (event) => events.push(event));
    try {
      const monitor = new DriftMonitor({ name: 'quality', reference, window: { size: 100 } });
      // `a` never arrives (absent or NaN), `color` is absent, `b` is present.
      const window = rows(100, 0, 21).map((row, i) => ({ b: row.b, ...(i % 2 === 0 ? { a: Number.NaN } : {}) }));
      const [result] = monitor.observeRows(window);
      expect(result?.missingFeatures).toEqual(['a', 'color']);
      const a = result?.features.find((f) => f.feature === 'a');
      expect(a).toMatchObject({ status: 'missing', drifted: false, windowSize: 0, dropped: 100 });
      expect(result?.features.find((f) => f.feature === 'b')?.status).toBe('ok');
      const missing = events.filter((e) => e.monitor === 'quality' && e.test === 'missing');
      expect(missing.map((e) => e.feature)).toEqual(['a', 'color']);
      expect(missing[0]).toMatchObject({ statistic: 1, drifted: false, windowSize: 100 });
    } finally {
      stop();
    }
  });
});
