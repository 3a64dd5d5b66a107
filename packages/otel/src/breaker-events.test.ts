import { emit } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

describe('breaker events', () => {
  it('follows breaker transitions in the state gauge', async () => {
    telemetry.start();
    const state = async () => {
      const metrics = await telemetry.harness.collect();
      const gauge = metrics.get(S.METRIC_BALLAST_BREAKER_STATE);
      if (gauge !== undefined) expect(gauge.descriptor.unit).toBe('1');
      return Object.fromEntries(
        points<number>(gauge, { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'remote' }).map((p) => [
          p.attributes[S.ATTR_BALLAST_BREAKER_STATE],
          p.value,
        ]),
      );
    };
    expect(await state()).toEqual({});
    emit('breaker', { model: 'remote', from: 'closed', to: 'open', reason: 'consecutive-failures' });
    expect(await state()).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
    emit('breaker', { model: 'remote', from: 'open', to: 'half-open', reason: 'timer' });
    expect(await state()).toEqual({ closed: 0, open: 0, 'half-open': 1, isolated: 0 });
    emit('breaker', { model: 'remote', from: 'half-open', to: 'closed', reason: 'trial-succeeded' });
    expect(await state()).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });

    const transitions = points<number>((await telemetry.harness.collect()).get(S.METRIC_BALLAST_BREAKER_TRANSITIONS));
    expect(
      transitions.map((p) => `${p.attributes[S.ATTR_BALLAST_BREAKER_FROM]}->${p.attributes[S.ATTR_BALLAST_BREAKER_STATE]}`).sort(),
    ).toEqual(['closed->open', 'half-open->closed', 'open->half-open']);
  });

  it('keeps the 256 most recently changed keyed breakers in the gauge', async () => {
    telemetry.start();
    for (let i = 0; i <= 1000; i++)
      emit('breaker', { model: 'm', key: `k${i}`, from: 'closed', to: 'open', reason: 'consecutive-failures' });
    emit('breaker', { model: 'm', key: 'k1', from: 'open', to: 'half-open', reason: 'timer' });
    emit('breaker', { model: 'm', key: 'k257', from: 'closed', to: 'open', reason: 'consecutive-failures' });
    const gauge = (await telemetry.harness.collect()).get(S.METRIC_BALLAST_BREAKER_STATE);
    const keys = new Set(points<number>(gauge).map((p) => p.attributes[S.ATTR_BALLAST_BREAKER_KEY]));
    expect(keys.size).toBe(256);
    expect(keys.has('k0')).toBe(false);
    expect(keys.has('k2')).toBe(false);
    expect(keys.has('k1')).toBe(true);
    expect(points<number>(gauge, { [S.ATTR_BALLAST_BREAKER_KEY]: 'k1', [S.ATTR_BALLAST_BREAKER_STATE]: 'half-open' })[0]?.value).toBe(1);
  });
});
