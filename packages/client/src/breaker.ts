import {
  annotate,
  BallastError,
  type BreakerState,
  callModel,
  channels,
  type InferOptions,
  isBallastError,
  type Middleware,
  type Model,
  now,
  parseOptions,
  SlidingWindow,
  toBallastError,
} from '@ballast/core';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { BreakerStateStore } from './breaker-state.js';
import { wrapModel } from './model-wrap.js';
import { functionOption, msOption, objectWith, positiveIntOption, ratioOption } from './options-check.js';

/** Options of {@link circuitBreaker}. */
export interface BreakerOptions {
  /** Open after this many failures in a row. Default 5; `0` turns the rule off. */
  consecutiveFailures?: number;
  /** Open when failures / calls in the window reach this ratio (0..1). Default off. */
  failureRatio?: number;
  /** Open when calls slower than `slowCallMs` / calls reach this ratio (0..1). Default off. */
  slowCallRatio?: number;
  /** A call taking longer than this is slow, ms. Required for `slowCallRatio`. */
  slowCallMs?: number;
  /** Sliding window for the ratios, ms. Default 10,000 (in 10 buckets). */
  windowMs?: number;
  /** Calls the window must hold before a ratio can open the breaker. Default 20. */
  minThroughput?: number;
  /** How long the breaker stays open before admitting trial calls, ms. Default 5,000. */
  openMs?: number;
  /** Trial calls admitted while half-open; all must succeed to close. Default 1. */
  halfOpenTrials?: number;
  /**
   * A trial still unsettled after this long counts as failed (an upstream that ignores its abort
   * signal must not hold the breaker half-open forever), ms. Default `max(openMs, 10_000)`.
   */
  trialTimeoutMs?: number;
  /** Whether an error counts as a failure. Default: every error except caller faults (see docs). */
  isFailure?: (error: unknown) => boolean;
  /** Separate breakers per key (for example per upstream host). Default: one breaker. */
  key?: (input: unknown, options: InferOptions | undefined) => string;
  /** Most keys tracked (LRU). Default 1,000. */
  maxKeys?: number;
  /**
   * Share circuit state across replicas (opt-in): a circuit that opens on one replica opens on the
   * others for `openMs`, failures count toward `consecutiveFailures` in total, and one replica at a
   * time runs the half-open trial. For example `redisBreakerState({ client })` of `@ballast/redis`.
   * Default: in-process state only.
   */
  state?: BreakerStateStore;
}

/** Counters and state of one breaker key. */
export interface BreakerStats {
  state: BreakerState;
  /** Failures in a row now. */
  consecutiveFailures: number;
  /** Times it opened. */
  opened: number;
  /** Calls rejected with CIRCUIT_OPEN. */
  rejected: number;
}

/** A {@link circuitBreaker} middleware with manual control. */
export interface BreakerMiddleware extends Middleware {
  /** The state of a key's breaker (default key `''`). */
  state(key?: string): BreakerState;
  /** Counters of every key. */
  stats(): Record<string, BreakerStats>;
  /** Forces a breaker open until {@link BreakerMiddleware.reset} (default key `''`). */
  isolate(key?: string): void;
  /** Closes a breaker and clears its counts; every breaker when no key is given. */
  reset(key?: string): void;
}

// Caller faults say nothing about the upstream's health.
const NOT_FAILURES = new Set([
  'INVALID_INPUT',
  'CANCELLED',
  'CIRCUIT_OPEN',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'CONFIG',
]);

function defaultIsFailure(error: unknown): boolean {
  return !(isBallastError(error) && NOT_FAILURES.has(error.code));
}

const CALLS = 0;
const FAILURES = 1;
const SLOW = 2;

interface Settings {
  consecutive: number;
  failureRatio: number;
  slowCallRatio: number;
  slowCallMs: number;
  windowMs: number;
  minThroughput: number;
  openMs: number;
  trials: number;
  trialTimeoutMs: number;
  /** Whether a ratio rule is on (the window needs every call's time). */
  windowed: boolean;
  /** Whether calls are timed (slow-call rule). */
  timed: boolean;
  isFailure: (error: unknown) => boolean;
  store: BreakerStateStore | undefined;
}

// Whether an error counts against the breaker. A predicate that throws counts it as a failure:
// a broken isFailure must not keep the breaker from ever opening.
function countsAsFailure(settings: Settings, error: unknown): boolean {
  try {
    return settings.isFailure(error) === true;
  } catch {
    return true;
  }
}

/*
 * Why not cockatiel's circuitBreaker(): it has no slow-call rule, admits one half-open trial only,
 * and has no per-key breakers. State moves lazily on calls (open -> half-open when a call arrives
 * after openMs), so a breaker costs no timer. A generation number makes calls admitted under an
 * earlier state unable to move the current one.
 */
