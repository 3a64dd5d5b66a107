import { emit } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

describe('cache events', () => {
  it('counts cache lookups by result', async () => {
    telemetry.start();
    for (const result of ['hit', 'hit', 'miss', 'stale'] as const) emit('cache', { model: 'm', result });
    const metrics = await telemetry.harness.collect();
    const cache = Object.fromEntries(
      points<number>(metrics.get(S.METRIC_BALLAST_CACHE_LOOKUPS)).map((p) => [p.attributes[S.ATTR_BALLAST_CACHE_RESULT], p.value]),
    );
    expect(cache).toEqual({ hit: 2, miss: 1, stale: 1 });
  });

  it('marks a hit another replica computed as shared, under the same hit result', async () => {
    telemetry.start();
    emit('cache', { model: 'm', result: 'hit' });
    emit('cache', { model: 'm', result: 'hit', shared: true });
    const metrics = await telemetry.harness.collect();
    const cache = points<number>(metrics.get(S.METRIC_BALLAST_CACHE_LOOKUPS)).map((p) => ({ ...p.attributes, value: p.value }));
    expect(cache).toEqual(
      expect.arrayContaining([
        expect.not.objectContaining({ [S.ATTR_BALLAST_CACHE_SHARED]: true }),
        expect.objectContaining({ [S.ATTR_BALLAST_CACHE_RESULT]: 'hit', [S.ATTR_BALLAST_CACHE_SHARED]: true, value: 1 }),
      ]),
    );
    expect(cache).toHaveLength(2);
  });
});
