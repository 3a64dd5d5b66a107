import { emit } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

describe('drift events', () => {
  it('records drift score, p-value and verdict per feature', async () => {
    telemetry.start();
    emit('drift', {
      monitor: 'inputs',
      feature: 'temp_max',
      test: 'ks',
      statistic: 0.31,
      pValue: 0.0004,
      threshold: 0.05,
      drifted: true,
      windowSize: 500,
    });
    emit('drift', { monitor: 'inputs', feature: 'wind', test: 'psi', statistic: 0.02, threshold: 0.2, drifted: false, windowSize: 500 });
    emit('drift', {
      monitor: 'inputs',
      feature: 'temp_max',
      test: 'ks',
      statistic: 0.05,
      pValue: 0.4,
      threshold: 0.05,
      drifted: false,
      windowSize: 500,
    });
    const metrics = await telemetry.harness.collect();
    const temp = { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'temp_max' };
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_SCORE), temp)[0]?.value).toBe(0.05);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_P_VALUE), temp)[0]?.value).toBe(0.4);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_DETECTED), temp)[0]?.value).toBe(0);
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_SCORE), { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind' })[0]?.attributes).toEqual({
      [S.ATTR_BALLAST_DRIFT_MONITOR]: 'inputs',
      [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind',
      [S.ATTR_BALLAST_DRIFT_TEST]: 'psi',
    });
    expect(points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_P_VALUE), { [S.ATTR_BALLAST_DRIFT_FEATURE]: 'wind' })).toEqual([]);
    const tests = points<number>(metrics.get(S.METRIC_BALLAST_DRIFT_TESTS), temp);
    expect(tests.map((p) => [p.attributes[S.ATTR_BALLAST_DRIFT_DRIFTED], p.value]).sort()).toEqual([
      [false, 1],
      [true, 1],
    ]);
  });
});
