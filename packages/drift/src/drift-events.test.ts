import { type DriftEvent, subscribe } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { featureRows } from './test-data.js';

describe('DriftMonitor events', () => {
  const reference = createProfile(featureRows(800, 0, 11));

  it('publishes ballast:drift events per feature and for the dataset', () => {
    const events: string[] = [];
    const stop = subscribe('drift', (e) => events.push(`${e.monitor}:${e.feature}:${e.test}:${e.drifted}`));
    try {
      new DriftMonitor({ name: 'm1', reference, window: { size: 100 } }).observeRows(featureRows(100, 2, 4));
    } finally {
      stop();
    }
    expect(events).toEqual(['m1:a:ks:true', 'm1:b:ks:false', 'm1:color:chi-square:true', 'm1:__dataset__:drift-share:true']);
  });

  it('reports a feature missing from a whole window as a data-quality alert with its own event', () => {
    const events: DriftEvent[] = [];
    const stop = subscribe('drift', (event) => events.push(event));
    try {
      const monitor = new DriftMonitor({ name: 'quality', reference, window: { size: 100 } });
      // `a` never arrives (absent or NaN), `color` is absent, `b` is present.
      const window = featureRows(100, 0, 21).map((row, i) => ({ b: row.b, ...(i % 2 === 0 ? { a: Number.NaN } : {}) }));
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
