import { emit } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

describe('attempt events', () => {
  it('counts hedges when they start, not again when they settle', async () => {
    telemetry.start();
    emit('hedge', { model: 'm', afterMs: 12 });
    emit('hedge', { model: 'm', afterMs: 12, winner: 'hedge' });
    const metrics = await telemetry.harness.collect();
    expect(points<number>(metrics.get(S.METRIC_BALLAST_HEDGES))[0]?.value).toBe(1);
  });
});
