/**
 * The demo's scale-out part: the weather service as two replica processes sharing one Redis (the
 * result cache, one global rate limit, the API keys) behind a round-robin proxy. The traffic shows
 *   - shared cache hits: an input computed on replica 1 is answered from the cache on replica 2;
 *   - one global rate limit: a burst through both replicas is admitted about once, not twice;
 *   - a key revoked on replica 1 is refused by replica 2.
 * Every fact in the result is counted from what the traffic saw, never assumed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { seededRandom } from '@ballast/core';
import type { WeatherDay } from './data.js';
import { redisServerBinary, startRedisServer } from './redis-server.js';
import { startRoundRobinProxy } from './round-robin-proxy.js';
import { METERED_RATE } from './service.js';
import { stationReading } from './traffic.js';

/** Cache counters of one replica's client. */
interface CacheCounters {
  hits: number;
  misses: number;
  coalesced: number;
  stale: number;
  storeErrors: number;
  /** Requests sent to the remote model: inputs this replica computed. */
  remoteRequests: number;
}

/** What the scale-out part found; `ran: false` when it could not run (no redis-server). */
export type ScaleOutSummary =
  | { ran: false; replicas: 1; reason: string }
  | {
      ran: true;
      replicas: number;
      cache: {
        /** Distinct inputs, each sent twice in a row (round robin: to the two replicas in turn). */
        inputs: number;
        /** Inputs first sent to one replica and repeated on the other. */
        repeatedOnOtherReplica: number;
        /** Repeats answered with the same body as the first answer. */
        identicalAnswers: number;
        /** Per replica: the counters' change over this part, and which requests it served. */
        byReplica: Record<string, CacheCounters & { firsts: number; repeats: number }>;
        /**
         * Repeats the replica that served only repeats answered without computing them: its
         * repeats less its requests to the remote model (each one computed on the other replica).
         */
        sharedHits: number;
      };
      rateLimit: {
        policy: { ratePerSecond: number; burst: number };
        sent: number;
        seconds: number;
        admitted: number;
        refused: number;
        /** `burst + ratePerSecond * seconds`: what one limiter admits over the burst. */
        allowance: number;
        admittedByReplica: Record<string, number>;
        refusedByReplica: Record<string, number>;
        otherStatuses: Record<string, number>;
      };
      keys: {
        /** Before the revocation: the key's answer on each replica. */
        acceptedBefore: Record<string, number>;
        revokedOn: string;
        /** After the revocation: the first answer of each replica (status and error code). */
        firstAfter: Record<string, { status: number; code?: string; afterMs: number }>;
        /** Answers 200 after the revocation, per replica. */
        acceptedAfter: Record<string, number>;
      };
      seconds: number;
    };

interface Replica {
  name: string;
  child: ChildProcess;
  url: string;
  call(command: Record<string, unknown>): Promise<Record<string, unknown>>;
}

async function startReplica(name: string, remoteUrl: string, redisUrl: string, keySecret: string): Promise<Replica> {
  const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, ['--conditions=source', join(import.meta.dirname, 'replica.ts'), remoteUrl, redisUrl], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, KEY_SECRET: keySecret },
  });
  const lines: Interface = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  let seq = 0;
  const waiting = new Map<number, { resolve(value: Record<string, unknown>): void; reject(error: Error): void }>();
  lines.on('line', (line) => {
    const answer = JSON.parse(line) as { seq: number; result?: Record<string, unknown>; error?: string };
    const pending = waiting.get(answer.seq);
    waiting.delete(answer.seq);
    if (answer.error !== undefined) pending?.reject(new Error(`${name}: ${answer.error}`));
    else pending?.resolve(answer.result ?? {});
  });
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}`,
    call: (command) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve, reject });
        child.stdin?.write(`${JSON.stringify({ ...command, seq: id })}\n`);
      }),
  };
}

interface Answer {
  status: number;
  servedBy: string;
  body: string;
  code?: string;
}

async function infer(url: string, apiKey: string, reading: readonly number[]): Promise<Answer> {
  const response = await fetch(`${url}/v2/models/weather/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'x-station': '1' },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, reading.length], datatype: 'FP32', data: reading }] }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  const answer: Answer = { status: response.status, servedBy: response.headers.get('x-served-by') ?? '?', body };
  if (response.status !== 200) {
    try {
      answer.code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
    } catch {
      answer.code = 'HTTP';
    }
  }
  return answer;
}

