import diagnostics from 'node:diagnostics_channel';
import type { InferOptions, ModelKind } from './model.js';
import type { StreamEvent } from './stream.js';

/**
 * The `diagnostics_channel` names Ballast publishes on. `@ballast/otel` subscribes to them;
 * so can any app. Publishing is skipped entirely when a channel has no subscribers.
 * See docs/events.md for every payload.
 */
export const CHANNEL_NAMES = {
  /** A `TracingChannel` around every `infer` of a `pipeline()` model: `tracing:ballast:infer:start` ... */
  infer: 'ballast:infer',
  /** A batch dispatched by `batching()`. */
  batch: 'ballast:batch',
  /** A retry scheduled after a failed attempt. */
  retry: 'ballast:retry',
  /** A hedged attempt started. */
  hedge: 'ballast:hedge',
  /** A fallback source tried (and whether it served). */
  fallback: 'ballast:fallback',
  /** A result-cache lookup. */
  cache: 'ballast:cache',
  /** A circuit-breaker state change. */
  breaker: 'ballast:breaker',
  /** A call rejected before it ran: rate limit, full bulkhead or queue, open breaker. */
  rejection: 'ballast:rejection',
  /** A model loaded or reloaded (in-process models). */
  modelLoad: 'ballast:model-load',
  /** Token or unit usage reported by a model. */
  usage: 'ballast:usage',
  /** A stream's start, first chunk and end (with its usage). */
  stream: 'ballast:stream',
  /** A drift test result. */
  drift: 'ballast:drift',
  /**
   * Published synchronously just before a remote model sends an HTTP request, inside the call's
   * async context; subscribers may add headers (telemetry injects W3C `traceparent` here).
   */
  httpRequest: 'ballast:http-request',
  /** A rollout decision: a canary step, a blue-green switch, a promotion or a rollback. */
  rollout: 'ballast:rollout',
  /** A command of a shared store (Redis) and how it went: the health of the state replicas share. */
  store: 'ballast:store',
  /** A balancer over endpoints of one model: an endpoint chosen, ejected, restored, added or removed. */
  balance: 'ballast:balance',
} as const;

/** The context object of the `ballast:infer` tracing channel. Middleware add `attributes` during the call. */
export interface InferContext {
  /** Model name. */
  model: string;
  /** Model version, when known. */
  version: string | undefined;
  /** Operation name: the model's GenAI `operation` (`chat`, `text_completion`, `embeddings`), else `infer`. */
  operation: string;
  /** Who serves the model (`openai`, ...), when the model declares it. */
  provider?: string;
  /** `internal` for in-process models, `client` for remote ones. */
  kind: ModelKind;
  /** The input (subscribers must not mutate it). */
  input: unknown;
  /** The options the call was made with. */
  options: InferOptions | undefined;
  /**
   * Facts added during the call by middleware: `ballast.cache.result`, `ballast.attempts`,
   * `ballast.fallback.source`, `ballast.breaker.state`, `ballast.provider`, `ballast.batch.size`,
   * `ballast.queue.wait_ms` ... (see docs/events.md).
   */
  attributes: Record<string, string | number | boolean>;
  /** Set on success (asyncStart/asyncEnd). */
  result?: unknown;
  /** Set on failure (error event). */
  error?: unknown;
}

/** Payload of `ballast:batch`. */
export interface BatchEvent {
  model: string;
  /** Items in the batch. */
  size: number;
  /** Mean time the items waited in the queue, ms. */
  queueWaitMs: number;
  /** Longest wait of an item in the batch, ms. */
  maxQueueWaitMs: number;
  /** Items still queued after this dispatch. */
  queued: number;
  /** How long `inferBatch` took, ms (set on completion; `undefined` in the dispatch event). */
  durationMs?: number;
  /** `dispatch` when the batch starts, `complete` when it settles. */
  phase: 'dispatch' | 'complete';
  /** Whether the batch failed (complete phase). */
  failed?: boolean;
}

/** Payload of `ballast:retry`. */
export interface RetryEvent {
  model: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Wait before the next attempt, ms. */
  delayMs: number;
  /** The error of the failed attempt. */
  error: unknown;
}

/** Payload of `ballast:hedge`. */
export interface HedgeEvent {
  model: string;
  /** How long the first attempt had run when the hedge started, ms. */
  afterMs: number;
  /** Which attempt won, once known (`primary` | `hedge`), on the settle event. */
  winner?: 'primary' | 'hedge';
}

/** Payload of `ballast:fallback`. */
export interface FallbackEvent {
  model: string;
  /** Name of the fallback source (`static`, `stale-cache`, a model's name, a function's name). */
  source: string;
  /** Position in the chain (0 = first fallback). */
  index: number;
  /** The error that triggered the fallback. */
  error: unknown;
  /** Whether this source served the call. */
  served: boolean;
}