class Circuit {
  state: BreakerState = 'closed';
  consecutiveFailures = 0;
  opened = 0;
  rejected = 0;
  /** The model name last seen, for events raised by hand. */
  model = '';
  private openUntil = 0;
  private generation = 0;
  private trialsStarted = 0;
  private trialsSucceeded = 0;
  private trialsStartedAt = 0;
  private readonly window: SlidingWindow;

  constructor(
    private readonly settings: Settings,
    readonly key: string,
  ) {
    this.window = new SlidingWindow({ windowMs: settings.windowMs, buckets: 10, counters: 3 });
  }

  /*
   * The fast path for a closed breaker with only the consecutive rule (no clock, no window): the
   * outcome is recorded by handlers bound once per breaker instead of an async frame per call. A
   * late outcome is counted against the generation current when it settles, which only matters
   * for calls admitted before the breaker last opened.
   */
  readonly onFastSuccess = (value: unknown): unknown => {
    if (this.state === 'closed') this.consecutiveFailures = 0;
    return value;
  };

  readonly onFastFailure = (thrown: unknown): never => {
    const error = toBallastError(thrown);
    const failed = countsAsFailure(this.settings, error);
    if (failed && this.state === 'closed') this.settings.store?.failed(this.key, this.settings.consecutive, this.settings.openMs);
    if (failed && this.state === 'closed' && ++this.consecutiveFailures >= this.settings.consecutive) {
      this.open('consecutive-failures', this.model, now());
    } else if (!failed && this.state === 'closed') {
      this.consecutiveFailures = 0;
    }
    throw error;
  };

  /** Returns the generation the call runs under, or -1 when rejected. Negative numbers mark trials. */
  admit(model: string): number {
    this.model = model;
    // Closed is the hot path: no clock read.
    if (this.state === 'closed') return this.generation;
    const at = now();
    if (this.state === 'open' && at >= this.openUntil) this.move('half-open', 'timer', model);
    if (this.state === 'half-open') {
      // A trial that never settled (a hung upstream ignoring its signal) must not wedge the breaker.
      if (this.trialsStarted >= this.settings.trials && at - this.trialsStartedAt >= this.settings.trialTimeoutMs) {
        this.open('half-open-failure', model, at);
        return -1;
      }
      if (this.trialsStarted < this.settings.trials) {
        if (this.trialsStarted === 0) this.trialsStartedAt = at;
        this.trialsStarted++;
        return -(this.generation + 2);
      }
    }
    return -1;
  }

  retryAfterMs(at: number): number | undefined {
    if (this.state === 'open') return Math.max(1, Math.ceil(this.openUntil - at));
    // Trials usually settle quickly; hint at most one open period, not the whole trial timeout.
    if (this.state === 'half-open')
      return Math.max(1, Math.ceil(Math.min(this.settings.openMs, this.trialsStartedAt + this.settings.trialTimeoutMs - at)));
    return undefined;
  }

  record(ticket: number, failed: boolean, durationMs: number, at: number, model: string): void {
    const trial = ticket < 0;
    const generation = trial ? -ticket - 2 : ticket;
    if (generation !== this.generation) return;
    const s = this.settings;
    if (trial) {
      if (this.state !== 'half-open') return;
      if (failed) this.open('half-open-failure', model, at);
      else if (++this.trialsSucceeded >= s.trials) {
        this.move('closed', 'trial-succeeded', model);
        s.store?.closed(this.key);
      }
      return;
    }
    if (this.state !== 'closed') return;
    const window = this.window;
    const windowed = s.windowed;
    if (windowed) window.add(CALLS, at);
    const slow = durationMs >= s.slowCallMs;
    if (slow && windowed) window.add(SLOW, at);
    if (failed) {
      if (windowed) window.add(FAILURES, at);
      s.store?.failed(this.key, s.consecutive, s.openMs);
      if (++this.consecutiveFailures >= s.consecutive) {
        this.open('consecutive-failures', model, at);
        return;
      }
    } else {
      this.consecutiveFailures = 0;
    }
    if ((!failed && !slow) || !windowed) return;
    const calls = window.sum(CALLS, at);
    if (calls < s.minThroughput) return;
    if (failed && window.sum(FAILURES, at) >= s.failureRatio * calls) this.open('failure-ratio', model, at);
    else if (slow && window.sum(SLOW, at) >= s.slowCallRatio * calls) this.open('slow-call-ratio', model, at);
  }

