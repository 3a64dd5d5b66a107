// docs/examples/balance-servers.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { balance, createClient, remoteModel } from '@ballast/client';
import { subscribe } from '@ballast/core';

// Three model servers on 127.0.0.1: a fast one, a slow one (40 ms) and one failing every other call.
async function modelServer(id: string, delayMs: number, failing: (n: number) => boolean) {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const fail = failing(++n);
      setTimeout(() => {
        if (fail) res.writeHead(500).end('{}');
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ label: 'ok', server: id }));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { id, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/predict` };
}
const servers = [
  await modelServer('fast', 1, () => false),
  await modelServer('slow', 40, () => false),
  await modelServer('failing', 1, (n) => n % 2 === 0),
];

const stop = subscribe('balance', (e) => {
  if (e.action === 'ejected') console.log(`ejected ${e.endpoint} (${e.reason}) for ${e.durationMs} ms`);
});

type Answer = { label: string; server: string };
const model = balance({
  name: 'classifier',
  endpoints: servers.map((s) => ({ id: s.id, model: remoteModel<{ text: string }, Answer>({ name: 'classifier', url: s.url }) })),
});
// A balanced model is a Model: wrap it in a client like any other.
const client = createClient({ model, timeoutMs: 1_000, retry: { maxAttempts: 2, baseDelayMs: 5 } });

const served = new Map<string, number>();
let failed = 0;
for (let round = 0; round < 50; round++) {
  const answers = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => client.infer({ text: `review ${round}-${i}` })));
  for (const answer of answers) {
    if (answer.status === 'fulfilled') served.set(answer.value.server, (served.get(answer.value.server) ?? 0) + 1);
    else failed++;
  }
}
console.log('answers by server:', Object.fromEntries(served), `failed: ${failed}`);
for (const e of model.stats().endpoints) {
  console.log(`${e.id}: ${e.calls} calls, ${e.failures} failures, latency ${e.ewmaMs?.toFixed(1)} ms, ejected: ${e.ejected}`);
}
const health = await model.health();
console.log(`health: ${health.status}${health.message ? ` (${health.message})` : ''}`);

stop();
await client.close?.();
for (const { server } of servers) server.close();
