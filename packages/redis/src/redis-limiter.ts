/*
 * Rate limits and quotas shared by every replica, decided in Redis in one round trip.
 *
 * Why not rate-limiter-flexible (11.4.0): its Redis limiters count per fixed window (a burst of
 * twice the limit passes across a window edge) where Ballast's in-process limiter is a token
 * bucket, and a shared limit must mean the same as the local one; its "insurance" limiter is a
 * second full limiter rather than a share of this one; it reads time from each replica's clock
 * (skewed clocks disagree on windows); and it cannot race a command against the caller's deadline.
 * The bucket is a short Lua script, so it is written here: one EVALSHA per decision, time from
 * Redis `TIME`, the state in one hash per key with a TTL of a full refill.
 */
import {
  BallastError,
  FixedWindowLimiter,
  type Limiter,
  type LimiterCallOptions,
  now,
  TAKE_GRANTED,
  type TakeResult,
  TokenBucketLimiter,
} from '@ballast/core';
import { BoundedCommands, type CommandLimit } from './bounded-commands.js';
import {
  CommandTimeout,
  commandBudget,
  evalScript,
  type LuaScript,
  luaScript,
  publishStore,
  type RedisCommandClient,
  type StoreOperation,
} from './redis-limiter-command.js';

/**
 * KEYS[1] the bucket; ARGV: tokens per ms, burst, cost. Returns 0 when granted, else the wait in
 * ms until `cost` tokens are there (nothing spent). Time is Redis' own (`TIME`), so replicas
 * with skewed clocks agree; Redis 5+ replicates the script's effects, so reading TIME is allowed.
 */