  open(reason: string, model: string, at: number, openMs = this.settings.openMs): void {
    this.openUntil = at + openMs;
    this.opened++;
    this.move('open', reason, model);
    if (reason !== 'shared') this.settings.store?.opened(this.key, openMs);
  }

  /** Gives back a half-open trial this replica was not allowed to run (another replica holds the lease). */
  releaseTrial(ticket: number): void {
    if (this.state === 'half-open' && -ticket - 2 === this.generation && this.trialsStarted > 0) this.trialsStarted--;
  }

  move(to: BreakerState, reason: string, model: string): void {
    const from = this.state;
    this.state = to;
    this.generation++;
    this.trialsStarted = 0;
    this.trialsSucceeded = 0;
    if (to === 'closed') {
      this.consecutiveFailures = 0;
      this.window.clear();
    }
    if (from !== to && channels.breaker.hasSubscribers) {
      channels.breaker.publish({ model, ...(this.key === '' ? {} : { key: this.key }), from, to, reason });
    }
  }
}

function defaultKey(): string {
  return '';
}

/** @internal The schema of {@link BreakerOptions}; createClient composes it as its `breaker` section. */
export const breakerOptionsSchema = z
  .strictObject({
    consecutiveFailures: z.number().int().nonnegative().optional(),
    failureRatio: ratioOption.optional(),
    slowCallRatio: ratioOption.optional(),
    slowCallMs: msOption.optional(),
    windowMs: z.number().finite().min(10).optional(),
    minThroughput: positiveIntOption.optional(),
    openMs: msOption.optional(),
    halfOpenTrials: positiveIntOption.optional(),
    trialTimeoutMs: msOption.optional(),
    isFailure: functionOption.optional(),
    key: functionOption.optional(),
    maxKeys: positiveIntOption.optional(),
    state: objectWith(['bind'], 'a BreakerStateStore').optional(),
  })
  .refine((options) => options.slowCallRatio === undefined || options.slowCallMs !== undefined, {
    message: 'slowCallRatio needs slowCallMs',
    path: ['slowCallMs'],
  });

/**
 * Stops calling a failing upstream. The breaker opens after `consecutiveFailures` failures in a
 * row, or when the failure ratio or slow-call ratio over a sliding window reaches its threshold
 * (once the window holds `minThroughput` calls). While open every call fails at once with
 * `CIRCUIT_OPEN` and `retryAfterMs`; after `openMs` it admits `halfOpenTrials` trial calls, closing
 * when all succeed and opening again on the first failure. `isolate()`/`reset()` control it by
 * hand; `key` gives separate breakers per key. Publishes `ballast:breaker` on state changes and
 * `ballast:rejection` on rejections; annotates `ballast.breaker.state`.
 *
 * @example
 * const breaker = circuitBreaker({ consecutiveFailures: 5, failureRatio: 0.5, minThroughput: 20, openMs: 10_000 });
 * const model = pipeline(remote, breaker);
 * breaker.state(); // 'closed'
 */
export function circuitBreaker(options: BreakerOptions = {}): BreakerMiddleware {
  return circuitBreakerFromParsed(parseOptions('circuitBreaker', breakerOptionsSchema, options) as BreakerOptions);
}

