// docs/examples/streaming-express.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, remoteModel } from '@ballast/client';
import { TokenBucketLimiter } from '@ballast/core';
import { inferHandler } from '@ballast/express';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import express from 'express';

// Two stand-in OpenAI-compatible upstreams on 127.0.0.1: the primary is overloaded (503), the
// backup streams its answer word by word, then reports its usage.
let overloaded = 0;
const primary = createServer((req, res) => {
  overloaded++;
  req.resume();
  res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}');
});
const backup = createServer((req, res) => {
  req.resume();
  req.on('end', async () => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (data: unknown) => res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', ...(data as object) })}\n\n`);
    for (const word of ['Retries', ' need', ' a', ' budget.']) {
      event({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    event({ choices: [], usage: { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34 } });
    res.end('data: [DONE]\n\n');
  });
});
const urlOf = async (server: ReturnType<typeof createServer>) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
};

// The chat model: the primary with the backup as fallback, and a token allowance per principal
// (30 tokens, refilled at 1 a second): one answer of 34 tokens spends it all.
const chat = createClient({
  model: remoteModel({ protocol: 'openai', url: await urlOf(primary), name: 'big-model' }),
  fallback: [remoteModel({ protocol: 'openai', url: await urlOf(backup), name: 'small-model' })],
  stream: { firstChunkTimeoutMs: 2_000 },
  tokenLimit: { limiter: new TokenBucketLimiter({ ratePerSecond: 1, burst: 30 }) }, // keyed by principal.id
});

const keys = apiKeys({ secret: 'an-example-secret-that-is-long-enough', store: memoryKeyStore() });
const alice = (await keys.create({ principalId: 'alice', roles: ['infer'] })).key;
const bob = (await keys.create({ principalId: 'bob', roles: ['infer'] })).key;
const guard = createGuard({ keys });

const app = express();
// `{ messages, stream: true }` answers Server-Sent Events; without `stream`, JSON.
app.post('/chat', inferHandler(chat, { guard }));
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/chat`;

const ask = async (who: string, key: string) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Why cap retries?' }], stream: true }),
  });
  const retry = response.headers.get('retry-after');
  console.log(`${who}: ${response.status} ${response.headers.get('content-type')}${retry ? ` Retry-After: ${retry}` : ''}`);
  console.log((await response.text()).trimEnd());
};

await ask('alice', alice); // served by the backup, chunk by chunk, usage in the end event
await ask('alice', alice); // her allowance is spent: 429 JSON before any chunk
await ask('bob', bob); // another principal, another allowance
console.log(`the primary answered 503 to ${overloaded} requests; the backup served every stream`);

server.close();
primary.close();
backup.close();
