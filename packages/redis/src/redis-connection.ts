import { BallastError, channels, type InferOptions, now, remainingMs, type StoreEvent } from '@ballast/core';
import { createClient } from 'redis';
import { BoundedCommands, CommandTimeout } from './bounded-commands.js';

/** A node-redis v6 client, as `createClient({ url })` from `redis` returns it. */
export type RedisClient = ReturnType<typeof ownClient>;

/** How a store reaches Redis: a client you own, or a URL it connects to itself. */
export interface RedisConnectionOptions {
  /**
   * A node-redis client. It stays yours: connect it, give it an `error` listener and close it.
   * While it is not ready, the store is skipped (calls go on without it). The store's commands are
   * bounded by `commandTimeoutMs` (or the client's own `commandOptions.timeout` when that is set
   * and shorter), by the store itself rather than by one node-redis timer per command.
   */
  client?: RedisClient;
  /**
   * A Redis URL (`redis://127.0.0.1:6379`) when no `client` is given: the store creates the
   * client, connects it, reconnects it by itself (every 50 to 500 ms) and closes it in `close()`.
   */
  url?: string;
  /**
   * Most time one command may take, ms, before the caller goes on without Redis; a command also
   * never outlives the caller's remaining budget. Default 250.
   */
  commandTimeoutMs?: number;
}

/** What one command of a Redis-backed store came to (the command outcomes of `StoreEvent`). */
export type CommandOutcome = 'ok' | 'timeout' | 'error' | 'unavailable';

/** Counters of a Redis-backed store, by command outcome (see `StoreEvent`). */
export interface RedisStoreStats {
  /** Commands that answered. */
  ok: number;
  /** Commands that ran out of time (command timeout or the caller's budget). */
  timeout: number;
  /** Commands that failed (an error reply, a broken connection). */
  error: number;
  /** Commands not sent: not connected, or waiting for a hung server to answer again. */
  unavailable: number;
}

const PROBE_INTERVAL_MS = 100;

/**
 * The Redis side every store shares: one client, each command bounded by the caller's budget,
 * outcomes counted and published on `ballast:store`.
 *
 * Why a hung server is skipped after one timeout: while Redis is stopped (SIGSTOP, a long
 * fork, a network partition that keeps the socket open) every command would wait its full
 * timeout. After the first timeout commands are skipped until a PING answers, so calls lose only
 * their cache, not their latency.
 */
