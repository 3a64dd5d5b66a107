import { emit } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

describe('rejection events', () => {
  it('counts rejections by code and source', async () => {
    telemetry.start();
    emit('rejection', { model: 'm', code: 'RATE_LIMITED', source: 'rate-limit' });
    emit('rejection', { model: 'm', code: 'OVERLOADED', source: 'bulkhead' });
    const metrics = await telemetry.harness.collect();
    const rejections = points<number>(metrics.get(S.METRIC_BALLAST_REJECTIONS));
    expect(
      rejections.map((p) => `${p.attributes[S.ATTR_BALLAST_REJECTION_CODE]}/${p.attributes[S.ATTR_BALLAST_REJECTION_SOURCE]}`).sort(),
    ).toEqual(['OVERLOADED/bulkhead', 'RATE_LIMITED/rate-limit']);
  });
});