/** Payload of `ballast:cache`. */
export interface CacheEvent {
  model: string;
  /** `hit`, `miss`, `stale` (served stale), or `coalesced` (joined an in-flight call). */
  result: 'hit' | 'miss' | 'stale' | 'coalesced';
  /**
   * `true` on a hit another process computed while this one waited on the cache's single-flight
   * lease (a shared store such as Redis); absent otherwise.
   */
  shared?: boolean;
}

/** Circuit-breaker states. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** Payload of `ballast:breaker`. */
export interface BreakerEvent {
  model: string;
  /** The breaker key when breakers are per key. */
  key?: string;
  from: BreakerState;
  to: BreakerState;
  /** Why: `consecutive-failures`, `failure-ratio`, `slow-call-ratio`, `half-open-failure`, `trial-succeeded`, `isolate`, `reset`, `timer`. */
  reason: string;
}

/** Payload of `ballast:rejection`. */
export interface RejectionEvent {
  model: string;
  code: 'RATE_LIMITED' | 'OVERLOADED' | 'CIRCUIT_OPEN';
  /** Which mechanism rejected: `rate-limit`, `bulkhead`, `batching`, `breaker`. */
  source: string;
  /** Key of the limiter or breaker, when keyed. */
  key?: string;
}

/** Payload of `ballast:model-load`. */
export interface ModelLoadEvent {
  model: string;
  version?: string;
  /** Provider in use after loading (cpu, cuda, webgpu, ...). */
  provider: string;
  /** Load time, ms. */
  durationMs: number;
  /** Every provider tried, in order, with the reason it failed. */
  attempts: readonly { provider: string; ok: boolean; reason?: string }[];
  /** `load` or `reload`. */
  phase: 'load' | 'reload';
  /** Set when a reload failed and the old model keeps serving. */
  error?: unknown;
}

/** Payload of `ballast:usage`. */
export interface UsageEvent {
  model: string;
  provider?: string;
  /** The GenAI operation the usage is of (`chat`, `text_completion`, `embeddings`), when the model declares one. */
  operation?: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Rows or items processed (for per-prediction costs). */
  items?: number;
  /** Whose call it was (`principal.id`), when known: per-principal token accounting keys on it. */
  principal?: string;
}

/** Payload of `ballast:drift`. */
export interface DriftEvent {
  /** Monitor name. */
  monitor: string;
  /** Feature (or `__prediction__`, `__confidence__`, `__dataset__`). */
  feature: string;
  /**
   * Test used: `ks`, `chi-square`, `wasserstein`, `jensen-shannon`, `psi`, `adwin`, ... or
   * `missing`: a data-quality alert that every value of the feature was missing in the window
   * (statistic: the share of rows missing it; `drifted` false).
   */
  test: string;
  /** The test statistic or distance. */
  statistic: number;
  /** p-value, for hypothesis tests (after correction). */
  pValue?: number;
  /** The threshold the verdict used. */
  threshold: number;
  /** Verdict. */
  drifted: boolean;
  /** Rows in the current window. */
  windowSize: number;
}

/** Payload of `ballast:http-request`. `headers` is mutable: subscribers may add to it. */
export interface HttpRequestEvent {
  model: string;
  url: string;
  method: string;
  /** Request headers (lower-case names); add entries to send them. */
  headers: Record<string, string>;
}

/** One version's numbers over a rollout's analysis window (the snapshot a decision was taken on). */
export interface RolloutWindowMetrics {
  /** Calls completed in the window. */
  requests: number;
  /** Calls that failed in the window. */
  errors: number;
  /** `errors / requests` (0 without requests). */
  errorRate: number;
  /** 95th percentile latency of the window's calls, ms (`undefined` without calls). */
  p95Ms?: number;
  /** Latest drift score reported for the version, when a drift source is configured. */
  driftScore?: number;
  /** Shadow comparisons made in the window (candidate only). */
  shadowCompared?: number;
  /** Share of shadow comparisons that disagreed (candidate only). */
  disagreementRate?: number;
}

/** Payload of `ballast:rollout`: every decision a rollout takes, automatic or manual, with its reason. */
export interface RolloutEvent {
  /** The rollout (model) name. */
  model: string;
  /** Version that served before the decision. */
  fromVersion?: string;
  /** Version that serves (or gets more traffic) after the decision. */
  toVersion?: string;
  /** `step` (canary weight changed), `switch` (blue-green traffic moved), `promote` or `rollback`. */
  decision: 'promote' | 'rollback' | 'step' | 'switch';
  /** Why, e.g. `healthy-windows`, `error-rate`, `p95-latency`, `drift`, `disagreement`, `manual`, `ramp`. */
  reason: string;
  /** Whether the rollout decided by itself (`false` for `promote()`/`rollback()` calls). */
  automatic: boolean;
  /** Candidate traffic share after the decision (0..1). */
  weight?: number;
  /** The analysis window the decision was taken on, per version. */
  metrics: { stable?: RolloutWindowMetrics; candidate?: RolloutWindowMetrics };
}