/** @internal {@link circuitBreaker} from options already parsed with {@link breakerOptionsSchema} (createClient's section). */
export function circuitBreakerFromParsed(options: BreakerOptions): BreakerMiddleware {
  const consecutive = options.consecutiveFailures ?? 5;
  const settings: Settings = {
    consecutive: consecutive === 0 ? Number.POSITIVE_INFINITY : consecutive,
    failureRatio: options.failureRatio ?? 2,
    slowCallRatio: options.slowCallRatio ?? 2,
    slowCallMs: options.slowCallMs ?? Number.POSITIVE_INFINITY,
    windowMs: options.windowMs ?? 10_000,
    minThroughput: options.minThroughput ?? 20,
    openMs: options.openMs ?? 5000,
    trials: options.halfOpenTrials ?? 1,
    trialTimeoutMs: options.trialTimeoutMs ?? Math.max(options.openMs ?? 5000, 10_000),
    isFailure: options.isFailure ?? defaultIsFailure,
    store: options.state,
    windowed: options.failureRatio !== undefined || options.slowCallRatio !== undefined,
    timed: options.slowCallMs !== undefined,
  };
  const keyOf = options.key ?? defaultKey;
  const fast = !settings.timed && !settings.windowed;
  const keyed = options.key !== undefined;
  const single = new Circuit(settings, '');
  const circuits = new LRUCache<string, Circuit>({ max: options.maxKeys ?? 1000 });
  const circuitFor = (key: string): Circuit => {
    if (!keyed) return single;
    let circuit = circuits.get(key);
    if (circuit === undefined) {
      circuit = new Circuit(settings, key);
      circuits.set(key, circuit);
    }
    return circuit;
  };
  if (options.state !== undefined) {
    options.state.bind({
      openShared(key, openMs) {
        if (!keyed && key !== '') return;
        const circuit = circuitFor(key);
        if (circuit.state === 'isolated' || circuit.state === 'open') return;
        circuit.open('shared', circuit.model, now(), openMs);
      },
      closeShared(key) {
        if (!keyed && key !== '') return;
        const circuit = keyed ? circuits.peek(key) : single;
        if (circuit !== undefined && (circuit.state === 'half-open' || circuit.state === 'open'))
          circuit.move('closed', 'shared', circuit.model);
      },
    });
  }

  // The clock is read only when a rule needs it: a closed breaker with the consecutive rule alone
  // costs no clock read on a successful call.
  async function guarded<I, O>(
    next: Model<I, O>,
    circuit: Circuit,
    ticket: number,
    input: I,
    callOptions: InferOptions | undefined,
  ): Promise<O> {
    const start = settings.timed ? now() : 0;
    let value: O;
    try {
      value = await callModel(next, input, callOptions);
    } catch (thrown) {
      // Classified on the failure path (an SDK's HTTP 400 is INVALID_INPUT, not a failure).
      const error = toBallastError(thrown);
      const failed = countsAsFailure(settings, error);
      const at = now();
      circuit.record(ticket, failed, settings.timed ? at - start : 0, at, next.name);
      throw error;
    }
    const at = settings.timed || settings.windowed || ticket < 0 ? now() : 0;
    circuit.record(ticket, false, settings.timed ? at - start : 0, at, next.name);
    return value;
  }

  const middleware = function breakerMiddleware<I, O>(next: Model<I, O>): Model<I, O> {
    const name = next.name;
    return wrapModel(next, function breaking(input: I, callOptions?: InferOptions): Promise<O> {
      let circuit: Circuit;
      try {
        circuit = keyed ? circuitFor(keyOf(input, callOptions)) : single;
      } catch (error) {
        return Promise.reject(new BallastError('INVALID_INPUT', 'circuitBreaker: key function failed', { cause: error }));
      }
      const ticket = circuit.admit(name);
      annotate(callOptions, 'ballast.breaker.state', circuit.state);
      if (ticket >= 0 && fast) return callModel(next, input, callOptions).then(circuit.onFastSuccess, circuit.onFastFailure) as Promise<O>;
      if (ticket < -1 && settings.store !== undefined) {
        // A half-open trial: with shared state, one replica at a time holds the trial lease.
        const leased = settings.store.acquireTrial(circuit.key, settings.trialTimeoutMs, callOptions);
        if (leased === true) return guarded(next, circuit, ticket, input, callOptions);
        const held = circuit;
        return Promise.resolve(leased).then((granted) => {
          if (granted) return guarded(next, held, ticket, input, callOptions);
          held.releaseTrial(ticket);
          return Promise.reject(openError(name, held));
        });
      }
      if (ticket !== -1) return guarded(next, circuit, ticket, input, callOptions);
      return Promise.reject(openError(name, circuit));
    });
  } as BreakerMiddleware;

  function openError(name: string, circuit: Circuit): BallastError {
    circuit.rejected++;
    if (channels.rejection.hasSubscribers) {
      channels.rejection.publish({ model: name, code: 'CIRCUIT_OPEN', source: 'breaker', ...(keyed ? { key: circuit.key } : {}) });
    }
    const retryAfterMs = circuit.retryAfterMs(now());
    return new BallastError('CIRCUIT_OPEN', `circuit of "${name}"${keyed ? ` for "${circuit.key}"` : ''} is ${circuit.state}`, {
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      details: { state: circuit.state, ...(keyed ? { key: circuit.key } : {}) },
    });
  }
  middleware.state = (key = '') => (keyed ? (circuits.peek(key)?.state ?? 'closed') : single.state);
  middleware.stats = () => {
    const out: Record<string, BreakerStats> = {};
    const all = keyed ? [...circuits.values()] : [single];
    for (const c of all)
      out[c.key] = { state: c.state, consecutiveFailures: c.consecutiveFailures, opened: c.opened, rejected: c.rejected };
    return out;
  };
  middleware.isolate = (key = '') => {
    const c = circuitFor(key);
    c.move('isolated', 'isolate', c.model);
  };
  middleware.reset = (key?: string) => {
    const all = key !== undefined ? [circuitFor(key)] : keyed ? [...circuits.values()] : [single];
    for (const c of all) c.move('closed', 'reset', c.model);
  };
  return middleware;
}
