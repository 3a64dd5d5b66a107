import { defineModel, type TensorValue } from '@ballast/core';
import { createGuard } from '@ballast/guard';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { ballastRouter } from './router.js';
import { listen } from './test-server.js';

type Row = Record<string, { data: ArrayLike<number>; dims: readonly number[] }>;

describe('graceful shutdown', () => {
  it('drains in-flight requests, answers new ones with 503, then closes models', async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = defineModel({
      name: 'slow',
      infer: async (row: Row): Promise<Record<string, TensorValue>> => {
        events.push('infer-start');
        await gate;
        events.push('infer-end');
        return { y: { type: 'float32', dims: [...(row.x?.dims ?? [])], data: Float32Array.from(row.x?.data ?? []) } };
      },
      close: async () => {
        events.push('close');
      },
    });
    const router = ballastRouter({ models: [slow], guard: createGuard({ anonymous: { id: 'anyone', roles: ['infer'] } }) });
    const app = express();
    app.use(router);
    const { url, server } = await listen(app);
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] });
    const inFlight = fetch(`${url}/v2/models/slow/infer`, { method: 'POST', body });
    while (router.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const stopping = router.shutdown({ server, drainTimeoutMs: 5000 });
    const late = await fetch(`${url}/v2/models/slow/infer`, { method: 'POST', body, headers: { connection: 'close' } });
    expect(late.status).toBe(503);
    expect(late.headers.get('retry-after')).toBe('1');
    const ready = await fetch(`${url}/v2/health/ready`, { headers: { connection: 'close' } });
    expect(ready.status).toBe(503);
    expect(events).toEqual(['infer-start']);
    release();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ outputs: [{ name: 'y', data: [1, 2] }] });
    await stopping;
    expect(events).toEqual(['infer-start', 'infer-end', 'close']);
    expect(server.listening).toBe(false);
  });

  it('mounts extra routers behind authentication and an action check', async () => {
    const guard = createGuard({
      authenticate: (credential) =>
        credential === 'admin-token'
          ? { id: 'ops', roles: ['admin'] }
          : credential === 'user-token'
            ? { id: 'u', roles: ['infer'] }
            : undefined,
    });
    const admin = express.Router();
    admin.get('/status', (_request, res) => {
      res.json({ principal: res.locals.principal.id });
    });
    const router = ballastRouter({
      models: [defineModel({ name: 'm', infer: async () => ({}) })],
      guard,
      mount: [{ path: '/admin', handler: admin }],
    });
    const app = express();
    app.use(router);
    const { url, close } = await listen(app);
    try {
      expect((await fetch(`${url}/admin/status`)).status).toBe(401);
      expect((await fetch(`${url}/admin/status`, { headers: { authorization: 'Bearer user-token' } })).status).toBe(403);
      const ok = await fetch(`${url}/admin/status`, { headers: { authorization: 'Bearer admin-token' } });
      expect(await ok.json()).toEqual({ principal: 'ops' });
    } finally {
      await close();
      await router.shutdown();
    }
  });
});
