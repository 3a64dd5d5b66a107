import { BallastError, subscribe } from '@ballast/core';
import { createNoopMeter, diag, type MeterProvider, metrics, type TextMapPropagator, type TracerProvider, trace } from '@opentelemetry/api';
import { traceCalls } from './call-spans.js';
import { type CostRate, CostTable, chargeCost, checkCosts } from './costs.js';
import { EVENT_HANDLERS } from './event-handlers.js';
import type { HandlerContext, ModelProvider } from './handler-context.js';
import { createInstruments } from './instruments.js';

export { errorType } from './error-type.js';

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
 * events and as counters; batches, model loads, usage, cost, drift and shared-store operations
 * (`ballast:store`) as metrics (see docs/telemetry.md for every name and unit). The handlers of
 * each event family live in their own `*-events.ts` file, listed in event-handlers.ts.
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
  const instruments = createInstruments(meter, currency);
  const providers = new Map<string, ModelProvider>();
  const charge = (model: string, provider: string | undefined, kind: string, amount: number) =>
    chargeCost(instruments.cost, currency, model, provider, kind, amount);
  const calls = traceCalls({
    tracer,
    tracesOn,
    metricsOn,
    instruments,
    costs,
    providers,
    charge,
    capture: options.captureInputs === false ? undefined : options.captureInputs,
    maxCaptured: options.maxCapturedLength ?? 1024,
    propagator: options.propagator,
  });

  const stops: (() => void)[] = [];
  const handlerContext: HandlerContext = {
    instruments,
    tracesOn,
    metricsOn,
    costs,
    providers,
    currentCall: calls.currentCall,
    spanEvent: calls.spanEvent,
    charge,
    inject: calls.inject,
    startSpan: calls.startSpan,
    on(name, handler) {
      stops.push(subscribe(name, handler));
    },
    onShutdown(cleanup) {
      stops.push(cleanup);
    },
  };
  for (const handlers of EVENT_HANDLERS) handlers(handlerContext);

  let stopped = false;
  return {
    enabled,
    shutdown() {
      if (stopped) return;
      stopped = true;
      for (const stop of stops) stop();
      calls.stop();
    },
  };
}
