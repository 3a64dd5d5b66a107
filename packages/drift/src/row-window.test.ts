import { describe, expect, it } from 'vitest';
import { DriftMonitor } from './monitor.js';
import { MAX_WINDOW_ROWS } from './monitor-types.js';
import { createProfile } from './profile.js';
import { featureRows } from './test-data.js';

describe('DriftMonitor windows', () => {
  const reference = createProfile(featureRows(800, 0, 11));

  it('slides count windows and keeps memory bounded', () => {
    const monitor = new DriftMonitor({ reference, window: { size: 100, slide: 25 } });
    const results = monitor.observeRows(featureRows(1000, 0, 8));
    expect(results).toHaveLength(37);
    expect(monitor.windowRows).toBe(100);
    expect(results.every((r) => r.windowRows === 100)).toBe(true);
  });

  it('closes time windows with an injected clock', () => {
    let now = 0;
    const monitor = new DriftMonitor({ reference, window: { durationMs: 1000 }, now: () => now, minRows: 5 });
    const input = featureRows(50, 0, 12);
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

  it('caps the window size at MAX_WINDOW_ROWS', () => {
    expect(() => new DriftMonitor({ reference, window: { size: 1e9 } })).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    expect(() => new DriftMonitor({ reference, window: { durationMs: 1000, maxRows: MAX_WINDOW_ROWS + 1 } })).toThrow(
      expect.objectContaining({ code: 'CONFIG' }),
    );
    expect(() => new DriftMonitor({ reference, window: { size: MAX_WINDOW_ROWS } })).not.toThrow();
  });
});
