import {
  attemptMemo,
  BallastError,
  callModel,
  channels,
  doneError,
  type HealthReport,
  type InferOptions,
  isBallastError,
  type Model,
  parseOptions,
} from '@ballast/core';
import { z } from 'zod';
import { functionOption, msOption, positiveIntOption, ratioOption } from '../options-check.js';
import { EndpointState } from './endpoint-state.js';
import { p2cEwma } from './p2c-ewma.js';
import { randomChoice } from './random-choice.js';
import { roundRobin } from './round-robin.js';
import type { BalanceStrategy } from './strategy.js';
import { weighted } from './weighted.js';

/** One endpoint of a balanced model. */
export interface BalanceEndpoint<I = unknown, O = unknown> {
  /** Stable id, unique in the set (a URL, a host name). Defaults to the model's name. */
  id?: string;
  /** The endpoint itself: a `remoteModel`, an ONNX model, a client: any `Model`. */
  model: Model<I, O>;
  /** Relative capacity, > 0: the `weighted` strategy's share (P2C reads capacity from latencies). Default 1. */
  weight?: number;
  /** Price of one call, for the `cost-aware` strategy. Default 0. */
  cost?: number;
}

/** An endpoint as a discovery source lists it; `connect` turns it into a model. */
export interface DiscoveredEndpoint {
  /** Stable id (an address). An id seen before keeps its endpoint; a new one is connected. */
  id: string;
  /** Relative capacity, > 0: the `weighted` strategy's share (P2C reads capacity from latencies). Default 1. */
  weight?: number;
  /** Price of one call. Default 0. */
  cost?: number;
}

/** Service discovery for {@link balance}. */
export interface BalanceDiscovery<I, O> {
  /** Lists the endpoints that should serve now. A failed or invalid listing keeps the current set. */
  list: () => Promise<readonly DiscoveredEndpoint[]> | readonly DiscoveredEndpoint[];
  /** Builds the model for a newly listed endpoint. */
  connect: (endpoint: DiscoveredEndpoint) => Model<I, O>;
  /** How often to list again, ms; 0 lists only on `refresh()`. Default 30,000. */
  intervalMs?: number;
}

/** Outlier ejection (after Envoy's outlier detection). */
export interface OutlierOptions {
  /** Failures in a row that eject an endpoint. Default 5. */
  consecutiveFailures?: number;
  /** Outcomes per endpoint the error ratio is computed over (the last N calls). Default 20. */
  windowSize?: number;
  /** Calls an endpoint must have in its window before its error ratio counts. Default 10. */
  minRequests?: number;
  /** Error ratio at or above which an endpoint may be ejected. Default 0.2. */
  minErrorRatio?: number;
  /**
   * How far above the other endpoints' error ratio an endpoint's must be to be ejected, so a
   * failure common to every endpoint (a bad input stream) ejects none, and the noise of small
   * windows does not eject a healthy one. Default 0.2.
   */
  errorRatioMargin?: number;
  /** First ejection, ms; each ejection in a row doubles it. Default 1,000. */
  baseEjectionMs?: number;
  /** Longest ejection, ms; an endpoint that stays in this long starts over at `baseEjectionMs`. Default 30,000. */
  maxEjectionMs?: number;
  /** Most of the set ejected at once, as a share (at least one endpoint of two or more may be). Default 0.5. */
  maxEjectedShare?: number;
}

/** Balance's own retry on another endpoint. */
export interface BalanceRetryOptions {
  /** Attempts in all, on distinct endpoints. Default 2. */
  maxAttempts?: number;
  /**
   * Whether a failure may be retried on another endpoint. Default: endpoint failures (see
   * `isFailure`) except `TIMEOUT` (the budget is spent).
   */
  shouldRetry?: (error: unknown) => boolean;
}

/** A strategy by name, or an instance (see `p2cEwma`, `roundRobin`, `weighted`, `randomChoice`, `costAware`). */
export type BalanceStrategyOption = 'p2c-ewma' | 'round-robin' | 'weighted' | 'random' | BalanceStrategy;