export class RedisCommands {
  readonly counters: RedisStoreStats = { ok: 0, timeout: 0, error: 0, unavailable: 0 };
  /** The client as given or created (for commands the store does not bound, the subscriber). */
  readonly client: RedisClient;
  /** The same client for the commands `run()` bounds: without node-redis' own timer per command. */
  readonly commands: RedisClient;
  private readonly commandTimeoutMs: number;
  private readonly owned: boolean;
  private hung = false;
  private readonly bounded: BoundedCommands;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly store: string,
    options: RedisConnectionOptions,
    commandTimeoutMs: number,
  ) {
    this.commandTimeoutMs = commandTimeoutMs;
    this.bounded = new BoundedCommands(
      store,
      (op, outcome, startedAt, error) => {
        this.settle(op, outcome, startedAt);
        // Only the store's own limit says something about Redis; a short caller budget does not.
        if (error instanceof CommandTimeout && error.limitedBy === 'command') this.suspectHung();
      },
      (op, error) => new BallastError('MODEL_UNAVAILABLE', `${store}: Redis ${op} failed`, { cause: error }),
    );
    if (options.client !== undefined) {
      this.client = options.client;
      this.owned = false;
      // A client given with its own, shorter command timeout keeps bounding the store's commands.
      const own = (this.client.options as { commandOptions?: { timeout?: unknown } } | undefined)?.commandOptions?.timeout;
      if (typeof own === 'number' && own > 0) this.commandTimeoutMs = Math.min(commandTimeoutMs, own);
    } else {
      this.client = ownClient(options.url as string);
      this.owned = true;
      this.client.connect().catch(() => {}); // it reconnects by itself; commands are skipped until then
    }
    // run() bounds every command (BoundedCommands: one timer for all in flight). node-redis' own per-command
    // timeout (5 s by default on a client created without commandOptions) is an
    // AbortSignal.timeout() plus two listener calls per command, about 6 µs: on a cache hit more
    // than all of Ballast's own work, so the bounded commands go through a view of the client
    // without it.
    this.commands = this.client.withCommandOptions({ timeout: 0 }) as unknown as RedisClient;
  }

  /** Whether commands are sent now (connected, and not waiting for a hung server). */
  get usable(): boolean {
    return this.client.isReady && !this.hung && !this.closed;
  }

  /**
   * Runs one command within `commandTimeoutMs` and the caller's remaining budget. Rejects with a
   * `BallastError` when Redis is not usable, fails or is late; the late command's own answer is
   * dropped. `map` turns the answer into the result as it settles (one promise per command, not
   * two, on paths as hot as a cache hit).
   */
  run<T, R = T>(op: string, options: InferOptions | undefined, command: () => Promise<T>, map?: (answer: T) => R): Promise<R> {
    if (!this.usable) {
      this.outcome(op, 'unavailable', 0);
      return Promise.reject(new BallastError('MODEL_UNAVAILABLE', `${this.store}: Redis is not available`));
    }
    const budget = Math.min(this.commandTimeoutMs, remainingMs(options));
    if (budget <= 0) {
      this.outcome(op, 'timeout', 0);
      return Promise.reject(new BallastError('TIMEOUT', `${this.store}: no budget left for Redis`));
    }
    // A cancelled call sends nothing. No abort listener per command (about 5 µs, more than the
    // rest of a hit): the call's own scope already rejects the call when its caller aborts, and
    // the command ends at its budget (the caller's deadline) at the latest.
    if (options?.signal?.aborted) {
      this.outcome(op, 'unavailable', 0);
      return Promise.reject(new BallastError('CANCELLED', `${this.store}: the call was cancelled`));
    }
    return this.bounded.run(op, budget, budget < this.commandTimeoutMs ? 'caller' : 'command', command, map) as Promise<R>;
  }

  /** Counters since creation. */
  stats(): RedisStoreStats {
    return { ...this.counters };
  }

  /** Stops probing and closes the client when the store created it. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    this.bounded.close();
    if (this.owned) this.client.destroy();
  }

  /** Counts a command that was sent, and publishes it with its round trip when anyone listens. */
  private settle(op: string, outcome: CommandOutcome, startedAt: number): void {
    this.counters[outcome]++;
    if (channels.store.hasSubscribers) {
      channels.store.publish({ store: this.store, op, outcome, durationMs: now() - startedAt } satisfies StoreEvent);
    }
  }

  private outcome(op: string, outcome: CommandOutcome, durationMs: number): void {
    this.counters[outcome]++;
    if (channels.store.hasSubscribers) channels.store.publish({ store: this.store, op, outcome, durationMs } satisfies StoreEvent);
  }

  private suspectHung(): void {
    if (this.hung) return;
    this.hung = true;
    const probe = () => {
      if (this.closed) return;
      // A PING queued behind the hung commands answers as soon as Redis does; a broken
      // connection rejects at once and is tried again until the client has reconnected.
      this.client.ping().then(
        () => {
          this.hung = false;
        },
        () => {
          this.probeTimer = setTimeout(probe, PROBE_INTERVAL_MS);
          this.probeTimer.unref?.();
        },
      );
    };
    probe();
  }
}

/**
 * A client for a URL: no offline queue (a command while disconnected fails at once instead of
 * waiting for the reconnect) and reconnects every 50 to 500 ms, so sharing resumes within about
 * half a second of Redis' return.
 */
function ownClient(url: string) {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    // The store bounds every command itself (one timer for all in flight); node-redis' own per-command
    // timeout is an AbortSignal.timeout() per command, about 6 µs each.
    commandOptions: { timeout: 0 },
    socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500) },
  });
  client.on('error', () => {}); // failures are counted per command; the client reconnects by itself
  return client;
}

/** Checks the connection options shared by every Redis store. */
export function checkConnection(factory: string, options: RedisConnectionOptions): number {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', `${factory}: options must be an object`);
  const hasClient = options.client !== undefined;
  const hasUrl = options.url !== undefined;
  if (hasClient === hasUrl)
    throw new BallastError('CONFIG', `${factory}: give exactly one of client or url`, { details: { path: 'client' } });
  if (hasClient && typeof (options.client as { sendCommand?: unknown }).sendCommand !== 'function') {
    throw new BallastError('CONFIG', `${factory}: client must be a node-redis client`, { details: { path: 'client' } });
  }
  if (hasUrl && (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))) {
    throw new BallastError('CONFIG', `${factory}: url must start with redis:// or rediss://`, { details: { path: 'url' } });
  }
  const timeout = options.commandTimeoutMs ?? 250;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new BallastError('CONFIG', `${factory}: commandTimeoutMs must be a positive number`, { details: { path: 'commandTimeoutMs' } });
  }
  return timeout;
}
