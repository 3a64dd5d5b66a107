import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type BalanceEvent,
  BallastError,
  type BatchEvent,
  type BreakerEvent,
  type BreakerState,
  type CacheEvent,
  channels,
  type DriftEvent,
  type FallbackEvent,
  type HedgeEvent,
  type HttpRequestEvent,
  type InferContext,
  isBallastError,
  type ModelLoadEvent,
  type RejectionEvent,
  type RetryEvent,
  subscribe,
  type UsageEvent,
} from '@ballast/core';
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  createNoopMeter,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  type MeterProvider,
  metrics,
  type ObservableResult,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { type CostRate, CostTable, checkCosts } from './costs.js';
import * as S from './semconv.js';

/** Options of {@link instrument}. Every field is optional. */
export interface InstrumentOptions {
  /** Where spans go. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /**
   * Records each call's input on its span as `ballast.input`: `true` for JSON (cut to
   * `maxCapturedLength` characters), or a function returning the text to record (`undefined` to
   * skip). Off by default: inputs may hold personal data.
   */
  captureInputs?: boolean | ((input: unknown) => string | undefined);
  /** Longest captured input, characters. Default 1024. */
  maxCapturedLength?: number;
  /** Unit prices per model (and provider); each priced call, item or token adds to the `ballast.cost` counter. Default: none. */
  costs?: readonly CostRate[];
  /** Currency of the `costs` rates, recorded as the `ballast.cost.currency` attribute and the counter's unit. Default `USD`. */
  currency?: string;
  /** Propagator that writes trace context into remote-model HTTP requests. Default: the global propagator (W3C `traceparent` under the NodeSDK). */
  propagator?: TextMapPropagator;
}

/** What {@link instrument} returns. */
export interface Instrumentation {
  /** Whether spans and metrics are being recorded (false for the no-op providers of a process with no SDK). */
  readonly enabled: { readonly traces: boolean; readonly metrics: boolean };
  /** Unsubscribes from every Ballast channel. Idempotent. Spans of calls still in flight are ended when they settle. */
  shutdown(): void;
}

const SCOPE_NAME = '@ballast/otel';
const SCOPE_VERSION = '0.1.0';
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];
/**
 * Most breakers (model and key) the state gauge reports; the least recently changed go first.
 * Four series each stay well under the SDK's default limit of 2000 series per metric.
 */
const MAX_BREAKERS = 256;

/** Per-call state, stored on the InferContext under a private symbol. */
interface CallState {
  readonly span: Span;
  readonly start: number;
  readonly nested: boolean;
  /** Set when a Ballast call ran inside this one: this call then wraps others rather than running a model. */
  hasInner: boolean;
  usageProvider: string | undefined;
  inputTokens: number;
  outputTokens: number;
  done: boolean;
}

type ContextRunner = { run<R>(store: Context, fn: () => R): R };

/** @internal True when `provider` is the API's no-op tracer provider (no SDK registered). */
export function tracingIsNoop(provider: TracerProvider): boolean {
  const proxy = provider as TracerProvider & { getDelegateTracer?: (name: string) => unknown; getDelegate?: () => unknown };
  if (typeof proxy.getDelegateTracer === 'function') return proxy.getDelegateTracer(SCOPE_NAME) === undefined;
  return provider.constructor?.name === 'NoopTracerProvider';
}

/** @internal True when `provider` hands out the API's no-op meter (no SDK registered). */
export function metricsAreNoop(provider: MeterProvider): boolean {
  const meter = provider.getMeter(SCOPE_NAME, SCOPE_VERSION);
  return meter === createNoopMeter() || meter.constructor?.name === 'NoopMeter';
}

/** Whether a global context manager is registered that actually carries values across `with()`. */
function globalContextWorks(): boolean {
  const key = createContextKey('ballast.otel.probe');
  return context.with(ROOT_CONTEXT.setValue(key, true), () => context.active().getValue(key) === true);
}

/** `error.type`: a Ballast error code, else the error's name, else `_OTHER`. */
export function errorType(error: unknown): string {
  if (isBallastError(error)) return error.code;
  if (error instanceof Error) return error.name || error.constructor.name || S.ERROR_TYPE_VALUE_OTHER;
  return S.ERROR_TYPE_VALUE_OTHER;
}

