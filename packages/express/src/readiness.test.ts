import { createClient } from '@ballast/client';
import { BallastError, defineModel, type TensorValue } from '@ballast/core';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { ballastRouter } from './router.js';
import { listen } from './test-server.js';

type Row = Record<string, { data: ArrayLike<number>; dims: readonly number[] }>;
type Out = Record<string, TensorValue>;

const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [1] }] });
const answer: Out = { y: { type: 'float32', dims: [1], data: Float32Array.of(0) } };

// An upstream that is down: every call fails.
const down = (name: string) =>
  defineModel({
    name,
    infer: async (_row: Row): Promise<Out> => {
      throw new BallastError('UPSTREAM', 'the upstream is down');
    },
  });

async function serve(models: Parameters<typeof ballastRouter>[0]['models'], readinessFollowsBreakers?: boolean) {
  const router = ballastRouter({ models, ...(readinessFollowsBreakers === undefined ? {} : { readinessFollowsBreakers }) });
  const { url, server } = await listen(express().use(router));
  return { url, stop: () => router.shutdown({ server, drainTimeoutMs: 0 }) };
}

describe('readiness and circuit breakers', () => {
  it('stays ready while a fallback answers for a model whose breaker is open', async () => {
    const client = createClient({
      model: down('scored'),
      breaker: { consecutiveFailures: 1, openMs: 60_000 },
      fallback: [{ value: answer }],
    });
    const { url, stop } = await serve([client]);
    try {
      for (let i = 0; i < 3; i++) expect((await fetch(`${url}/v2/models/scored/infer`, { method: 'POST', body })).status).toBe(200);
      expect(client.breaker?.state()).toBe('open');
      const ready = await fetch(`${url}/v2/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, models: { scored: { ready: true } } });
      expect((await fetch(`${url}/v2/models/scored/ready`)).status).toBe(200);
    } finally {
      await stop();
    }
  });

  it('ties readiness to the breaker when readinessFollowsBreakers is set', async () => {
    const client = createClient({
      model: down('tied'),
      breaker: { consecutiveFailures: 1, openMs: 60_000 },
      fallback: [{ value: answer }],
    });
    const { url, stop } = await serve([client], true);
    try {
      expect((await fetch(`${url}/v2/models/tied/infer`, { method: 'POST', body })).status).toBe(200);
      expect(client.breaker?.state()).toBe('open');
      const ready = await fetch(`${url}/v2/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ models: { tied: { ready: false, reason: 'circuit breaker open' } } });
      client.breaker?.reset();
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    } finally {
      await stop();
    }
  });

  it('never changes readiness for a keyed breaker (one tenant failing)', async () => {
    const tenantOf = (row: Row) => String(row.x?.data[0]);
    const client = createClient({
      model: defineModel({
        name: 'tenants',
        infer: async (row: Row): Promise<Out> => {
          if (tenantOf(row) === '7') throw new BallastError('UPSTREAM', 'tenant 7 is broken');
          return answer;
        },
      }),
      breaker: { consecutiveFailures: 1, openMs: 60_000, key: (row) => tenantOf(row as Row) },
    });
    const { url, stop } = await serve([client]);
    try {
      const seven = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP32', data: [7] }] });
      expect((await fetch(`${url}/v2/models/tenants/infer`, { method: 'POST', body: seven })).status).toBe(502);
      expect((await fetch(`${url}/v2/models/tenants/infer`, { method: 'POST', body: seven })).status).toBe(503);
      expect(client.breaker?.state('7')).toBe('open');
      expect((await fetch(`${url}/v2/models/tenants/infer`, { method: 'POST', body })).status).toBe(200);
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    } finally {
      await stop();
    }
  });

  it('marks a model without a fallback unready while its breaker is open', async () => {
    const client = createClient({ model: down('bare'), breaker: { consecutiveFailures: 1, openMs: 60_000 } });
    const { url, stop } = await serve([client]);
    try {
      expect((await fetch(`${url}/v2/models/bare/infer`, { method: 'POST', body })).status).toBe(502);
      const ready = await fetch(`${url}/v2/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ models: { bare: { ready: false, reason: 'circuit breaker open' } } });
    } finally {
      await stop();
    }
  });
});
