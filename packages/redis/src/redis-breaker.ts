/*
 * Breaker state shared by replicas (opt-in), plugged into @ballast/client's circuitBreaker through
 * its `state` option. Redis holds three short-lived keys per circuit: the failure count of the
 * current window (INCR, PX windowMs), the open marker (PX openMs) and the half-open trial lease
 * (SET NX PX). Opening and closing are broadcast on one pub/sub channel, so every replica moves
 * at once; the breaker itself stays in process and never waits on Redis except for a trial lease.
 */
import { randomUUID } from 'node:crypto';
import { BallastError, type LimiterCallOptions } from '@ballast/core';
import { BoundedCommands, CommandTimeout } from './bounded-commands.js';
import { breakerKeys } from './key-layout.js';
import {
  commandBudget,
  evalScript,
  type LuaScript,
  luaScript,
  publishStore,
  type RedisCommandClient,
  type StoreOperation,
} from './redis-limiter-command.js';

const TRIAL_OPERATION: StoreOperation = { store: 'breaker', op: 'trial' };

/** The breaker a store drives (the `BreakerStateTarget` of `@ballast/client`). */
export interface SharedBreakerTarget {
  /** Opens the circuit of `key` for `openMs`. */
  openShared(key: string, openMs: number): void;
  /** Closes the circuit of `key`. */
  closeShared(key: string): void;
}

/** A node-redis v6 client that can also open a subscriber connection (`duplicate()`). */
export interface RedisPubSubClient extends RedisCommandClient {
  /** A second connection with the same options, used for SUBSCRIBE. */
  duplicate(): {
    connect(): Promise<unknown>;
    subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
    on(event: 'error', listener: (error: unknown) => void): unknown;
    destroy(): void;
  };
}

/** Options of {@link redisBreakerState}. */
export interface RedisBreakerStateOptions {
  /** A connected node-redis v6 client; a duplicate of it subscribes to the channel. Required. */
  client: RedisPubSubClient;
  /** Prefix of the Redis keys and the channel; give each breaker its own. Default `'ballast:breaker:'`. */
  prefix?: string;
  /** Window in which failures from all replicas add up toward the threshold, ms. Default 10,000. */
  windowMs?: number;
  /** Most ms one Redis command may take (a trial lease also gets at most half the caller's budget). Default 100. */
  commandTimeoutMs?: number;
}

/** Counters of a shared breaker state. */
export interface RedisBreakerStateStats {
  /** Circuits opened here because another replica or the shared count opened them. */
  openedShared: number;
  /** Circuits closed here because another replica's trial succeeded. */
  closedShared: number;
  /** Trial leases this replica was refused (another replica holds it). */
  trialsRefused: number;
  /** Commands that failed or timed out (the breaker then acted on local state). */
  failures: number;
  /** Whether the last command failed: the breaker is acting on local state only. */
  fallback: boolean;
}

/** A breaker state store on Redis: pass it as `circuitBreaker({ state })`. */
export interface RedisBreakerState {
  /** Called by the breaker: subscribes to the channel. */
  bind(target: SharedBreakerTarget): void;
  /** Shares a circuit that opened here. */
  opened(key: string, openMs: number): void;
  /** Counts a failure across replicas. */
  failed(key: string, threshold: number, openMs: number): void;
  /** Shares a circuit that closed after a successful trial here. */
  closed(key: string): void;
  /** Takes the half-open trial lease of `key`, if no other replica holds it. */
  acquireTrial(key: string, leaseMs: number, options: LimiterCallOptions | undefined): boolean | Promise<boolean>;
  /** Counters since creation. */
  stats(): RedisBreakerStateStats;
  /** Unsubscribes (closes the subscriber connection). */
  close(): void;
}

/** KEYS: failures, open marker, trial lease. ARGV: window ms, threshold, open ms, channel, message. Returns 1 when this failure opened the circuit. */
const FAILED_SCRIPT: LuaScript = luaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1], KEYS[3])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
return 0
`);

/** KEYS: failures, open marker, trial lease. ARGV: open ms, channel, message. */
const OPENED_SCRIPT: LuaScript = luaScript(`
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`);

/** KEYS: open marker, trial lease. ARGV: lease ms, owner. 1 when leased to the owner. */
const TRIAL_SCRIPT: LuaScript = luaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[1]) then return 1 end
if redis.call('GET', KEYS[2]) == ARGV[2] then return 1 end
return 0
`);

/** KEYS: failures, trial lease. ARGV: channel, message. */
const CLOSED_SCRIPT: LuaScript = luaScript(`
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`);

/**
 * Shares a circuit breaker's state across replicas (opt-in): a circuit that opens on one replica
 * opens for the same key on the others for its `openMs` (a key with PX and a pub/sub message);
 * failures from all replicas add up in a window (INCR) so the circuit opens everywhere once the
 * breaker's `consecutiveFailures` is reached in total; and one replica at a time holds the
 * half-open trial lease, so trials are not multiplied by the replica count. When Redis is slow or
 * down, the breaker acts on its local state alone.
 *
 * @example
 * const redis = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
 * const client = createClient({ model, breaker: { consecutiveFailures: 10, openMs: 5000, state: redisBreakerState({ client: redis, prefix: 'ballast:breaker:fraud:' }) } });
 */
