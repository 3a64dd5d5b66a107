import { createProfile, DriftMonitor } from '@ballast/drift';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, points } from '../test/harness.js';
import { type Instrumentation, instrument } from './instrument.js';
import * as S from './semconv.js';

let harness: Harness;
let telemetry: Instrumentation;

beforeEach(() => {
  harness = createHarness();
  telemetry = instrument({ tracerProvider: harness.tracerProvider, meterProvider: harness.meterProvider });
});
afterEach(async () => {
  telemetry.shutdown();
  await harness.shutdown();
});

// Weather-like rows: a seasonal temperature cycle, wind and a label; `warming` shifts the temperature.
function day(i: number, warming = 0) {
  const season = Math.sin((2 * Math.PI * (i % 365)) / 365);
  const noise = (k: number) => Math.sin(i * 12.9898 + k * 78.233) * 0.5;
  return {
    temp_max: 14 + 8 * season + warming + 3 * noise(1),
    wind: 3.2 + 1.2 * noise(2),
    weather: season > 0.3 ? 'sun' : season < -0.3 ? 'rain' : 'fog',
  };
}

describe('drift metrics from a real DriftMonitor', () => {
  it('exports each feature’s last statistic, p-value and verdict as the monitor reported them', async () => {
    const reference = createProfile(Array.from({ length: 730 }, (_, i) => day(i)));
    const monitor = new DriftMonitor({ name: 'weather', reference, window: { size: 200 } });

    const calm = monitor.observeRows(Array.from({ length: 200 }, (_, i) => day((i * 37) % 730)))[0];
    const hot = monitor.observeRows(Array.from({ length: 200 }, (_, i) => day(120 + (i % 120), 4)))[0];
    expect(calm).toBeDefined();
    expect(hot?.driftedFeatures).toContain('temp_max');

    const metrics = await harness.collect();
    const score = metrics.get(S.METRIC_BALLAST_DRIFT_SCORE);
    expect(score?.descriptor.unit).toBe('1');
    for (const result of hot?.features ?? []) {
      if (result.status !== 'ok') continue;
      const labels = {
        [S.ATTR_BALLAST_DRIFT_MONITOR]: 'weather',
        [S.ATTR_BALLAST_DRIFT_FEATURE]: result.feature,
        [S.ATTR_BALLAST_DRIFT_TEST]: result.test,
      };
      expect(points<number>(score, labels)[0]?.value, result.feature).toBe(result.statistic);
      expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_DETECTED), labels)[0]?.value, result.feature).toBe(result.drifted ? 1 : 0);
      if (result.pValue !== undefined)
        expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_P_VALUE), labels)[0]?.value).toBe(result.pValue);
    }
    // The dataset verdict of the last window, and two windows of tests per feature.
    const dataset = points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_DETECTED), { [S.ATTR_BALLAST_DRIFT_FEATURE]: '__dataset__' });
    expect(dataset[0]?.value).toBe(hot?.datasetDrift ? 1 : 0);
    const tempTests = points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_TESTS), { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'temp_max' });
    expect(tempTests.reduce((sum, p) => sum + p.value, 0)).toBe(2);
    expect(tempTests.find((p) => p.attributes[S.ATTR_BALLAST_DRIFT_DRIFTED] === true)?.value).toBe(1);
  });

  it('counts windows in which a feature was entirely missing, apart from the drift verdicts', async () => {
    const reference = createProfile(Array.from({ length: 730 }, (_, i) => day(i)));
    const monitor = new DriftMonitor({ name: 'weather', reference, window: { size: 100 } });
    // The wind sensor stops reporting for two windows.
    const silent = Array.from({ length: 200 }, (_, i) => ({ ...day(i * 3), wind: undefined }));
    const results = monitor.observeRows(silent);
    expect(results.map((r) => r.missingFeatures)).toEqual([['wind'], ['wind']]);

    const metrics = await harness.collect();
    const missing = points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_MISSING), {
      [S.ATTR_BALLAST_DRIFT_MONITOR]: 'weather',
      [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind',
    });
    expect(missing.map((p) => p.value)).toEqual([2]);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_TESTS), { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind' })).toEqual([]);
  });
});
