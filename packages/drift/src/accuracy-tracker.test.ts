import { seededRandom, subscribe } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { createProfile } from './profile.js';
import { featureRows } from './test-data.js';

describe('DriftMonitor accuracy', () => {
  const reference = createProfile(featureRows(800, 0, 11));

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
});