export function redisBreakerState(options: RedisBreakerStateOptions): RedisBreakerState {
  const owner = 'redisBreakerState';
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', `${owner}: options must be an object`);
  const { client, prefix = 'ballast:breaker:', windowMs = 10_000, commandTimeoutMs = 100 } = options;
  if (typeof client?.sendCommand !== 'function' || typeof client.duplicate !== 'function') {
    throw new BallastError('CONFIG', `${owner}: client must be a node-redis client (createClient())`, { details: { path: 'client' } });
  }
  for (const [path, value] of [
    ['windowMs', windowMs],
    ['commandTimeoutMs', commandTimeoutMs],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
      throw new BallastError('CONFIG', `${owner}: ${path} must be a finite number >= 1, got ${String(value)}`, { details: { path } });
    }
  }
  const self = randomUUID();
  const channel = `${prefix}events`;
  const counters: RedisBreakerStateStats = { openedShared: 0, closedShared: 0, trialsRefused: 0, failures: 0, fallback: false };
  // The three keys of one circuit share a hash tag: one Redis Cluster slot (key-layout.ts).
  const keysOf = (key: string) => {
    const { failures, open, trial } = breakerKeys(prefix, key);
    return [failures, open, trial];
  };
  let subscriber: ReturnType<RedisPubSubClient['duplicate']> | undefined;
  const commands = new BoundedCommands('breaker');
  const targets: SharedBreakerTarget[] = [];

  const ok = () => {
    counters.fallback = false;
  };
  const failedCommand = (op: string) => (error: unknown) => {
    counters.failures++;
    counters.fallback = true;
    publishStore({ store: 'breaker', op, outcome: error instanceof CommandTimeout ? 'timeout' : 'error', error });
  };
  // Fire-and-forget: the breaker's caller never waits for these.
  const send = (op: string, script: LuaScript, keys: string[], args: string[]) => {
    if (!client.isReady) {
      counters.fallback = true;
      publishStore({ store: 'breaker', op, outcome: 'fallback' });
      return;
    }
    evalScript(commands, client, script, keys, args, commandTimeoutMs, 'command', { store: 'breaker', op }).then(ok, failedCommand(op));
  };

  return {
    bind(target) {
      targets.push(target);
      if (subscriber !== undefined) return;
      subscriber = client.duplicate();
      subscriber.on('error', () => {});
      const connection = subscriber;
      connection
        .connect()
        .then(() =>
          connection.subscribe(channel, (message) => {
            let event: { from?: string; key?: string; openMs?: number; closed?: boolean };
            try {
              event = JSON.parse(message);
            } catch {
              return;
            }
            if (event.from === self || typeof event.key !== 'string') return;
            for (const each of targets) {
              if (event.closed === true) {
                counters.closedShared++;
                each.closeShared(event.key);
              } else if (typeof event.openMs === 'number') {
                counters.openedShared++;
                each.openShared(event.key, event.openMs);
              }
            }
          }),
        )
        .catch(failedCommand('subscribe'));
    },
    opened(key, openMs) {
      const keys = keysOf(key);
      send('open', OPENED_SCRIPT, keys, [String(Math.max(1, Math.round(openMs))), channel, JSON.stringify({ from: self, key, openMs })]);
    },
    failed(key, threshold, openMs) {
      if (!Number.isFinite(threshold)) return;
      // The message names no sender: the replica whose failure reached the threshold opens too.
      send('failure', FAILED_SCRIPT, keysOf(key), [
        String(windowMs),
        String(threshold),
        String(Math.max(1, Math.round(openMs))),
        channel,
        JSON.stringify({ key, openMs }),
      ]);
    },
    closed(key) {
      const [failures, , trial] = keysOf(key);
      send('state', CLOSED_SCRIPT, [failures as string, trial as string], [channel, JSON.stringify({ from: self, key, closed: true })]);
    },
    acquireTrial(key, leaseMs, callOptions) {
      const budget = client.isReady ? commandBudget(callOptions, commandTimeoutMs) : 0;
      if (budget <= 0) {
        counters.fallback = true;
        publishStore({ store: 'breaker', op: 'trial', outcome: 'fallback' });
        return true;
      }
      const [, open, trial] = keysOf(key);
      return evalScript(
        commands,
        client,
        TRIAL_SCRIPT,
        [open as string, trial as string],
        [String(Math.max(1, Math.round(leaseMs))), self],
        budget,
        budget < commandTimeoutMs ? 'caller' : 'command',
        TRIAL_OPERATION,
      ).then(
        (reply) => {
          ok();
          if (reply !== 1) counters.trialsRefused++;
          return reply === 1;
        },
        (error: unknown) => {
          failedCommand('trial')(error);
          return true;
        },
      );
    },
    stats: () => ({ ...counters }),
    close() {
      subscriber?.destroy();
      subscriber = undefined;
      commands.close();
    },
  };
}