export const TOKEN_BUCKET_SCRIPT: LuaScript = luaScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'v', 't')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
elseif now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
end
if tokens >= cost then
  redis.call('HSET', KEYS[1], 'v', tostring(tokens - cost), 't', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
  return 0
end
return math.max(1, math.ceil((cost - tokens) / rate))
`);

/**
 * KEYS[1] the counter; ARGV: limit, window ms, cost, mode (`take` or `left`). Windows start at
 * multiples of the window since the epoch on Redis' clock. `take` returns 0 when counted, else the
 * wait in ms until the next window; `left` returns what is left in the current window.
 */
export const FIXED_WINDOW_SCRIPT: LuaScript = luaScript(`
local limit = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = math.floor(now / size)
local state = redis.call('HMGET', KEYS[1], 'w', 'c')
local count = 0
if tonumber(state[1]) == window then count = tonumber(state[2]) end
if ARGV[4] == 'left' then return math.max(0, limit - count) end
if count + cost > limit then return math.max(1, (window + 1) * size - now) end
redis.call('HSET', KEYS[1], 'w', window, 'c', count + cost)
redis.call('PEXPIREAT', KEYS[1], (window + 1) * size + 1000)
return 0
`);

/** What a shared limiter does while Redis is down, slow or failing. */
export type LimiterFailMode = 'local' | 'open' | 'closed';

/** Options every shared limiter takes. */
export interface SharedLimiterOptions {
  /** A connected node-redis v6 client (`createClient()`); it reconnects by itself. Required. */
  client: RedisCommandClient;
  /** Prefix of the Redis keys; give each policy its own. Default `'ballast:rate:'` or `'ballast:quota:'`. */
  prefix?: string;
  /**
   * While Redis is down, slow or failing: `'local'` decides in process with this replica's share
   * of the limit (`limit / replicas`; fail-open, the default), `'open'` admits everything, and
   * `'closed'` refuses everything with `retryAfterMs` of `probeIntervalMs` (fail-closed).
   */
  whenUnavailable?: LimiterFailMode;
  /** How many replicas share the limit: the local share while Redis is away is `1 / replicas` of it. Default 1. */
  replicas?: number;
  /**
   * Most ms one Redis command may take; the caller's remaining budget caps it further. Past it the
   * decision is made locally. Default 100.
   */
  commandTimeoutMs?: number;
  /**
   * After a command failed or timed out, decide locally for this long before asking Redis again,
   * so a slow Redis costs one timeout per interval, not one per call. Default 200.
   */
  probeIntervalMs?: number;
}

/** Counters of a shared limiter. */
export interface SharedLimiterStats {
  /** Decisions made by Redis. */
  shared: number;
  /** Decisions made locally because Redis was down, slow or failing. */
  local: number;
  /** Commands that ran past their budget. */
  timeouts: number;
  /** Commands that failed. */
  errors: number;
  /** Whether the limiter decides locally now (Redis down or failing). */
  fallback: boolean;
}

/** Options of {@link redisRateLimiter}. */
export interface RedisRateLimiterOptions extends SharedLimiterOptions {
  /** Tokens added per second, per key, across all replicas. Required, > 0. */
  ratePerSecond: number;
  /** Bucket size: the most tokens a key can spend at once. Default `max(1, ratePerSecond)`. */
  burst?: number;
}

/** Options of {@link redisQuotaLimiter}. */
export interface RedisQuotaLimiterOptions extends SharedLimiterOptions {
  /** Units allowed per key in each window, across all replicas. Required, an integer >= 0. */
  limit: number;
  /** Window length, ms (windows start at multiples of it since the epoch on Redis' clock). Required, > 0. */
  windowMs: number;
}

/** A {@link Limiter} kept in Redis, with its counters. */
export interface SharedLimiter extends Limiter {
  /** Counters since creation, and whether it decides locally now. */
  stats(): SharedLimiterStats;
}

function positive(owner: string, path: string, value: unknown, min: number, integer = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new BallastError(
      'CONFIG',
      `${owner}: ${path} must be ${integer ? 'an integer' : 'a finite number'} >= ${min}, got ${String(value)}`,
      {
        details: { path },
      },
    );
  }
}

function checkShared(owner: string, options: SharedLimiterOptions): void {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', `${owner}: options must be an object`);
  const client = options.client as Partial<RedisCommandClient> | undefined;
  if (typeof client?.sendCommand !== 'function') {
    throw new BallastError('CONFIG', `${owner}: client must be a node-redis client (createClient())`, { details: { path: 'client' } });
  }
  if (options.whenUnavailable !== undefined && !['local', 'open', 'closed'].includes(options.whenUnavailable)) {
    throw new BallastError('CONFIG', `${owner}: whenUnavailable must be 'local', 'open' or 'closed'`, {
      details: { path: 'whenUnavailable' },
    });
  }
  positive(owner, 'replicas', options.replicas, 1, true);
  positive(owner, 'commandTimeoutMs', options.commandTimeoutMs, 1);
  positive(owner, 'probeIntervalMs', options.probeIntervalMs, 0);
}

/** The operations whose round trips are published on `ballast:store` (made once, not per call). */
const TAKE_OPERATION = {
  rateLimit: { store: 'rate-limit', op: 'take' },
  quota: { store: 'quota', op: 'take' },
} as const satisfies Record<string, StoreOperation>;
const AVAILABLE_OPERATION: StoreOperation = { store: 'quota', op: 'available' };

/*
 * The part both limiters share: ask Redis when it is there and the caller has time, else decide
 * locally, and remember a failure for probeIntervalMs so a down or hung Redis costs one timeout
 * per interval rather than one per call.
 */
class SharedDecisions {
  private readonly counters: SharedLimiterStats = { shared: 0, local: 0, timeouts: 0, errors: 0, fallback: false };
  private skipUntil = Number.NEGATIVE_INFINITY;
  private readonly commandTimeoutMs: number;
  private readonly probeIntervalMs: number;
  readonly mode: LimiterFailMode;
  /** Bounds every command by its budget. */
  readonly commands: BoundedCommands;

  constructor(
    readonly store: string,
    readonly client: RedisCommandClient,
    options: SharedLimiterOptions,
    private readonly local: Limiter,
  ) {
    this.commandTimeoutMs = options.commandTimeoutMs ?? 100;
    this.probeIntervalMs = options.probeIntervalMs ?? 200;
    this.mode = options.whenUnavailable ?? 'local';
    this.commands = new BoundedCommands(store);
  }

  /** Whose limit a budget from `budget()` is. */
  limitOf(budget: number): CommandLimit {
    return budget < this.commandTimeoutMs ? 'caller' : 'command';
  }

  /** Runs `script` in Redis within `budget` (from `budget()`). */
  eval(script: LuaScript, keys: string[], args: string[], budget: number, operation: StoreOperation): Promise<unknown> {
    return evalScript(this.commands, this.client, script, keys, args, budget, this.limitOf(budget), operation);
  }

  /** The budget for a command now, or 0 when the decision must be local. */
  budget(options: LimiterCallOptions | undefined): number {
    if (!this.client.isReady || now() < this.skipUntil) return 0;
    return commandBudget(options, this.commandTimeoutMs);
  }

  /**
   * One decision: `script` in Redis when a budget is left (its reply is 0 to grant, else the wait
   * in ms), this replica's share when not or when the command fails.
   */
  take(
    script: LuaScript,
    redisKey: string,
    args: string[],
    key: string,
    cost: number,
    callOptions: LimiterCallOptions | undefined,
    operation: StoreOperation,
  ): TakeResult | Promise<TakeResult> {
    const budget = this.budget(callOptions);
    if (budget <= 0) return this.takeLocally(key, cost);
    return this.eval(script, [redisKey], args, budget, operation).then(
      (reply) => {
        this.answered();
        return reply === 0 ? TAKE_GRANTED : { ok: false, retryAfterMs: Number(reply) };
      },
      (error: unknown) => {
        this.failed('take', error);
        return this.takeLocally(key, cost);
      },
    );
  }

  answered(): void {
    this.counters.shared++;
    if (this.counters.fallback) {
      this.counters.fallback = false;
      publishStore({ store: this.store, op: 'take', outcome: 'recovered' });
    }
  }

  failed(op: string, error: unknown): void {
    if (error instanceof CommandTimeout) this.counters.timeouts++;
    else this.counters.errors++;
    this.skipUntil = now() + this.probeIntervalMs;
    publishStore({ store: this.store, op, outcome: error instanceof CommandTimeout ? 'timeout' : 'error', error });
  }

  takeLocally(key: string, cost: number): TakeResult {
    this.counters.local++;
    this.counters.fallback = true;
    publishStore({ store: this.store, op: 'take', outcome: 'fallback' });
    if (this.mode === 'open') return TAKE_GRANTED;
    if (this.mode === 'closed') return { ok: false, retryAfterMs: Math.max(1, this.probeIntervalMs) };
    return this.local.take(key, cost) as TakeResult;
  }

  availableLocally(key: string): number {
    this.counters.local++;
    this.counters.fallback = true;
    publishStore({ store: this.store, op: 'available', outcome: 'fallback' });
    if (this.mode === 'open') return Number.POSITIVE_INFINITY;
    if (this.mode === 'closed') return 0;
    return this.local.available?.(key) as number;
  }

  stats(): SharedLimiterStats {
    return { ...this.counters };
  }
}

/**
 * A token-bucket rate limit shared by every replica: each decision is one EVALSHA of a Lua script
 * in Redis (time from Redis `TIME`), raced against the caller's remaining budget. While Redis is
 * down, slow or failing it decides locally with this replica's share (see `whenUnavailable`),
 * publishes `ballast:store` events and shows `fallback` in its stats; it goes back to Redis by
 * itself once the client has reconnected. Use it as `rateLimit({ limiter })` of
 * `@ballast/client` or through {@link redisLimiters} for `@ballast/guard`.
 *
 * @example
 * const redis = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
 * const limiter = redisRateLimiter({ client: redis, ratePerSecond: 100, burst: 100, replicas: 3, prefix: 'ballast:rate:fraud:' });
 * const client = createClient({ model, rateLimit: { limiter } }); // @ballast/client's createClient
 */
export function redisRateLimiter(options: RedisRateLimiterOptions): SharedLimiter {
  const owner = 'redisRateLimiter';
  checkShared(owner, options);
  if (typeof options.ratePerSecond !== 'number' || !(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
    throw new BallastError('CONFIG', `${owner}: ratePerSecond must be a finite number > 0, got ${String(options.ratePerSecond)}`, {
      details: { path: 'ratePerSecond' },
    });
  }
  positive(owner, 'burst', options.burst, 1);
  const { ratePerSecond, client, prefix = 'ballast:rate:' } = options;
  const burst = options.burst ?? Math.max(1, ratePerSecond);
  const replicas = options.replicas ?? 1;
  const local = new TokenBucketLimiter({ ratePerSecond: ratePerSecond / replicas, burst: Math.max(1, burst / replicas) });
  const decisions = new SharedDecisions('rate-limit', client, options, local);
  const rateArg = String(ratePerSecond / 1000);
  const burstArg = String(burst);
  return {
    ratePerSecond,
    burst,
    take(key = '', cost = 1, callOptions?: LimiterCallOptions): TakeResult | Promise<TakeResult> {
      if (!(cost >= 0) || cost > burst) {
        throw new BallastError('INVALID_INPUT', `rate limit cost must be between 0 and burst (${burst}), got ${cost}`, {
          details: { cost, burst },
        });
      }
      return decisions.take(
        TOKEN_BUCKET_SCRIPT,
        prefix + key,
        [rateArg, burstArg, String(cost)],
        key,
        cost,
        callOptions,
        TAKE_OPERATION.rateLimit,
      );
    },
    stats: () => decisions.stats(),
  };
}

/**
 * A fixed-window quota shared by every replica: at most `limit` units per key in each window of
 * `windowMs` on Redis' clock, counted atomically by one EVALSHA. While Redis is away it counts
 * locally with this replica's share (`limit / replicas`), as {@link redisRateLimiter} does.
 *
 * @example
 * const quota = redisQuotaLimiter({ client: redis, limit: 100_000, windowMs: 86_400_000, prefix: 'ballast:quota:' });
 * const left = await quota.available('tenant-a');
 */
export function redisQuotaLimiter(
  options: RedisQuotaLimiterOptions,
): SharedLimiter & { available(key: string, options?: LimiterCallOptions): number | Promise<number> } {
  const owner = 'redisQuotaLimiter';
  checkShared(owner, options);
  positive(owner, 'limit', options.limit, 0, true);
  if (options.limit === undefined) throw new BallastError('CONFIG', `${owner}: limit is required`, { details: { path: 'limit' } });
  if (typeof options.windowMs !== 'number' || !(options.windowMs > 0) || !Number.isFinite(options.windowMs)) {
    throw new BallastError('CONFIG', `${owner}: windowMs must be a finite number > 0, got ${String(options.windowMs)}`, {
      details: { path: 'windowMs' },
    });
  }
  const { limit, windowMs, client, prefix = 'ballast:quota:' } = options;
  const replicas = options.replicas ?? 1;
  const local = new FixedWindowLimiter({ limit: Math.floor(limit / replicas), windowMs });
  const decisions = new SharedDecisions('quota', client, options, local);
  const limitArg = String(limit);
  const windowArg = String(Math.round(windowMs));
  return {
    burst: limit,
    take(key = '', cost = 1, callOptions?: LimiterCallOptions): TakeResult | Promise<TakeResult> {
      if (!(cost >= 0)) throw new BallastError('INVALID_INPUT', `quota cost must be >= 0, got ${cost}`, { details: { cost } });
      return decisions.take(
        FIXED_WINDOW_SCRIPT,
        prefix + key,
        [limitArg, windowArg, String(cost), 'take'],
        key,
        cost,
        callOptions,
        TAKE_OPERATION.quota,
      );
    },
    available(key = '', callOptions?: LimiterCallOptions): number | Promise<number> {
      const budget = decisions.budget(callOptions);
      if (budget <= 0) return decisions.availableLocally(key);
      return decisions.eval(FIXED_WINDOW_SCRIPT, [prefix + key], [limitArg, windowArg, '0', 'left'], budget, AVAILABLE_OPERATION).then(
        (reply) => {
          decisions.answered();
          return Number(reply);
        },
        (error: unknown) => {
          decisions.failed('available', error);
          return decisions.availableLocally(key);
        },
      );
    },
    stats: () => decisions.stats(),
  };
}

/** Options of {@link redisLimiters}: the shared options, applied to every limiter it builds. */
export interface RedisLimitersOptions extends SharedLimiterOptions {}

/**
 * Builds Redis limiters for `principalLimits({ limiters })` of `@ballast/guard`: each tier's rate
 * limit becomes a {@link redisRateLimiter} and its quota a {@link redisQuotaLimiter}, under
 * `prefix` + `rate:<tier>:` or `quota:<tier>:`, so per-principal limits and quotas hold across
 * replicas.
 *
 * @example
 * const guard = createGuard({ keys, limits: { rate: { ratePerSecond: 20 }, quota: { limit: 10_000, windowMs: 86_400_000 }, limiters: redisLimiters({ client: redis }) } });
 */
export function redisLimiters(options: RedisLimitersOptions): {
  rate(policy: { ratePerSecond: number; burst?: number }, tier: string): SharedLimiter;
  quota(policy: { limit: number; windowMs: number }, tier: string): SharedLimiter;
} {
  checkShared('redisLimiters', options);
  const prefix = options.prefix ?? 'ballast:limits:';
  return {
    rate: (policy, tier) =>
      redisRateLimiter({
        ...options,
        prefix: `${prefix}rate:${tier}:`,
        ratePerSecond: policy.ratePerSecond,
        ...(policy.burst === undefined ? {} : { burst: policy.burst }),
      }),
    quota: (policy, tier) =>
      redisQuotaLimiter({ ...options, prefix: `${prefix}quota:${tier}:`, limit: policy.limit, windowMs: policy.windowMs }),
  };
}
