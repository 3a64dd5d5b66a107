// docs/examples/express-handler.ts
import type { AddressInfo } from 'node:net';
import { BallastError, defineModel } from '@ballast/core';
import { errorHandler, inferHandler } from '@ballast/express';
import { createGuard } from '@ballast/guard';
import express from 'express';
import { z } from 'zod';

// Any Ballast model works; this one prices a ride and refuses far-away pickups.
const pricing = defineModel({
  name: 'pricing',
  infer: async (ride: { km: number; surge: number }) => {
    if (ride.km > 100) throw new BallastError('MODEL_UNAVAILABLE', 'no drivers that far out', { retryAfterMs: 30_000 });
    return { price: Math.round((2.5 + ride.km * 1.2) * ride.surge * 100) / 100 };
  },
});

// Without API keys here: everyone is the same anonymous principal with the `infer` role.
// Every request spends from its bucket, rejected ones included (the limit runs before parsing).
const guard = createGuard({ anonymous: { id: 'public', roles: ['infer'] }, limits: { rate: { ratePerSecond: 1, burst: 4 } } });

const app = express();
app.post('/price', inferHandler(pricing, { guard, schema: z.object({ km: z.number().positive(), surge: z.number().min(1).max(3) }) }));
app.use(errorHandler());
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/price`;

const post = async (body: string) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const retry = response.headers.get('retry-after');
  console.log(response.status, retry ? `Retry-After: ${retry}` : '', await response.text());
};

await post(JSON.stringify({ km: 12, surge: 1.5 }));
await post(JSON.stringify({ km: -1, surge: 9 })); // 400 with field paths
await post('{"km": 12,'); // malformed JSON: 400
await post(JSON.stringify({ km: 500, surge: 1 })); // the model's own error: 503 + Retry-After
await post(JSON.stringify({ km: 1, surge: 1 })); // over the rate limit: 429 + Retry-After

server.close();