/** Options of {@link balance}. */
export interface BalanceOptions<I, O> {
  /** Name of the balanced model (errors, events, metrics). */
  name: string;
  /** The static set of endpoints (models, or endpoints with id, weight and cost). */
  endpoints?: readonly (Model<I, O> | BalanceEndpoint<I, O>)[];
  /** Service discovery, instead of or besides `endpoints`. */
  discovery?: BalanceDiscovery<I, O>;
  /** How to choose. Default `p2c-ewma`. */
  strategy?: BalanceStrategyOption;
  /**
   * Decay time of the peak-EWMA latency, ms. Default 100: model calls take milliseconds, and a
   * longer decay (Finagle uses 10 s for RPCs) keeps one stall, such as a connection set-up or a
   * pause of the event loop, on an endpoint's books for seconds.
   */
  decayMs?: number;
  /**
   * How often an idle endpoint is probed, ms: an endpoint with no call in flight that has neither
   * answered nor been sent a call for this long gets the next call it is compared for (P2C,
   * cost-aware), once, to refresh its latency. Readings change only with answers, so without
   * probes an endpoint that was slow once would never be tried again; with them, a slow endpoint
   * costs at most one call per interval. Default 1,000.
   *
   * The interval doubles with each probe in a row that leaves the endpoint where it was (it still
   * wins no call and did not answer in less than half its reading), up to `probeMaxIntervalMs`,
   * and falls back to `probeIntervalMs` as soon as it wins a call or a probe shows it faster.
   */
  probeIntervalMs?: number;
  /**
   * The longest interval between probes of an idle endpoint, ms, reached after probes in a row
   * confirmed its reading (see `probeIntervalMs`): the longest a slow endpoint that has sped up
   * can go unnoticed, and what bounds the share of calls a slow endpoint takes as probes. Set it
   * to `probeIntervalMs` for one probe per interval always. Default 16 × `probeIntervalMs`.
   */
  probeMaxIntervalMs?: number;
  /** How long an added or restored endpoint ramps up, ms; 0 for none. Default 10,000. */
  slowStartMs?: number;
  /** Share of its weight a slow-starting endpoint begins with, in (0, 1]. Default 0.1. */
  slowStartMinFactor?: number;
  /** Outlier ejection, or `false` for none. */
  outlier?: OutlierOptions | false;
  /** Retry a failed call on another endpoint, or `false` for none. Default `{ maxAttempts: 2 }`. */
  retry?: BalanceRetryOptions | false;
  /**
   * Whether an error counts against the endpoint (ejection, latency penalty). Default: every
   * error except `INVALID_INPUT`, `PAYLOAD_TOO_LARGE` and `CANCELLED` (the caller's doing).
   */
  isFailure?: (error: unknown) => boolean;
  /** Close an endpoint's model when it leaves the set, and every model on `close()`. Default true. */
  closeEndpoints?: boolean;
  /** Clock, ms. Default `performance.now`. */
  clock?: () => number;
  /** Random source in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Numbers of one endpoint. */
export interface BalanceEndpointStats {
  id: string;
  weight: number;
  cost: number;
  /** Calls in flight. */
  outstanding: number;
  /** Calls sent to it. */
  calls: number;
  /** Calls that failed on it. */
  failures: number;
  /** Peak-EWMA latency, ms (`undefined` before the first answer). */
  ewmaMs: number | undefined;
  /** Whether it is ejected now. */
  ejected: boolean;
  /** Ejections in the current run of trouble. */
  ejections: number;
  /** Slow-start factor now (1 when fully ramped). */
  slowStart: number;
  /** Whether it is leaving the set (no new calls; in-flight calls finish). */
  draining: boolean;
}

/** Numbers of a balanced model. */
export interface BalanceStats {
  strategy: string;
  /** Endpoints that can take calls now. */
  available: number;
  endpoints: BalanceEndpointStats[];
  /** Calls retried on another endpoint by balance itself. */
  retries: number;
}

/** A {@link balance}d model: a `Model` over a set of endpoints that can change at run time. */
export interface BalancedModel<I, O> extends Model<I, O> {
  /** Adds an endpoint; it takes traffic through slow start. Fails with CONFIG on a duplicate id. */
  add(endpoint: Model<I, O> | BalanceEndpoint<I, O>): void;
  /** Removes an endpoint: no new calls go to it; resolves once its in-flight calls have settled. */
  remove(id: string): Promise<void>;
  /** Lists the discovery source now and applies the difference. */
  refresh(): Promise<void>;
  /** Ready while any endpoint can take calls (and reports itself ready); degraded while some cannot. */
  health(): Promise<HealthReport>;
  /** Per-endpoint numbers. */
  stats(): BalanceStats;
  /** Stops discovery, waits for in-flight calls and closes the endpoints' models. */
  close(): Promise<void>;
}

/** What balance remembers of one logical call across its attempts (in the call's attempt memo). */
interface CallRecord {
  /** Endpoints the call failed on. */
  failed: EndpointState[];
  /** Endpoints working on the call now (a hedge's primary). */
  active: EndpointState[];
}

function defaultIsFailure(error: unknown): boolean {
  if (!isBallastError(error)) return true;
  return error.code !== 'INVALID_INPUT' && error.code !== 'PAYLOAD_TOO_LARGE' && error.code !== 'CANCELLED';
}

function resolveStrategy(option: BalanceStrategyOption | undefined): BalanceStrategy {
  if (option === undefined || option === 'p2c-ewma') return p2cEwma();
  if (option === 'round-robin') return roundRobin();
  if (option === 'weighted') return weighted();
  if (option === 'random') return randomChoice();
  if (typeof option === 'object' && option !== null && typeof option.choose === 'function' && typeof option.name === 'string')
    return option;
  throw new BallastError('CONFIG', `balance: strategy must be "p2c-ewma", "round-robin", "weighted", "random" or a strategy object`, {
    details: { path: 'strategy' },
  });
}

function removeFrom<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}