function captured(input: unknown, capture: true | ((input: unknown) => string | undefined), max: number): string | undefined {
  let text: string | undefined;
  try {
    text = capture === true ? JSON.stringify(input) : capture(input);
  } catch {
    // A circular input or a throwing capture function must not break the call it observes.
    return undefined;
  }
  if (typeof text !== 'string') return undefined;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function checkOptions(options: InstrumentOptions): void {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'instrument: options must be an object');
  const { captureInputs, maxCapturedLength, currency } = options;
  if (captureInputs !== undefined && typeof captureInputs !== 'boolean' && typeof captureInputs !== 'function') {
    throw new BallastError('CONFIG', 'instrument: "captureInputs" must be a boolean or a function', { details: { path: 'captureInputs' } });
  }
  if (maxCapturedLength !== undefined && !(Number.isInteger(maxCapturedLength) && maxCapturedLength > 0)) {
    throw new BallastError('CONFIG', `instrument: "maxCapturedLength" must be a positive integer, got ${maxCapturedLength}`, {
      details: { path: 'maxCapturedLength' },
    });
  }
  if (currency !== undefined && !(typeof currency === 'string' && /^[A-Za-z][A-Za-z0-9_]*$/.test(currency))) {
    throw new BallastError('CONFIG', `instrument: "currency" must be a code such as USD, got ${String(currency)}`, {
      details: { path: 'currency' },
    });
  }
  for (const key of ['tracerProvider', 'meterProvider', 'propagator'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'object' || value === null)) {
      throw new BallastError('CONFIG', `instrument: "${key}" must be an object`, { details: { path: key } });
    }
  }
}

