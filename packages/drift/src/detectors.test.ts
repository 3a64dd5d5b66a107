import { seededRandom } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { ADWIN } from './adwin.js';
import { DDM } from './ddm.js';
import { KSWIN } from './kswin.js';
import { PageHinkley } from './page-hinkley.js';

function stream(seed: number): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < 1000; i++) out.push(random() < 0.5 ? 0 : 1);
  for (let i = 0; i < 1000; i++) out.push(4 + Math.floor(random() * 4));
  return out;
}

describe('online detectors', () => {
  it('KSWIN detects the change shortly after it happens and not before', () => {
    const kswin = new KSWIN({ alpha: 0.0001, seed: 42 });
    const detections = stream(5).flatMap((x, i) => (kswin.update(x).driftDetected ? [i] : []));
    expect(detections.length).toBeGreaterThan(0);
    expect(detections[0]).toBeGreaterThanOrEqual(1000);
    expect(detections[0]).toBeLessThan(1100);
  });

  it('DDM warns and then detects a rising error rate', () => {
    const random = seededRandom(42);
    const ddm = new DDM();
    let warning = -1;
    let drift = -1;
    for (let i = 0; i < 2000; i++) {
      const error = random() < (i < 1000 ? 0.5 : 0.7) ? 1 : 0;
      ddm.update(error);
      if (ddm.warningDetected && warning < 0) warning = i;
      if (ddm.driftDetected && drift < 0) drift = i;
    }
    expect(drift).toBeGreaterThan(1000);
    expect(warning).toBeGreaterThan(0);
    expect(warning).toBeLessThan(drift);
  });

  it('Page-Hinkley and ADWIN stay quiet on a stationary stream', () => {
    const random = seededRandom(9);
    const ph = new PageHinkley();
    const adwin = new ADWIN();
    let fired = 0;
    for (let i = 0; i < 3000; i++) {
      const x = random();
      if (ph.update(x).driftDetected) fired++;
      if (adwin.update(x).driftDetected) fired++;
    }
    expect(fired).toBe(0);
    expect(adwin.width).toBe(3000);
    expect(adwin.estimation).toBeCloseTo(0.5, 1);
  });

  it('Page-Hinkley detects a decrease in down mode only', () => {
    const down = new PageHinkley({ mode: 'down' });
    const up = new PageHinkley({ mode: 'up' });
    let d = -1;
    let u = -1;
    for (let i = 0; i < 600; i++) {
      const x = i < 300 ? 5 : 1;
      if (down.update(x).driftDetected && d < 0) d = i;
      if (up.update(x).driftDetected && u < 0) u = i;
    }
    expect(d).toBeGreaterThan(300);
    expect(u).toBe(-1);
  });

  it('rejects bad options and values with typed errors', () => {
    expect(() => new ADWIN({ delta: 2 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new KSWIN({ statSize: 80 })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new PageHinkley({ mode: 'sideways' as never })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new DDM().update(Number.NaN)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