class Balancer<I, O> {
  readonly endpoints: EndpointState<I, O>[] = [];
  /** Endpoints that can take calls: not ejected, not draining. Rebuilt on every change. */
  available: EndpointState<I, O>[] = [];
  retries = 0;
  private nextRestoreAt = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly outlier: Required<OutlierOptions> | undefined;
  private readonly maxAttempts: number;
  private readonly shouldRetry: (error: unknown) => boolean;

  constructor(
    readonly name: string,
    readonly strategy: BalanceStrategy,
    private readonly options: BalanceOptions<I, O>,
    private readonly clock: () => number,
    private readonly random: () => number,
    private readonly isFailure: (error: unknown) => boolean,
  ) {
    const outlier = options.outlier;
    this.outlier =
      outlier === false
        ? undefined
        : {
            consecutiveFailures: outlier?.consecutiveFailures ?? 5,
            windowSize: outlier?.windowSize ?? 20,
            minRequests: outlier?.minRequests ?? 10,
            minErrorRatio: outlier?.minErrorRatio ?? 0.2,
            errorRatioMargin: outlier?.errorRatioMargin ?? 0.2,
            baseEjectionMs: outlier?.baseEjectionMs ?? 1000,
            maxEjectionMs: outlier?.maxEjectionMs ?? 30_000,
            maxEjectedShare: outlier?.maxEjectedShare ?? 0.5,
          };
    const retry = options.retry;
    this.maxAttempts = retry === false ? 1 : (retry?.maxAttempts ?? 2);
    const shouldRetry = retry === false ? undefined : retry?.shouldRetry;
    this.shouldRetry = shouldRetry ?? ((error) => this.isFailure(error) && !(isBallastError(error) && error.code === 'TIMEOUT'));
  }

  add(endpoint: Model<I, O> | BalanceEndpoint<I, O>, slowStart: boolean): void {
    if (this.closed) throw new BallastError('CONFIG', `balance(${this.name}): closed`);
    const spec = endpointSpec(this.name, endpoint);
    if (this.endpoints.some((e) => e.id === spec.id)) {
      throw new BallastError('CONFIG', `balance(${this.name}): endpoint "${spec.id}" is already in the set`, { details: { id: spec.id } });
    }
    const state = new EndpointState<I, O>(
      spec.id,
      spec.model,
      spec.weight,
      spec.cost,
      this.options.decayMs ?? 100,
      this.options.slowStartMs ?? 10_000,
      this.options.slowStartMinFactor ?? 0.1,
      this.outlier?.windowSize ?? 1,
      this.options.probeIntervalMs ?? 1000,
      this.options.probeMaxIntervalMs ?? 16 * (this.options.probeIntervalMs ?? 1000),
    );
    if (slowStart) state.startSlowStart(this.clock());
    this.endpoints.push(state);
    this.rebuild();
    this.publish(state, 'added');
  }

