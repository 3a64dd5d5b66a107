/*
 * What the shared limiters and breaker state need from a Redis connection, and how one command
 * runs under the caller's budget (through BoundedCommands, as every store's commands do). Kept
 * apart from the limiter so the breaker state uses the same scripts runner and the same store events.
 */
import { createHash } from 'node:crypto';
import type diagnostics from 'node:diagnostics_channel';
import { channels, type LimiterCallOptions, now, type StoreEvent } from '@ballast/core';
import { type BoundedCommands, type CommandLimit, CommandTimeout } from './bounded-commands.js';

/**
 * The part of a node-redis v6 client (`createClient()`) the limiters and breaker state use. Any
 * connected client fits; it reconnects by itself, and while it is not ready the stores decide
 * locally instead of queueing commands.
 */
export interface RedisCommandClient {
  /** Whether the connection is up and ready for commands. */
  readonly isReady: boolean;
  /** Sends one raw command. */
  sendCommand(args: string[]): Promise<unknown>;
}

/** What a store publishes on the `ballast:store` diagnostics channel (declared in `@ballast/core`). */
export type { StoreEvent };

/** The `ballast:store` channel (`channels.store` of `@ballast/core`): store round trips, failures, fallbacks and recoveries. */
export const storeChannel: diagnostics.Channel = channels.store;

/** @internal Publishes a store event when anyone listens (costs nothing otherwise). */
export function publishStore(event: StoreEvent): void {
  if (storeChannel.hasSubscribers) storeChannel.publish(event);
}

/** @internal Which store operation a command serves, so its round trip can be published. */
export interface StoreOperation {
  readonly store: string;
  readonly op: string;
}

/** @internal A Lua script with its SHA1, computed here so no SCRIPT LOAD round trip is needed. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

/** @internal */
export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** @internal Rejects a command that ran past its budget (from the one bounding mechanism of this package). */
export { CommandTimeout };

/**
 * @internal The budget of one command: half the caller's remaining time (deadline or timeoutMs),
 * capped by the store's own command timeout. Half, so a call whose command hung still has time to
 * do its own work after the local decision. 0 means "no time left: decide locally". Whose limit
 * it is: `budget < commandTimeoutMs` means the caller's.
 */
export function commandBudget(options: LimiterCallOptions | undefined, commandTimeoutMs: number): number {
  if (options?.signal?.aborted) return 0;
  let remaining = Number.POSITIVE_INFINITY;
  if (options?.deadline !== undefined) remaining = options.deadline - now();
  else if (options?.timeoutMs !== undefined) remaining = options.timeoutMs;
  return Math.max(0, Math.min(commandTimeoutMs, remaining / 2));
}

/**
 * @internal Runs EVALSHA of `script` (EVAL when Redis does not know it yet, for example after a
 * restart: EVAL caches it again) through `commands`, within `budgetMs` (`limitedBy` says whose
 * limit that is). A hung Redis never holds the caller past the budget; the command itself may
 * still run later, which a limiter tolerates (one late decision) and a breaker too (a late
 * failure count).
 */
export function evalScript(
  commands: BoundedCommands,
  client: RedisCommandClient,
  script: LuaScript,
  keys: string[],
  args: string[],
  budgetMs: number,
  limitedBy: CommandLimit,
  operation?: StoreOperation,
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args];
  const started = operation !== undefined && storeChannel.hasSubscribers ? performance.now() : undefined;
  const send = () =>
    client.sendCommand(['EVALSHA', script.sha, ...tail]).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return client.sendCommand(['EVAL', script.source, ...tail]);
      throw error;
    });
  const answered = commands.run(operation?.op ?? 'eval', budgetMs, limitedBy, send);
  if (started === undefined || operation === undefined) return answered;
  // Failures are published by the stores themselves (they also decide what to do about them).
  return answered.then((reply) => {
    publishStore({ store: operation.store, op: operation.op, outcome: 'ok', durationMs: performance.now() - started });
    return reply;
  });
}