/**
 * Turns Ballast's `diagnostics_channel` events into OpenTelemetry spans and metrics.
 *
 * Every `pipeline()` call becomes a span named `infer {model}` (CLIENT for remote models,
 * INTERNAL otherwise) that is the active span while the call runs, so nested calls (retried HTTP
 * attempts, fallback models) become its children and remote-model requests carry its W3C trace
 * context. Retries, hedges, fallbacks, cache lookups, breaker changes and rejections appear as span
 * events and as counters; batches, model loads, usage, cost and drift as metrics (see
 * docs/telemetry.md for every name and unit).
 *
 * Uses `@opentelemetry/api` only. Call it after the app's OpenTelemetry SDK is registered: with
 * no SDK (the API's no-op providers) it subscribes to nothing, so Ballast runs exactly as if it
 * were not instrumented.
 *
 * @example
 * import { instrument } from '@ballast/otel';
 * const telemetry = instrument({ costs: [{ model: 'sentiment', perCall: 0.0001 }] });
 * // ... on shutdown
 * telemetry.shutdown();
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  checkOptions(options);
  const costs = new CostTable(checkCosts(options.costs));
  const currency = options.currency ?? 'USD';
  const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
  const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
  const tracesOn = !tracingIsNoop(tracerProvider);
  const metricsOn = !metricsAreNoop(meterProvider);
  const enabled = Object.freeze({ traces: tracesOn, metrics: metricsOn });
  if (!tracesOn && !metricsOn) {
    // Nothing would record: stay off the channels so pipeline() keeps its untraced fast path.
    diag.warn('@ballast/otel: instrument() found no OpenTelemetry SDK registered; Ballast telemetry stays off (register the SDK first)');
    return { enabled, shutdown() {} };
  }

  const tracer = tracerProvider.getTracer(SCOPE_NAME, SCOPE_VERSION);
  const meter = meterProvider.getMeter(SCOPE_NAME, SCOPE_VERSION);
  const customPropagator = options.propagator;
  const extract = (parent: Context, attributes: Record<string, string | number | boolean>): Context => {
    const carrier: Record<string, string> = { traceparent: attributes[S.ATTR_HTTP_REQUEST_HEADER_TRACEPARENT] as string };
    const state = attributes[S.ATTR_HTTP_REQUEST_HEADER_TRACESTATE];
    if (typeof state === 'string') carrier.tracestate = state;
    return customPropagator === undefined
      ? propagation.extract(parent, carrier)
      : customPropagator.extract(parent, carrier, defaultTextMapGetter);
  };
  const inject =
    customPropagator === undefined
      ? (carrier: Record<string, string>) => propagation.inject(activeContext(), carrier)
      : (carrier: Record<string, string>) => customPropagator.inject(activeContext(), carrier, defaultTextMapSetter);
  const capture = options.captureInputs === false ? undefined : options.captureInputs;
  const maxCaptured = options.maxCapturedLength ?? 1024;

  // --- instruments -------------------------------------------------------------------------
  const duration = meter.createHistogram(S.METRIC_BALLAST_INFERENCE_DURATION, {
    unit: 's',
    description: 'Duration of one inference through a Ballast pipeline',
    advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
  });
  // A retried remote attempt or a fallback model is a Ballast call inside another: recording it in
  // the same histogram would count one request several times in every unfiltered rate().
  const nestedDuration = meter.createHistogram(S.METRIC_BALLAST_INFERENCE_NESTED_DURATION, {
    unit: 's',
    description: 'Duration of a call made inside another Ballast call (a retried attempt, a fallback model)',
    advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
  });
  const activeGauge = meter.createObservableUpDownCounter(S.METRIC_BALLAST_INFERENCE_ACTIVE, {
    unit: '{request}',
    description: 'Inferences in flight',
  });
  const queueWait = meter.createHistogram(S.METRIC_BALLAST_QUEUE_WAIT, {
    unit: 's',
    description: 'Mean time the items of a dispatched batch waited in the queue',
    advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
  });
  const batchSize = meter.createHistogram(S.METRIC_BALLAST_BATCH_SIZE, {
    unit: '{item}',
    description: 'Items per dispatched batch',
    advice: { explicitBucketBoundaries: S.BATCH_SIZE_BUCKETS },
  });
  const batchDuration = meter.createHistogram(S.METRIC_BALLAST_BATCH_DURATION, {
    unit: 's',
    description: 'Duration of one batched model run',
    advice: { explicitBucketBoundaries: S.DURATION_BUCKETS },
  });
  const retries = meter.createCounter(S.METRIC_BALLAST_RETRIES, {
    unit: '{retry}',
    description: 'Retries scheduled after a failed attempt',
  });
  const hedges = meter.createCounter(S.METRIC_BALLAST_HEDGES, { unit: '{hedge}', description: 'Hedged attempts started' });
  const fallbacks = meter.createCounter(S.METRIC_BALLAST_FALLBACKS, {
    unit: '{fallback}',
    description: 'Fallback sources tried, by source and served',
  });
  const cacheLookups = meter.createCounter(S.METRIC_BALLAST_CACHE_LOOKUPS, {
    unit: '{lookup}',
    description: 'Result-cache lookups by result',
  });
  const breakerTransitions = meter.createCounter(S.METRIC_BALLAST_BREAKER_TRANSITIONS, {
    unit: '{transition}',
    description: 'Circuit-breaker state changes',
  });
  const breakerGauge = meter.createObservableGauge(S.METRIC_BALLAST_BREAKER_STATE, {
    unit: '1',
    description: 'Circuit-breaker state: 1 for the current state, 0 for the others',
  });
  const rejections = meter.createCounter(S.METRIC_BALLAST_REJECTIONS, {
    unit: '{request}',
    description: 'Calls rejected before they ran (rate limit, bulkhead, queue, open breaker)',
  });
  const balanceChosen = meter.createCounter(S.METRIC_BALLAST_BALANCE_CHOSEN, {
    unit: '{call}',
    description: 'Calls sent to each endpoint of a balanced model',
  });
  const balanceEjections = meter.createCounter(S.METRIC_BALLAST_BALANCE_EJECTIONS, {
    unit: '{ejection}',
    description: 'Outlier ejections of an endpoint of a balanced model',
  });
  const balanceLatency = meter.createObservableGauge(S.METRIC_BALLAST_BALANCE_LATENCY, {
    unit: 's',
    description: "An endpoint's peak-EWMA latency as last reported by its balancer",
  });
  const balanceAvailable = meter.createObservableGauge(S.METRIC_BALLAST_BALANCE_AVAILABLE, {
    unit: '1',
    description: 'Whether an endpoint of a balanced model can take calls (0 while ejected)',
  });
  const driftScore = meter.createGauge(S.METRIC_BALLAST_DRIFT_SCORE, {
    unit: '1',
    description: 'Last drift statistic per monitor, feature and test',
  });
  const driftPValue = meter.createGauge(S.METRIC_BALLAST_DRIFT_P_VALUE, {
    unit: '1',
    description: 'Last drift p-value (hypothesis tests)',
  });
  const driftDetected = meter.createGauge(S.METRIC_BALLAST_DRIFT_DETECTED, {
    unit: '1',
    description: 'Last drift verdict: 1 drifted, 0 not',
  });
  const driftTests = meter.createCounter(S.METRIC_BALLAST_DRIFT_TESTS, { unit: '{test}', description: 'Drift tests run, by verdict' });
  const driftMissing = meter.createCounter(S.METRIC_BALLAST_DRIFT_MISSING, {
    unit: '{window}',
    description: 'Windows in which every value of a feature was missing',
  });
  const cost = meter.createCounter(S.METRIC_BALLAST_COST, { unit: `{${currency}}`, description: `Inference cost in ${currency}` });
  const tokenUsage = meter.createHistogram(S.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
    unit: '{token}',
    description: 'Tokens used per call, as reported by the model',
    advice: { explicitBucketBoundaries: S.GEN_AI_TOKEN_USAGE_BUCKETS },
  });
  const usageItems = meter.createCounter(S.METRIC_BALLAST_USAGE_ITEMS, {
    unit: '{item}',
    description: 'Items processed, as reported by the model',
  });
  const loadDuration = meter.createHistogram(S.METRIC_BALLAST_MODEL_LOAD_DURATION, {
    unit: 's',
    description: 'Model load and reload time',
    advice: { explicitBucketBoundaries: S.LOAD_DURATION_BUCKETS },
  });
  const providerGauge = meter.createObservableGauge(S.METRIC_BALLAST_MODEL_PROVIDER, {
    unit: '1',
    description: 'Execution provider a model runs on: 1 for the one in use',
  });

  // Observable state: breaker states and providers change rarely, so they are kept here and read at collection.
  const breakerStates = new Map<string, { model: string; key: string | undefined; state: BreakerState }>();
  const providers = new Map<string, { model: string; version: string | undefined; provider: string }>();
  const observeBreakers = (result: ObservableResult) => {
    for (const { model, key, state } of breakerStates.values()) {
      for (const candidate of BREAKER_STATES) {
        const attributes: Attributes = { [S.ATTR_GEN_AI_REQUEST_MODEL]: model, [S.ATTR_BALLAST_BREAKER_STATE]: candidate };
        if (key !== undefined) attributes[S.ATTR_BALLAST_BREAKER_KEY] = key;
        result.observe(candidate === state ? 1 : 0, attributes);
      }
    }
  };
  // Calls in flight are counted in a plain map and observed at collection: recording an
  // UpDownCounter twice per call would double the SDK's per-call attribute hashing.
  const inFlight = new Map<string, number>();
  const observeActive = (result: ObservableResult) => {
    for (const [model, count] of inFlight) result.observe(count, { [S.ATTR_GEN_AI_REQUEST_MODEL]: model });
  };
  const observeProviders = (result: ObservableResult) => {
    for (const { model, version, provider } of providers.values()) {
      const attributes: Attributes = { [S.ATTR_GEN_AI_REQUEST_MODEL]: model, [S.ATTR_BALLAST_PROVIDER]: provider };
      if (version !== undefined) attributes[S.ATTR_BALLAST_MODEL_VERSION] = version;
      result.observe(1, attributes);
    }
  };
  // Endpoints of balanced models: the last latency and availability each reported, read at collection.
  const balanceEndpoints = new Map<string, { model: string; endpoint: string; ewmaMs: number | undefined; available: boolean }>();
  const balanceAttributes = (model: string, endpoint: string): Attributes => ({
    [S.ATTR_GEN_AI_REQUEST_MODEL]: model,
    [S.ATTR_BALLAST_BALANCE_ENDPOINT]: endpoint,
  });
  const observeBalanceLatency = (result: ObservableResult) => {
    for (const e of balanceEndpoints.values())
      if (e.ewmaMs !== undefined) result.observe(e.ewmaMs / 1000, balanceAttributes(e.model, e.endpoint));
  };
  const observeBalanceAvailable = (result: ObservableResult) => {
    for (const e of balanceEndpoints.values()) result.observe(e.available ? 1 : 0, balanceAttributes(e.model, e.endpoint));
  };
  breakerGauge.addCallback(observeBreakers);
  providerGauge.addCallback(observeProviders);
  balanceLatency.addCallback(observeBalanceLatency);
  balanceAvailable.addCallback(observeBalanceAvailable);
  activeGauge.addCallback(observeActive);

  // --- active context ----------------------------------------------------------------------
  // The span of a call must be the active one while the call runs, so nested calls and HTTP
  // requests find their parent. When the app registered an OTel context manager, the call runs
  // inside `context.with()` and everything (including other instrumentations) sees the span.
  // Without one, a private AsyncLocalStorage carries it for Ballast's own nested calls.
  // A call's state is found from its span (WeakMap) rather than a second context key, because
  // every Context.setValue copies the context's map.
  const callOfSpan = new WeakMap<Span, CallState>();
  const STATE = Symbol('ballast.otel.call');
  type Traced = InferContext & { [STATE]?: CallState };
  const ownStorage = new AsyncLocalStorage<Context>();
  const shared = globalContextWorks();
  const activeContext: () => Context = shared ? () => context.active() : () => ownStorage.getStore() ?? context.active();
  const runner: ContextRunner = shared ? { run: (store, fn) => context.with(store, fn) } : ownStorage;
  const currentCall = (): CallState | undefined => {
    const span = trace.getSpan(activeContext());
    return span === undefined ? undefined : callOfSpan.get(span);
  };

  const startCall = (call: Traced): Context => {
    let parent = activeContext();
    const extra = call.options?.attributes;
    // Adapters copy an incoming request's trace headers into the call's attributes; continue that
    // trace unless a span (an HTTP server span of the app's own instrumentation) is already active.
    if (
      tracesOn &&
      extra !== undefined &&
      typeof extra[S.ATTR_HTTP_REQUEST_HEADER_TRACEPARENT] === 'string' &&
      trace.getSpan(parent) === undefined
    ) {
      parent = extract(parent, extra);
    }
    const parentSpan = trace.getSpan(parent);
    const outer = parentSpan === undefined ? undefined : callOfSpan.get(parentSpan);
    if (outer !== undefined) outer.hasInner = true;
    const nested = outer !== undefined;
    const model = call.model;
    const attributes: Attributes = {
      [S.ATTR_GEN_AI_OPERATION_NAME]: call.operation,
      [S.ATTR_GEN_AI_REQUEST_MODEL]: model,
      [S.ATTR_BALLAST_MODEL_KIND]: call.kind,
    };
    if (call.version !== undefined) attributes[S.ATTR_BALLAST_MODEL_VERSION] = call.version;
    if (extra !== undefined) for (const key in extra) attributes[key] = extra[key];
    const span = tracer.startSpan(
      `${call.operation} ${model}`,
      { kind: call.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes },
      parent,
    );
    if (capture !== undefined && span.isRecording()) {
      const text = captured(call.input, capture, maxCaptured);
      if (text !== undefined) span.setAttribute(S.ATTR_BALLAST_INPUT, text);
    }
    const state: CallState = {
      span,
      start: performance.now(),
      nested,
      hasInner: false,
      usageProvider: undefined,
      inputTokens: 0,
      outputTokens: 0,
      done: false,
    };
    callOfSpan.set(span, state);
    call[STATE] = state;
    if (metricsOn) inFlight.set(model, (inFlight.get(model) ?? 0) + 1);
    return trace.setSpan(parent, span);
  };

  const finishCall = (call: Traced, failed: boolean): void => {
    const state = call[STATE];
    if (state === undefined || state.done) return;
    state.done = true;
    const seconds = (performance.now() - state.start) / 1000;
    const annotations = call.attributes;
    const fallbackSource = annotations[S.ATTR_BALLAST_FALLBACK_SOURCE];
    const outcome = failed ? 'error' : fallbackSource !== undefined ? 'fallback' : 'success';
    const type = failed ? errorType(call.error) : undefined;
    const span = state.span;
    if (span.isRecording()) {
      span.setAttributes(annotations);
      span.setAttribute(S.ATTR_BALLAST_OUTCOME, outcome);
      if (state.usageProvider !== undefined) span.setAttribute(S.ATTR_GEN_AI_PROVIDER_NAME, state.usageProvider);
      if (type !== undefined) {
        span.setAttribute(S.ATTR_ERROR_TYPE, type);
        const error = call.error;
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
    }
    span.end();
    if (!metricsOn) return;
    const model = call.model;
    const provider = annotations[S.ATTR_BALLAST_PROVIDER];
    const attributes: Attributes = {
      [S.ATTR_GEN_AI_OPERATION_NAME]: call.operation,
      [S.ATTR_GEN_AI_REQUEST_MODEL]: model,
      [S.ATTR_BALLAST_MODEL_KIND]: call.kind,
      [S.ATTR_BALLAST_OUTCOME]: outcome,
    };
    if (call.version !== undefined) attributes[S.ATTR_BALLAST_MODEL_VERSION] = call.version;
    if (typeof provider === 'string') attributes[S.ATTR_BALLAST_PROVIDER] = provider;
    if (type !== undefined) attributes[S.ATTR_ERROR_TYPE] = type;
    // One record per call: the histogram's count is the request count by outcome, as OTel's HTTP
    // conventions do with http.server.request.duration (each record costs an attribute hash in the SDK).
    (state.nested ? nestedDuration : duration).record(seconds, attributes);
    inFlight.set(model, (inFlight.get(model) ?? 1) - 1);
    // Cost is charged where a model actually ran: on the innermost calls (each attempt, the
    // fallback model), not again on the calls wrapping them.
    if (!costs.empty && !state.hasInner) {
      const providerName = typeof provider === 'string' ? provider : (state.usageProvider ?? providers.get(model)?.provider);
      const rate = costs.rateFor(model, providerName);
      if (rate !== undefined) {
        if (rate.perCall && !failed) charge(model, providerName, 'call', rate.perCall);
        if (rate.perSecond) charge(model, providerName, 'second', rate.perSecond * seconds);
      }
    }
  };

  const charge = (model: string, provider: string | undefined, kind: string, amount: number): void => {
    if (!(amount > 0)) return;
    const attributes: Attributes = {
      [S.ATTR_GEN_AI_REQUEST_MODEL]: model,
      [S.ATTR_BALLAST_COST_KIND]: kind,
      [S.ATTR_BALLAST_COST_CURRENCY]: currency,
    };
    if (provider !== undefined) attributes[S.ATTR_BALLAST_PROVIDER] = provider;
    cost.add(amount, attributes);
  };

  /** Adds a span event to the Ballast call running in this async context (if it records). */
  const spanEvent = (name: string, attributes: Attributes): void => {
    const state = currentCall();
    if (state !== undefined && !state.done && state.span.isRecording()) state.span.addEvent(name, attributes);
  };

  // --- tracing channel ---------------------------------------------------------------------
  const inferHandlers = {
    // A synchronous throw publishes `error` before `end` and no asyncEnd; a rejection publishes `end` first.
    end(message: unknown) {
      const call = message as Traced;
      if ('error' in call) finishCall(call, true);
    },
    asyncEnd(message: unknown) {
      const call = message as Traced;
      finishCall(call, 'error' in call);
    },
  };
  const transform = (message: unknown): Context => startCall(message as Traced);
  // `bindStore` accepts any object with AsyncLocalStorage's `run(store, fn)`; the runner is one.
  // The store's transform runs in the caller's context just before the call, which is where the
  // span must start, and its result is the context the call runs in.
  const startChannel = channels.infer.start as unknown as {
    bindStore(store: ContextRunner, transform: (message: unknown) => Context): void;
    unbindStore(store: ContextRunner): void;
  };
  startChannel.bindStore(runner, transform);
  channels.infer.subscribe(inferHandlers as Parameters<typeof channels.infer.subscribe>[0]);

  // --- plain channels ----------------------------------------------------------------------
  const stops: (() => void)[] = [];
  const on = <K extends Parameters<typeof subscribe>[0]>(name: K, handler: Parameters<typeof subscribe<K>>[1]) => {
    stops.push(subscribe(name, handler));
  };
  const modelAttributes = (model: string): Attributes => ({ [S.ATTR_GEN_AI_REQUEST_MODEL]: model });

  on('retry', (event: RetryEvent) => {
    const type = errorType(event.error);
    retries.add(1, { ...modelAttributes(event.model), [S.ATTR_ERROR_TYPE]: type });
    spanEvent(S.EVENT_BALLAST_RETRY, {
      [S.ATTR_BALLAST_RETRY_ATTEMPT]: event.attempt,
      [S.ATTR_BALLAST_RETRY_DELAY_MS]: event.delayMs,
      [S.ATTR_ERROR_TYPE]: type,
    });
  });
  on('hedge', (event: HedgeEvent) => {
    if (event.winner === undefined) hedges.add(1, modelAttributes(event.model));
    const attributes: Attributes = { [S.ATTR_BALLAST_HEDGE_AFTER_MS]: event.afterMs };
    if (event.winner !== undefined) attributes[S.ATTR_BALLAST_HEDGE_WINNER] = event.winner;
    spanEvent(S.EVENT_BALLAST_HEDGE, attributes);
  });
  on('fallback', (event: FallbackEvent) => {
    fallbacks.add(1, {
      ...modelAttributes(event.model),
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: event.source,
      [S.ATTR_BALLAST_FALLBACK_SERVED]: event.served,
    });
    spanEvent(S.EVENT_BALLAST_FALLBACK, {
      [S.ATTR_BALLAST_FALLBACK_SOURCE]: event.source,
      [S.ATTR_BALLAST_FALLBACK_INDEX]: event.index,
      [S.ATTR_BALLAST_FALLBACK_SERVED]: event.served,
      [S.ATTR_ERROR_TYPE]: errorType(event.error),
    });
  });
  on('cache', (event: CacheEvent) => {
    cacheLookups.add(1, { ...modelAttributes(event.model), [S.ATTR_BALLAST_CACHE_RESULT]: event.result });
    spanEvent(S.EVENT_BALLAST_CACHE, { [S.ATTR_BALLAST_CACHE_RESULT]: event.result });
  });
  on('breaker', (event: BreakerEvent) => {
    const id = event.key === undefined ? event.model : `${event.model}\u0000${event.key}`;
    // Most recently changed last; keyed breakers may churn through keys, so the oldest are dropped.
    breakerStates.delete(id);
    breakerStates.set(id, { model: event.model, key: event.key, state: event.to });
    if (breakerStates.size > MAX_BREAKERS) breakerStates.delete(breakerStates.keys().next().value as string);
    const attributes: Attributes = {
      ...modelAttributes(event.model),
      [S.ATTR_BALLAST_BREAKER_FROM]: event.from,
      [S.ATTR_BALLAST_BREAKER_STATE]: event.to,
      [S.ATTR_BALLAST_BREAKER_REASON]: event.reason,
    };
    if (event.key !== undefined) attributes[S.ATTR_BALLAST_BREAKER_KEY] = event.key;
    breakerTransitions.add(1, attributes);
    spanEvent(S.EVENT_BALLAST_BREAKER, attributes);
  });
  on('rejection', (event: RejectionEvent) => {
    rejections.add(1, {
      ...modelAttributes(event.model),
      [S.ATTR_BALLAST_REJECTION_CODE]: event.code,
      [S.ATTR_BALLAST_REJECTION_SOURCE]: event.source,
    });
    spanEvent(S.EVENT_BALLAST_REJECTION, { [S.ATTR_BALLAST_REJECTION_CODE]: event.code, [S.ATTR_BALLAST_REJECTION_SOURCE]: event.source });
  });
  on('batch', (event: BatchEvent) => {
    const attributes = modelAttributes(event.model);
    if (event.phase === 'dispatch') {
      batchSize.record(event.size, attributes);
      queueWait.record(event.queueWaitMs / 1000, attributes);
    } else if (event.durationMs !== undefined) {
      batchDuration.record(event.durationMs / 1000, { ...attributes, [S.ATTR_BALLAST_OUTCOME]: event.failed ? 'error' : 'success' });
    }
  });
  on('balance', (event: BalanceEvent) => {
    const id = `${event.model}\u0000${event.endpoint}`;
    if (event.action === 'removed') {
      balanceEndpoints.delete(id);
      return;
    }
    let entry = balanceEndpoints.get(id);
    if (entry === undefined) {
      entry = { model: event.model, endpoint: event.endpoint, ewmaMs: undefined, available: true };
      balanceEndpoints.set(id, entry);
      if (balanceEndpoints.size > MAX_BREAKERS) balanceEndpoints.delete(balanceEndpoints.keys().next().value as string);
    }
    if (event.ewmaMs !== undefined) entry.ewmaMs = event.ewmaMs;
    if (event.action === 'chosen') {
      balanceChosen.add(1, balanceAttributes(event.model, event.endpoint));
    } else if (event.action === 'ejected') {
      entry.available = false;
      balanceEjections.add(1, {
        ...balanceAttributes(event.model, event.endpoint),
        [S.ATTR_BALLAST_BALANCE_REASON]: event.reason ?? 'unknown',
      });
    } else {
      entry.available = true;
    }
  });
  on('modelLoad', (event: ModelLoadEvent) => {
    const attributes: Attributes = {
      ...modelAttributes(event.model),
      [S.ATTR_BALLAST_PROVIDER]: event.provider,
      [S.ATTR_BALLAST_LOAD_PHASE]: event.phase,
    };
    if (event.version !== undefined) attributes[S.ATTR_BALLAST_MODEL_VERSION] = event.version;
    if (event.error !== undefined) attributes[S.ATTR_ERROR_TYPE] = errorType(event.error);
    loadDuration.record(event.durationMs / 1000, attributes);
    if (event.error === undefined) providers.set(event.model, { model: event.model, version: event.version, provider: event.provider });
  });
  on('usage', (event: UsageEvent) => {
    const state = currentCall();
    const provider = event.provider ?? providers.get(event.model)?.provider;
    const attributes: Attributes = { [S.ATTR_GEN_AI_OPERATION_NAME]: 'infer', ...modelAttributes(event.model) };
    if (event.provider !== undefined) attributes[S.ATTR_GEN_AI_PROVIDER_NAME] = event.provider;
    if (event.inputTokens !== undefined) tokenUsage.record(event.inputTokens, { ...attributes, [S.ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
    if (event.outputTokens !== undefined) tokenUsage.record(event.outputTokens, { ...attributes, [S.ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
    if (event.items !== undefined) usageItems.add(event.items, attributes);
    if (state !== undefined && !state.done) {
      if (event.provider !== undefined) state.usageProvider = event.provider;
      if (state.span.isRecording()) {
        if (event.inputTokens !== undefined)
          state.span.setAttribute(S.ATTR_GEN_AI_USAGE_INPUT_TOKENS, (state.inputTokens += event.inputTokens));
        if (event.outputTokens !== undefined)
          state.span.setAttribute(S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, (state.outputTokens += event.outputTokens));
      }
    }
    if (!costs.empty) {
      const rate = costs.rateFor(event.model, provider);
      if (rate !== undefined) {
        if (rate.perInputToken && event.inputTokens) charge(event.model, provider, 'input_token', rate.perInputToken * event.inputTokens);
        if (rate.perOutputToken && event.outputTokens)
          charge(event.model, provider, 'output_token', rate.perOutputToken * event.outputTokens);
        if (rate.perItem && event.items) charge(event.model, provider, 'item', rate.perItem * event.items);
      }
    }
  });
  on('drift', (event: DriftEvent) => {
    const attributes: Attributes = {
      [S.ATTR_BALLAST_DRIFT_MONITOR]: event.monitor,
      [S.ATTR_BALLAST_DRIFT_FEATURE]: event.feature,
      [S.ATTR_BALLAST_DRIFT_TEST]: event.test,
    };
    // A data-quality alert, not a test verdict: counted on its own so drift gauges keep their meaning.
    if (event.test === 'missing') {
      driftMissing.add(1, { [S.ATTR_BALLAST_DRIFT_MONITOR]: event.monitor, [S.ATTR_BALLAST_DRIFT_FEATURE]: event.feature });
      return;
    }
    if (Number.isFinite(event.statistic)) driftScore.record(event.statistic, attributes);
    if (event.pValue !== undefined && Number.isFinite(event.pValue)) driftPValue.record(event.pValue, attributes);
    driftDetected.record(event.drifted ? 1 : 0, attributes);
    driftTests.add(1, { ...attributes, [S.ATTR_BALLAST_DRIFT_DRIFTED]: event.drifted });
  });
  if (tracesOn) {
    on('httpRequest', (event: HttpRequestEvent) => {
      // The request is published inside the attempt's async context: its span is the active one.
      inject(event.headers);
    });
  }

  let stopped = false;
  return {
    enabled,
    shutdown() {
      if (stopped) return;
      stopped = true;
      for (const stop of stops) stop();
      channels.infer.unsubscribe(inferHandlers as Parameters<typeof channels.infer.unsubscribe>[0]);
      startChannel.unbindStore(runner);
      // On Node 20 an enabled AsyncLocalStorage hooks every promise of the process: release it.
      if (!shared) ownStorage.disable();
      breakerGauge.removeCallback(observeBreakers);
      balanceLatency.removeCallback(observeBalanceLatency);
      balanceAvailable.removeCallback(observeBalanceAvailable);
      providerGauge.removeCallback(observeProviders);
      activeGauge.removeCallback(observeActive);
      inFlight.clear();
      breakerStates.clear();
      providers.clear();
    },
  };
}