const count = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1;
};

function counters(raw: Record<string, unknown>): CacheCounters {
  const n = (key: string) => Number(raw[key] ?? 0);
  return {
    hits: n('hits'),
    misses: n('misses'),
    coalesced: n('coalesced'),
    stale: n('stale'),
    storeErrors: n('storeErrors'),
    remoteRequests: n('remoteRequests'),
  };
}

/**
 * Runs the scale-out part against the remote model at `remoteUrl`; `print` gets progress lines.
 * Without redis-server on PATH it answers `{ ran: false }` with the reason.
 */
export async function runScaleOut(options: {
  remoteUrl: string;
  days: readonly WeatherDay[];
  inputs: number;
  burst: number;
  print: (line: string) => void;
}): Promise<ScaleOutSummary> {
  if (redisServerBinary() === undefined) {
    return {
      ran: false,
      replicas: 1,
      reason: 'redis-server is not installed (apt-get install redis-server, or brew install redis): the scale-out part needs it',
    };
  }
  const startedAt = performance.now();
  const redis = await startRedisServer();
  const keySecret = randomBytes(32).toString('base64url');
  const replicas: Replica[] = [];
  try {
    // Each replica is kept as soon as it is up, so one that fails to start never leaves the other running.
    await Promise.all(
      ['replica-1', 'replica-2'].map(async (name) => {
        replicas.push(await startReplica(name, options.remoteUrl, redis.url, keySecret));
      }),
    );
    replicas.sort((a, b) => a.name.localeCompare(b.name));
    const proxy = await startRoundRobinProxy(replicas.map((r) => r.url));
    options.print(
      `  scale-out: redis-server ${redis.url}, 2 replicas (${replicas.map((r) => `process ${r.child.pid}`).join(', ')}), round-robin proxy ${proxy.url}`,
    );
    try {
      const [first, second] = replicas as [Replica, Replica];
      const cacheKey = String((await first.call({ op: 'create', principalId: 'dashboard' })).key);
      const meteredKey = String((await first.call({ op: 'create', principalId: 'metered-app', plan: 'metered' })).key);
      const revoked = await first.call({ op: 'create', principalId: 'leaked-app' });

      // 1. Shared cache: each input twice in a row; the round robin sends the repeat to the other replica.
      const before = await Promise.all(replicas.map(async (r) => counters(await r.call({ op: 'stats' }))));
      const random = seededRandom(21);
      const served = Object.fromEntries(replicas.map((r) => [r.name, { firsts: 0, repeats: 0 }]));
      let repeatedOnOtherReplica = 0;
      let identicalAnswers = 0;
      for (let i = 0; i < options.inputs; i++) {
        const reading = stationReading(options.days[i % options.days.length] as WeatherDay, random);
        const a = await infer(proxy.url, cacheKey, reading);
        const b = await infer(proxy.url, cacheKey, reading);
        (served[a.servedBy] as { firsts: number }).firsts++;
        (served[b.servedBy] as { repeats: number }).repeats++;
        if (a.servedBy !== b.servedBy) repeatedOnOtherReplica++;
        if (a.status === 200 && b.status === 200 && a.body === b.body) identicalAnswers++;
      }
      const after = await Promise.all(replicas.map(async (r) => counters(await r.call({ op: 'stats' }))));
      const byReplica = Object.fromEntries(
        replicas.map((r, i) => {
          const b = before[i] as CacheCounters;
          const a = after[i] as CacheCounters;
          return [
            r.name,
            {
              hits: a.hits - b.hits,
              misses: a.misses - b.misses,
              coalesced: a.coalesced - b.coalesced,
              stale: a.stale - b.stale,
              storeErrors: a.storeErrors - b.storeErrors,
              remoteRequests: a.remoteRequests - b.remoteRequests,
              ...(served[r.name] as { firsts: number; repeats: number }),
            },
          ];
        }),
      );
      // The replica that served only repeats: every answer it gave from the cache came from the other's work.
      const repeatsOnly = Object.values(byReplica).find((r) => r.firsts === 0 && r.repeats > 0);
      const sharedHits = repeatsOnly === undefined ? 0 : Math.max(0, repeatsOnly.repeats - repeatsOnly.remoteRequests);
      options.print(
        `  scale-out cache: ${options.inputs} inputs computed on one replica; the other answered ${sharedHits} of their repeats from Redis without computing`,
      );

      // 2. One global rate limit: a burst well over the metered plan's limit, through both replicas.
      const admittedByReplica: Record<string, number> = {};
      const refusedByReplica: Record<string, number> = {};
      const otherStatuses: Record<string, number> = {};
      const burstStarted = performance.now();
      let next = 0;
      const reading = stationReading(options.days[0] as WeatherDay, random);
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < options.burst) {
            next++;
            const answer = await infer(proxy.url, meteredKey, reading);
            if (answer.status === 200) count(admittedByReplica, answer.servedBy);
            else if (answer.status === 429) count(refusedByReplica, answer.servedBy);
            else count(otherStatuses, `${answer.status} ${answer.code ?? ''}`.trim());
          }
        }),
      );
      const seconds = (performance.now() - burstStarted) / 1000;
      const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
      const admitted = sum(admittedByReplica);
      const allowance = METERED_RATE.burst + METERED_RATE.ratePerSecond * seconds;
      options.print(
        `  scale-out rate limit: ${admitted} of ${options.burst} admitted in ${seconds.toFixed(2)} s over both replicas ` +
          `(one limit allows ${allowance.toFixed(0)}; a limit per replica would allow ${(2 * allowance).toFixed(0)})`,
      );

      // 3. A key revoked on replica 1 is refused by replica 2.
      const acceptedBefore: Record<string, number> = {};
      for (let i = 0; i < replicas.length; i++) {
        const answer = await infer(proxy.url, String(revoked.key), reading);
        if (answer.status === 200) count(acceptedBefore, answer.servedBy);
      }
      await first.call({ op: 'revoke', keyId: revoked.keyId });
      const revokedAt = performance.now();
      const firstAfter: Record<string, { status: number; code?: string; afterMs: number }> = {};
      const acceptedAfter: Record<string, number> = {};
      while (Object.keys(firstAfter).length < replicas.length && performance.now() - revokedAt < 3_000) {
        const answer = await infer(proxy.url, String(revoked.key), reading);
        if (answer.status === 200) count(acceptedAfter, answer.servedBy);
        firstAfter[answer.servedBy] ??= {
          status: answer.status,
          ...(answer.code === undefined ? {} : { code: answer.code }),
          afterMs: Number((performance.now() - revokedAt).toFixed(1)),
        };
      }
      const onSecond = firstAfter[second.name];
      options.print(
        `  scale-out keys: a key revoked on ${first.name} was answered ${onSecond?.status ?? 'nothing'} ${onSecond?.code ?? ''} by ${second.name}`.trimEnd(),
      );
      return {
        ran: true,
        replicas: replicas.length,
        cache: { inputs: options.inputs, repeatedOnOtherReplica, identicalAnswers, byReplica, sharedHits },
        rateLimit: {
          policy: { ...METERED_RATE },
          sent: options.burst,
          seconds: Number(seconds.toFixed(3)),
          admitted,
          refused: sum(refusedByReplica),
          allowance: Number(allowance.toFixed(1)),
          admittedByReplica,
          refusedByReplica,
          otherStatuses,
        },
        keys: { acceptedBefore, revokedOn: first.name, firstAfter, acceptedAfter },
        seconds: Number(((performance.now() - startedAt) / 1000).toFixed(1)),
      };
    } finally {
      await proxy.close();
    }
  } finally {
    await Promise.all(
      replicas.map(async (r) => {
        if (r.child.exitCode !== null || r.child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
        await r.call({ op: 'exit' }).catch(() => undefined);
        const timer = setTimeout(() => r.child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await redis.stop();
  }
}