  async remove(id: string): Promise<void> {
    const state = this.endpoints.find((e) => e.id === id);
    if (state === undefined) throw new BallastError('NOT_FOUND', `balance(${this.name}): no endpoint "${id}"`, { details: { id } });
    if (!state.draining) {
      state.draining = true;
      this.rebuild();
    }
    if (state.outstanding > 0) await new Promise<void>((resolve) => (state.drained = resolve));
    if (!this.endpoints.includes(state)) return;
    removeFrom(this.endpoints, state);
    this.publish(state, 'removed');
    if (this.options.closeEndpoints !== false) await state.model.close?.();
  }

  private rebuild(): void {
    this.available = this.endpoints.filter((e) => !e.ejected && !e.draining);
  }

  /** Brings back endpoints whose ejection is over (checked lazily, when a call comes). */
  private restoreDue(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    let changed = false;
    for (const e of this.endpoints) {
      if (!e.ejected) continue;
      if (e.ejectedUntil <= now) {
        e.ejectedUntil = 0;
        e.restoredAt = now;
        e.clearWindow();
        e.startSlowStart(now);
        changed = true;
      } else if (e.ejectedUntil < next) {
        next = e.ejectedUntil;
      }
    }
    this.nextRestoreAt = next;
    if (changed) {
      this.rebuild();
      for (const e of this.endpoints) if (e.restoredAt === now) this.publish(e, 'restored');
    }
  }

  private pick(now: number, avoid: readonly EndpointState[] | undefined, strict: boolean): EndpointState<I, O> | undefined {
    if (now >= this.nextRestoreAt) this.restoreDue(now);
    let candidates = this.available;
    if (avoid !== undefined && avoid.length > 0) {
      const rest = candidates.filter((e) => !avoid.includes(e));
      if (rest.length > 0) candidates = rest;
      else if (strict) return undefined;
    }
    if (candidates.length === 0) {
      // Everything is ejected (the share cap makes this rare) or draining: an ejected endpoint is
      // better than none.
      const fallback = this.endpoints.filter((e) => !e.draining && !(avoid ?? []).includes(e));
      if (fallback.length === 0) return undefined;
      candidates = fallback;
    }
    return this.strategy.choose(candidates, now, this.random) as EndpointState<I, O>;
  }

  async infer(input: I, options: InferOptions | undefined): Promise<O> {
    const memo = attemptMemo(options);
    let record = memo?.get(this) as CallRecord | undefined;
    let tried: EndpointState[] | undefined;
    for (let attempt = 1; ; attempt++) {
      const now = this.clock();
      let avoid: EndpointState[] | undefined = tried;
      if (record !== undefined)
        avoid = avoid === undefined ? [...record.failed, ...record.active] : [...avoid, ...record.failed, ...record.active];
      const endpoint = this.pick(now, avoid, attempt > 1);
      if (endpoint === undefined) {
        throw new BallastError('MODEL_UNAVAILABLE', `balance(${this.name}): no endpoint can take the call`, {
          retryable: true,
          details: { endpoints: this.endpoints.length },
        });
      }
      if (channels.balance.hasSubscribers) this.publish(endpoint, 'chosen', now);
      const probe = endpoint.sending(now);
      const inFlight = endpoint.outstanding++;
      endpoint.calls++;
      if (memo !== undefined) {
        if (record === undefined) {
          record = { failed: [], active: [] };
          memo.set(this, record);
        }
        record.active.push(endpoint);
      }
      try {
        const value = await callModel(endpoint.model, input, options);
        this.succeeded(endpoint, now, inFlight, probe);
        return value;
      } catch (error) {
        const failed = this.failed(endpoint, now, inFlight, probe, error);
        if (failed && record !== undefined) record.failed.push(endpoint);
        if (attempt >= this.maxAttempts || !failed || doneError(options) !== undefined || !this.safeShouldRetry(error)) throw error;
        if (tried === undefined) tried = [];
        tried.push(endpoint);
        this.retries++;
      } finally {
        if (record !== undefined) removeFrom(record.active, endpoint);
        if (--endpoint.outstanding === 0 && endpoint.drained !== undefined) {
          const drained = endpoint.drained;
          endpoint.drained = undefined;
          drained();
        }
      }
    }
  }

  private safeShouldRetry(error: unknown): boolean {
    try {
      return this.shouldRetry(error) === true;
    } catch {
      return false;
    }
  }

