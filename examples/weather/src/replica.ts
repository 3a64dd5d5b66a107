/**
 * One replica of the weather service for the demo's scale-out part: the service with its result
 * cache, rate limits and API keys in Redis. It prints `{"port": n}` once listening, then answers
 * one JSON command a line on stdin with one JSON line on stdout (`seq` echoed):
 *   create { principalId, plan? } -> { key, keyId }   revoke { keyId } -> { revoked }
 *   stats -> the client's cache counters and the requests sent to the remote model               exit -> closes and exits
 *
 *   tsx src/replica.ts <remote model url> <redis url>   (KEY_SECRET in the environment)
 */
import { createInterface } from 'node:readline';
import { subscribe } from '@ballast/core';
import { startWeatherService } from './service.js';

const [remoteUrl, redisUrl] = process.argv.slice(2);
const keySecret = process.env.KEY_SECRET;
if (remoteUrl === undefined || redisUrl === undefined || keySecret === undefined) {
  console.error('usage: KEY_SECRET=... tsx src/replica.ts <remote model url> <redis url>');
  process.exit(2);
}
// Requests this replica sent to the remote model: the inputs it computed rather than found in the cache.
let remoteRequests = 0;
subscribe('httpRequest', () => {
  remoteRequests++;
});
const service = await startWeatherService({ remoteUrl, shared: { redisUrl, keySecret } });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(service.url).port) })}\n`);

interface Command {
  seq: number;
  op: 'create' | 'revoke' | 'stats' | 'exit';
  principalId?: string;
  plan?: string;
  keyId?: string;
}

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'create': {
      const { key, record } = await service.keys.create({
        principalId: command.principalId ?? 'demo-user',
        roles: ['infer'],
        ...(command.plan === undefined ? {} : { attributes: { plan: command.plan } }),
      });
      return { key, keyId: record.id };
    }
    case 'revoke':
      return { revoked: await service.keys.revoke(command.keyId ?? '') };
    case 'stats':
      return { ...(service.client.stats() as { cache?: object }).cache, remoteRequests };
    case 'exit':
      await service.close();
      setImmediate(() => process.exit(0));
      return { closed: true };
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as Command;
  run(command).then(
    (result) => process.stdout.write(`${JSON.stringify({ seq: command.seq, result })}\n`),
    (error: unknown) => process.stdout.write(`${JSON.stringify({ seq: command.seq, error: String(error) })}\n`),
  );
});
