/*
 * One replica of a service for the Redis key store tests: its own Redis client, key store and
 * api-keys verifier. Reads one JSON command a line on stdin and answers one JSON line on stdout.
 *   argv: <redis url> <staleForMs> <verification cache ttlMs>
 */
import { createInterface } from 'node:readline';
import { isBallastError } from '@ballast/core';
import { apiKeys } from '@ballast/guard';
import { redisKeyStore } from '@ballast/redis';

const [url, staleForMs, cacheTtlMs] = process.argv.slice(2);
const store = redisKeyStore({ url, staleForMs: Number(staleForMs), commandTimeoutMs: 100 });
const keys = apiKeys({ secret: 'a-server-secret-of-at-least-32-bytes', store, cache: { ttlMs: Number(cacheTtlMs) } });

interface Command {
  seq: number;
  op: 'create' | 'revoke' | 'rotate' | 'verify' | 'until-refused' | 'until-accepted' | 'exit';
  principalId?: string;
  keyId?: string;
  key?: string;
  limitMs?: number;
}

type Outcome = { ok: true; principal: string } | { ok: false; code: string; reason?: string };

async function verify(key: string): Promise<Outcome> {
  try {
    const principal = await keys.verify(key, { deadline: performance.now() + 200 });
    return { ok: true, principal: principal.id };
  } catch (error) {
    if (!isBallastError(error)) throw error;
    return { ok: false, code: error.code, reason: error.details?.reason as string | undefined };
  }
}

/** Verifies every millisecond until the outcome is the wanted one; answers when it was first seen. */
async function until(key: string, accepted: boolean, limitMs: number): Promise<{ at: number; outcome: Outcome }> {
  const end = Date.now() + limitMs;
  for (;;) {
    const outcome = await verify(key);
    if (outcome.ok === accepted || Date.now() >= end) return { at: Date.now(), outcome };
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'create': {
      const { key, record } = await keys.create({ principalId: command.principalId ?? 'app', roles: ['infer'] });
      return { key, keyId: record.id };
    }
    case 'revoke':
      return { revoked: await keys.revoke(command.keyId ?? ''), at: Date.now() };
    case 'rotate': {
      const { key, record } = await keys.rotate(command.keyId ?? '');
      return { key, keyId: record.id, at: Date.now() };
    }
    case 'verify': {
      const started = performance.now();
      const outcome = await verify(command.key ?? '');
      return { ...outcome, ms: performance.now() - started };
    }
    case 'until-refused':
      return until(command.key ?? '', false, command.limitMs ?? 1000);
    case 'until-accepted':
      return until(command.key ?? '', true, command.limitMs ?? 1000);
    case 'exit':
      keys.close();
      await store.close();
      setImmediate(() => process.exit(0));
      return { bye: true };
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line) as Command;
  run(command).then(
    (result) => process.stdout.write(`${JSON.stringify({ seq: command.seq, result })}\n`),
    (error: unknown) =>
      process.stdout.write(
        `${JSON.stringify({ seq: command.seq, error: isBallastError(error) ? error.code : String(error), message: String(error) })}\n`,
      ),
  );
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