  private succeeded(endpoint: EndpointState, started: number, inFlight: number, probe: boolean): void {
    const now = this.clock();
    endpoint.observe(now - started, now, inFlight, probe);
    endpoint.consecutiveFailures = 0;
    if (this.outlier !== undefined) {
      endpoint.record(false);
      if (endpoint.windowFailures > 0) this.checkOutlier(endpoint, now);
    }
  }

  /** Books a failure; returns whether it counts against the endpoint. */
  private failed(endpoint: EndpointState, started: number, inFlight: number, probe: boolean, error: unknown): boolean {
    let counts: boolean;
    try {
      counts = this.isFailure(error) === true;
    } catch {
      counts = true;
    }
    if (!counts) return false;
    const now = this.clock();
    endpoint.failures++;
    endpoint.consecutiveFailures++;
    // A failure is charged at least twice the endpoint's latency, so a fast-failing endpoint does
    // not attract traffic while the outlier detector counts.
    const charged = Math.max(now - started, 2 * (endpoint.ewmaMs ?? 0));
    endpoint.observe(charged, now, inFlight, probe);
    if (this.outlier !== undefined) {
      endpoint.record(true);
      this.checkOutlier(endpoint, now);
    }
    return true;
  }

  private checkOutlier(endpoint: EndpointState, now: number): void {
    const outlier = this.outlier as Required<OutlierOptions>;
    if (endpoint.ejected || endpoint.draining) return;
    let reason: string | undefined;
    if (endpoint.consecutiveFailures >= outlier.consecutiveFailures) {
      reason = 'consecutive-failures';
    } else if (endpoint.windowCount >= outlier.minRequests) {
      const ratio = endpoint.windowFailures / endpoint.windowCount;
      if (ratio >= outlier.minErrorRatio) {
        let calls = 0;
        let failures = 0;
        for (const other of this.endpoints) {
          if (other === endpoint || other.ejected) continue;
          calls += other.windowCount;
          failures += other.windowFailures;
        }
        const others = calls === 0 ? 0 : failures / calls;
        if (ratio - others >= outlier.errorRatioMargin) reason = 'error-ratio';
      }
    }
    if (reason === undefined) return;
    const total = this.endpoints.length;
    if (total < 2) return;
    let ejected = 0;
    for (const e of this.endpoints) if (e.ejected) ejected++;
    if (ejected + 1 > Math.max(1, Math.floor(outlier.maxEjectedShare * total))) return;
    if (now - endpoint.restoredAt > outlier.maxEjectionMs) endpoint.ejections = 0;
    endpoint.ejections++;
    const durationMs = Math.min(outlier.maxEjectionMs, outlier.baseEjectionMs * 2 ** (endpoint.ejections - 1));
    endpoint.ejectedUntil = now + durationMs;
    if (endpoint.ejectedUntil < this.nextRestoreAt) this.nextRestoreAt = endpoint.ejectedUntil;
    this.rebuild();
    this.publish(endpoint, 'ejected', now, reason, durationMs);
  }

  publish(
    endpoint: EndpointState,
    action: 'chosen' | 'ejected' | 'restored' | 'added' | 'removed',
    now?: number,
    reason?: string,
    durationMs?: number,
  ): void {
    if (!channels.balance.hasSubscribers) return;
    channels.balance.publish({
      model: this.name,
      endpoint: endpoint.id,
      action,
      ...(action === 'chosen' ? { strategy: this.strategy.name } : {}),
      ewmaMs: now === undefined ? endpoint.ewmaMs : endpoint.latencyAt(now),
      outstanding: endpoint.outstanding,
      ...(reason === undefined ? {} : { reason }),
      ...(durationMs === undefined ? {} : { durationMs }),
      available: this.available.length,
      total: this.endpoints.length,
    });
  }

  async refresh(): Promise<void> {
    const discovery = this.options.discovery;
    if (discovery === undefined || this.closed) return;
    let listed: readonly DiscoveredEndpoint[];
    try {
      listed = await discovery.list();
    } catch {
      return; // keep serving with the set we have
    }
    if (!Array.isArray(listed) || listed.some((e) => typeof e?.id !== 'string' || e.id.length === 0)) return;
    const ids = new Set(listed.map((e) => e.id));
    const removals: Promise<void>[] = [];
    for (const e of [...this.endpoints]) if (!ids.has(e.id) && !e.draining) removals.push(this.remove(e.id));
    for (const found of listed) {
      const current = this.endpoints.find((e) => e.id === found.id);
      if (current !== undefined && !current.draining) continue;
      if (current !== undefined) continue; // still draining out: its replacement comes with the next listing
      this.add({ id: found.id, model: discovery.connect(found), weight: found.weight, cost: found.cost }, this.endpoints.length > 0);
    }
    await Promise.all(removals);
  }

