/*
 * One replica for the multi-process tests: its own node-redis client and its own Ballast clients
 * (createClient with rateLimit over redisRateLimiter), driven by the test over IPC. Run with tsx.
 */
import { circuitBreaker, createClient as createBallastClient } from '@ballast/client';
import { BallastError, defineModel, isBallastError, type Model, pipeline } from '@ballast/core';
import { createClient } from 'redis';
import { redisBreakerState, redisRateLimiter, type SharedLimiter } from '../src/index.js';

interface LoadCommand {
  type: 'load';
  id: number;
  key: string;
  /** Calls this replica offers per second. */
  offeredPerSecond: number;
  durationMs: number;
  /** The shared limit. */
  ratePerSecond: number;
  burst: number;
  replicas: number;
  timeoutMs?: number;
  commandTimeoutMs?: number;
}

interface BreakerSetup {
  type: 'breaker-setup';
  id: number;
  upstreamUrl: string;
  consecutiveFailures: number;
  openMs: number;
}

type Command =
  | LoadCommand
  | BreakerSetup
  | { type: 'breaker-call'; id: number }
  | { type: 'breaker-state'; id: number }
  | { type: 'stats'; id: number; key: string }
  | { type: 'exit' };

const redis = createClient({ url: process.env.REDIS_URL, socket: { reconnectStrategy: () => 100 } });
redis.on('error', () => {});
await redis.connect();

const echo = defineModel({ name: 'echo', infer: async (input: unknown) => input });
const limiters = new Map<string, { limiter: SharedLimiter; client: ReturnType<typeof createBallastClient<unknown, unknown>> }>();

function clientFor(command: LoadCommand) {
  let entry = limiters.get(command.key);
  if (entry === undefined) {
    const limiter = redisRateLimiter({
      client: redis,
      ratePerSecond: command.ratePerSecond,
      burst: command.burst,
      replicas: command.replicas,
      prefix: 'test:rate:',
      ...(command.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: command.commandTimeoutMs }),
    });
    entry = { limiter, client: createBallastClient({ model: echo, rateLimit: { limiter, key: () => command.key } }) };
    limiters.set(command.key, entry);
  }
  return entry;
}

async function load(command: LoadCommand) {
  const { client, limiter } = clientFor(command);
  let admitted = 0;
  let rejected = 0;
  let failed = 0;
  let maxOverMs = Number.NEGATIVE_INFINITY;
  let sawFallback = false;
  const calls: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  const fire = () => {
    const began = performance.now();
    calls.push(
      client
        .infer(sent, command.timeoutMs === undefined ? {} : { timeoutMs: command.timeoutMs })
        .then(
          () => {
            admitted++;
          },
          (error: unknown) => {
            if (isBallastError(error) && error.code === 'RATE_LIMITED') rejected++;
            else failed++;
          },
        )
        .finally(() => {
          if (command.timeoutMs !== undefined) maxOverMs = Math.max(maxOverMs, performance.now() - began - command.timeoutMs);
          if (limiter.stats().fallback) sawFallback = true;
        }),
    );
    sent++;
  };
  // Calls go out at a steady pace: each tick sends what the elapsed time is owed.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(performance.now() - start, command.durationMs);
      const owed = Math.floor((elapsed * command.offeredPerSecond) / 1000);
      while (sent < owed) fire();
      if (elapsed >= command.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  await Promise.all(calls);
  return { admitted, rejected, failed, sent, maxOverMs, sawFallback, stats: limiter.stats() };
}

let breaker: ReturnType<typeof circuitBreaker> | undefined;
let guarded: Model<unknown, unknown> | undefined;

function setupBreaker(command: BreakerSetup): void {
  // The upstream is a real HTTP server on 127.0.0.1 run by the test.
  const upstream = defineModel({
    name: 'upstream',
    infer: async () => {
      const response = await fetch(command.upstreamUrl);
      if (!response.ok) throw new BallastError('MODEL_UNAVAILABLE', `upstream answered ${response.status}`);
      return response.text();
    },
  });
  breaker = circuitBreaker({
    consecutiveFailures: command.consecutiveFailures,
    openMs: command.openMs,
    state: redisBreakerState({ client: redis, prefix: 'test:breaker:' }),
  });
  guarded = pipeline(upstream, breaker);
}

process.on('message', (command: Command) => {
  if (command.type === 'exit') {
    redis.destroy();
    process.exit(0);
  }
  if (command.type === 'breaker-setup') {
    setupBreaker(command);
    process.send?.({ id: command.id });
    return;
  }
  if (command.type === 'breaker-call') {
    guarded?.infer(null).then(
      () => process.send?.({ id: command.id, code: 'OK' }),
      (error: unknown) => process.send?.({ id: command.id, code: isBallastError(error) ? error.code : String(error) }),
    );
    return;
  }
  if (command.type === 'breaker-state') {
    process.send?.({ id: command.id, state: breaker?.state() });
    return;
  }
  if (command.type === 'stats') {
    process.send?.({ id: command.id, stats: limiters.get(command.key)?.limiter.stats() });
    return;
  }
  load(command).then(
    (result) => process.send?.({ id: command.id, ...result }),
    (error: unknown) => process.send?.({ id: command.id, error: String(error) }),
  );
});
process.send?.({ ready: true });