/** Payload of `ballast:store`: one command of a shared store (Redis cache, limiter, keys, breakers). */
export interface StoreEvent {
  /** Which store: `redis-cache`, `redis-limiter`, ... */
  store: string;
  /** The operation: `get`, `set`, `acquire`, `wait`, `release`, ... */
  op: string;
  /**
   * `ok`; `timeout` (it did not answer within the command timeout or the caller's budget);
   * `error` (it answered with an error or the connection failed); `unavailable` (not sent: not
   * connected, or the store is waiting for a hung server to answer again); `fallback` (the store
   * decided locally instead: a limiter's local share, a breaker's local state); `recovered`
   * (shared again after a fallback). In every case but `ok` and `recovered` the caller went on
   * without the store.
   */
  outcome: 'ok' | 'timeout' | 'error' | 'unavailable' | 'fallback' | 'recovered';
  /** How long the command took, ms (0 when not sent; absent for decisions that sent nothing). */
  durationMs?: number;
  /** The failure, for `timeout` and `error`, where the store keeps it. */
  error?: unknown;
}

/** Payload of `ballast:balance`. */
export interface BalanceEvent {
  /** The balanced model's name. */
  model: string;
  /** The endpoint the event is about. */
  endpoint: string;
  /**
   * `chosen` (a call goes to it), `ejected` (an outlier, kept out for `durationMs`), `restored`
   * (back after an ejection, in slow start), `added` (joined the set, in slow start) or
   * `removed` (left the set after its in-flight calls drained).
   */
  action: 'chosen' | 'ejected' | 'restored' | 'added' | 'removed';
  /** The strategy that chose (on `chosen`). */
  strategy?: string;
  /** The endpoint's peak-EWMA latency when the event happened, ms (`undefined` before its first answer). */
  ewmaMs?: number;
  /** Calls in flight on the endpoint (before this call, on `chosen`). */
  outstanding: number;
  /** Why it was ejected: `consecutive-failures` or `error-ratio`. */
  reason?: string;
  /** How long it is ejected, ms (on `ejected`). */
  durationMs?: number;
  /** Endpoints that can take calls now (not ejected, not draining), after the event. */
  available: number;
  /** Endpoints in the set, after the event. */
  total: number;
}

/** The channels, created once. Check `hasSubscribers` before building a payload. */
export const channels = {
  infer: diagnostics.tracingChannel<InferContext>(CHANNEL_NAMES.infer),
  batch: diagnostics.channel(CHANNEL_NAMES.batch),
  retry: diagnostics.channel(CHANNEL_NAMES.retry),
  hedge: diagnostics.channel(CHANNEL_NAMES.hedge),
  fallback: diagnostics.channel(CHANNEL_NAMES.fallback),
  cache: diagnostics.channel(CHANNEL_NAMES.cache),
  breaker: diagnostics.channel(CHANNEL_NAMES.breaker),
  rejection: diagnostics.channel(CHANNEL_NAMES.rejection),
  modelLoad: diagnostics.channel(CHANNEL_NAMES.modelLoad),
  usage: diagnostics.channel(CHANNEL_NAMES.usage),
  stream: diagnostics.channel(CHANNEL_NAMES.stream),
  drift: diagnostics.channel(CHANNEL_NAMES.drift),
  httpRequest: diagnostics.channel(CHANNEL_NAMES.httpRequest),
  rollout: diagnostics.channel(CHANNEL_NAMES.rollout),
  store: diagnostics.channel(CHANNEL_NAMES.store),
  balance: diagnostics.channel(CHANNEL_NAMES.balance),
};

/** Payload type of each plain channel. */
export interface EventPayloads {
  batch: BatchEvent;
  retry: RetryEvent;
  hedge: HedgeEvent;
  fallback: FallbackEvent;
  cache: CacheEvent;
  breaker: BreakerEvent;
  rejection: RejectionEvent;
  modelLoad: ModelLoadEvent;
  usage: UsageEvent;
  stream: StreamEvent;
  drift: DriftEvent;
  httpRequest: HttpRequestEvent;
  rollout: RolloutEvent;
  store: StoreEvent;
  balance: BalanceEvent;
}

/**
 * Publishes `payload` on a Ballast channel if anyone listens. For hot paths, check
 * `channels[name].hasSubscribers` first so the payload is not even built.
 *
 * @example
 * if (channels.cache.hasSubscribers) emit('cache', { model: 'm', result: 'hit' });
 */
export function emit<K extends keyof EventPayloads>(name: K, payload: EventPayloads[K]): void {
  const channel = channels[name];
  if (channel.hasSubscribers) channel.publish(payload);
}

/**
 * Subscribes to a Ballast channel with a typed handler; returns the unsubscribe function.
 *
 * @example
 * const stop = subscribe('breaker', (e) => console.log(`${e.model}: ${e.from} -> ${e.to}`));
 */
export function subscribe<K extends keyof EventPayloads>(name: K, handler: (payload: EventPayloads[K]) => void): () => void {
  const listener = (message: unknown) => handler(message as EventPayloads[K]);
  diagnostics.subscribe(CHANNEL_NAMES[name], listener);
  return () => {
    diagnostics.unsubscribe(CHANNEL_NAMES[name], listener);
  };
}