  startDiscovery(): void {
    const discovery = this.options.discovery;
    if (discovery === undefined) return;
    void this.refresh();
    const interval = discovery.intervalMs ?? 30_000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.refresh(), interval);
      this.timer.unref?.();
    }
  }

  async health(): Promise<HealthReport> {
    const now = this.clock();
    if (now >= this.nextRestoreAt) this.restoreDue(now);
    const reports = await Promise.all(
      this.endpoints.map(async (e): Promise<boolean> => {
        if (e.ejected || e.draining) return false;
        if (e.model.health === undefined) return true;
        try {
          return (await e.model.health()).ready === true;
        } catch {
          return false;
        }
      }),
    );
    const ready = reports.filter(Boolean).length;
    const details = { ready, total: this.endpoints.length, ejected: this.endpoints.filter((e) => e.ejected).map((e) => e.id) };
    if (ready === 0) return { ready: false, status: 'unavailable', message: `no endpoint of ${this.name} can serve`, details };
    if (ready < this.endpoints.length)
      return { ready: true, status: 'degraded', message: `${ready} of ${this.endpoints.length} endpoints serve`, details };
    return { ready: true, status: 'ready', details };
  }

  stats(): BalanceStats {
    const now = this.clock();
    if (now >= this.nextRestoreAt) this.restoreDue(now);
    return {
      strategy: this.strategy.name,
      available: this.available.length,
      retries: this.retries,
      endpoints: this.endpoints.map((e) => ({
        id: e.id,
        weight: e.weight,
        cost: e.cost,
        outstanding: e.outstanding,
        calls: e.calls,
        failures: e.failures,
        ewmaMs: e.ewmaMs,
        ejected: e.ejected,
        ejections: e.ejections,
        slowStart: e.slowStartAt(now),
        draining: e.draining,
      })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    const states = [...this.endpoints];
    await Promise.all(
      states.map(async (state) => {
        state.draining = true;
        if (state.outstanding > 0) await new Promise<void>((resolve) => (state.drained = resolve));
      }),
    );
    this.rebuild();
    if (this.options.closeEndpoints !== false) await Promise.allSettled(states.map((s) => s.model.close?.()));
  }
}

function endpointSpec<I, O>(
  owner: string,
  endpoint: Model<I, O> | BalanceEndpoint<I, O>,
): Required<Pick<BalanceEndpoint<I, O>, 'id' | 'model' | 'weight' | 'cost'>> {
  if (typeof endpoint !== 'object' || endpoint === null)
    throw new BallastError('CONFIG', `balance(${owner}): an endpoint must be a Model or { id, model }`);
  const spec: BalanceEndpoint<I, O> =
    'infer' in endpoint && typeof endpoint.infer === 'function' ? { model: endpoint as Model<I, O> } : (endpoint as BalanceEndpoint<I, O>);
  if (typeof spec.model?.infer !== 'function') {
    throw new BallastError('CONFIG', `balance(${owner}): endpoint "model" must be a Model with an infer() method`, {
      details: { path: 'model' },
    });
  }
  parseOptions(`balance(${owner})`, endpointNumbersSchema, { weight: spec.weight, cost: spec.cost });
  const id = spec.id ?? spec.model.name;
  if (typeof id !== 'string' || id.length === 0)
    throw new BallastError('CONFIG', `balance(${owner}): endpoint id must be a non-empty string`, { details: { path: 'id' } });
  return { id, model: spec.model, weight: spec.weight ?? 1, cost: spec.cost ?? 0 };
}

// An endpoint's numbers, checked as it is added (at construction, by add() or by discovery).
const endpointNumbersSchema = z.object({
  weight: z.number().finite().positive().optional(),
  cost: msOption.optional(),
});

/** @internal The schema of {@link BalanceOptions}; endpoints are checked one by one as they are added. */
export const balanceOptionsSchema = z
  .strictObject({
    name: z.string().min(1, 'must be a non-empty string'),
    endpoints: z.array(z.unknown()).optional(),
    discovery: z.strictObject({ list: functionOption, connect: functionOption, intervalMs: msOption.optional() }).optional(),
    strategy: z
      .union([
        z.enum(['p2c-ewma', 'round-robin', 'weighted', 'random']),
        z.custom(
          (value) =>
            typeof (value as { choose?: unknown } | null)?.choose === 'function' && typeof (value as { name?: unknown }).name === 'string',
          'expected "p2c-ewma", "round-robin", "weighted", "random" or a strategy object',
        ),
      ])
      .optional(),
    decayMs: z.number().finite().positive().optional(),
    probeIntervalMs: z.number().finite().positive().optional(),
    probeMaxIntervalMs: z.number().finite().positive().optional(),
    slowStartMs: msOption.optional(),
    slowStartMinFactor: z.number().positive().max(1).optional(),
    outlier: z
      .union([
        z.literal(false),
        z.strictObject({
          consecutiveFailures: positiveIntOption.optional(),
          windowSize: positiveIntOption.optional(),
          minRequests: positiveIntOption.optional(),
          minErrorRatio: ratioOption.optional(),
          errorRatioMargin: ratioOption.optional(),
          baseEjectionMs: msOption.optional(),
          maxEjectionMs: msOption.optional(),
          maxEjectedShare: ratioOption.optional(),
        }),
      ])
      .optional(),
    retry: z
      .union([z.literal(false), z.strictObject({ maxAttempts: positiveIntOption.optional(), shouldRetry: functionOption.optional() })])
      .optional(),
    isFailure: functionOption.optional(),
    closeEndpoints: z.boolean().optional(),
    clock: functionOption.optional(),
    random: functionOption.optional(),
  })
  .refine((options) => options.endpoints !== undefined || options.discovery !== undefined, {
    message: 'give endpoints, discovery or both',
    path: ['endpoints'],
  });

/**
 * A `Model` that spreads calls over several endpoints of one model (replicas, regions, model
 * servers). By default it picks with power of two choices over the latency one more call can
 * expect (peak-EWMA latency, × calls in flight ÷ slots once every slot is busy), and probes an
 * idle endpoint once per `probeIntervalMs`, less often while probes show it no faster; ejects outliers (failures in a row, or an error ratio
 * above the other endpoints') for a growing interval, never more than a share of the set; brings
 * them back, and new endpoints in, through slow start; retries a failed call once on another
 * endpoint; and sends a retry or hedge of `retry()`/`hedge()` above it to another endpoint than
 * the one that failed or lags.
 * Endpoints can be added and removed at run time (`add`, `remove`, or a discovery source);
 * removal drains in-flight calls. Publishes `ballast:balance`.
 *
 * @example
 * const model = balance({
 *   name: 'sentiment',
 *   endpoints: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'].map((url) =>
 *     ({ id: url, model: remoteModel({ name: 'sentiment', url: `${url}/predict` }) })),
 * });
 * const client = createClient({ model, timeoutMs: 500, retry: { maxAttempts: 3 } });
 * await client.infer({ text: 'great' });
 */
export function balance<I, O>(given: BalanceOptions<I, O>): BalancedModel<I, O> {
  const named = typeof (given as { name?: unknown } | null)?.name === 'string' && given.name.length > 0;
  const options = parseOptions(named ? `balance(${given.name})` : 'balance', balanceOptionsSchema, given) as BalanceOptions<I, O>;
  const strategy = resolveStrategy(options.strategy);
  const clock = options.clock ?? (() => performance.now());
  const balancer = new Balancer<I, O>(
    options.name,
    strategy,
    options,
    clock,
    options.random ?? Math.random,
    options.isFailure ?? defaultIsFailure,
  );
  for (const endpoint of options.endpoints ?? []) balancer.add(endpoint, false);
  balancer.startDiscovery();
  const model: BalancedModel<I, O> = {
    name: options.name,
    kind: balancer.endpoints[0]?.model.kind ?? 'client',
    infer: (input: I, callOptions?: InferOptions) => balancer.infer(input, callOptions),
    add: (endpoint) => balancer.add(endpoint, balancer.endpoints.length > 0),
    remove: (id) => balancer.remove(id),
    refresh: () => balancer.refresh(),
    health: () => balancer.health(),
    stats: () => balancer.stats(),
    close: () => balancer.close(),
  };
  return Object.freeze(model);
}
