/*
 * The span lifecycle of Ballast calls: a span starts when a `pipeline()` call starts (on the
 * `ballast:infer` tracing channel), is the active span while the call runs, and ends with the
 * call's outcome, duration and cost.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { channels, type InferContext } from '@ballast/core';
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type ObservableResult,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { CostTable } from './costs.js';
import { errorType } from './error-type.js';
import type { ModelProvider, SpanCallState } from './handler-context.js';
import type { Instruments } from './instruments.js';
import * as S from './semconv.js';

type ContextRunner = { run<R>(store: Context, fn: () => R): R };

/** @internal What {@link traceCalls} needs. */
export interface CallSpansOptions {
  readonly tracer: Tracer;
  readonly tracesOn: boolean;
  readonly metricsOn: boolean;
  readonly instruments: Instruments;
  readonly costs: CostTable;
  readonly providers: ReadonlyMap<string, ModelProvider>;
  readonly charge: (model: string, provider: string | undefined, kind: string, amount: number) => void;
  readonly capture: true | ((input: unknown) => string | undefined) | undefined;
  readonly maxCaptured: number;
  readonly propagator: TextMapPropagator | undefined;
}

/** @internal The running span lifecycle. */
export interface CallSpans {
  /** The call running in this async context, if any. */
  currentCall(): SpanCallState | undefined;
  /** Adds a span event to the call running in this async context (if it records). */
  spanEvent(name: string, attributes: Attributes): void;
  /** Writes the active trace context into `carrier`. */
  inject(carrier: Record<string, string>): void;
  /** Starts a span whose parent is the active span (for work that is not a `pipeline()` call: a stream). */
  startSpan(name: string, kind: SpanKind, attributes: Attributes): Span;
  /** Unsubscribes; calls still in flight end their spans when they settle. */
  stop(): void;
}

/** Whether a global context manager is registered that actually carries values across `with()`. */
function globalContextWorks(): boolean {
  const key = createContextKey('ballast.otel.probe');
  return context.with(ROOT_CONTEXT.setValue(key, true), () => context.active().getValue(key) === true);
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

/** @internal The model a GenAI output says answered (`output.model`, as OpenAI-compatible APIs report it). */
export function responseModelOf(output: unknown): string | undefined {
  const model = (output as { model?: unknown } | null | undefined)?.model;
  return typeof model === 'string' && model.length > 0 ? model : undefined;
}

/** @internal Starts a span for every Ballast call from now until `stop()`. */
export function traceCalls(options: CallSpansOptions): CallSpans {
  const { tracer, tracesOn, metricsOn, instruments, costs, providers, charge, capture, maxCaptured, propagator } = options;

  // Calls in flight are counted in a plain map and observed at collection: recording an
  // UpDownCounter twice per call would double the SDK's per-call attribute hashing.
  const inFlight = new Map<string, number>();
  const observeActive = (result: ObservableResult) => {
    for (const [model, count] of inFlight) result.observe(count, { [S.ATTR_GEN_AI_REQUEST_MODEL]: model });
  };
  instruments.active.addCallback(observeActive);

  // --- active context ----------------------------------------------------------------------
  // The span of a call must be the active one while the call runs, so nested calls and HTTP
  // requests find their parent. When the app registered an OTel context manager, the call runs
  // inside `context.with()` and everything (including other instrumentations) sees the span.
  // Without one, a private AsyncLocalStorage carries it for Ballast's own nested calls.
  // A call's state is found from its span (WeakMap) rather than a second context key, because
  // every Context.setValue copies the context's map.
  const callOfSpan = new WeakMap<Span, SpanCallState>();
  const STATE = Symbol('ballast.otel.call');
  type Traced = InferContext & { [STATE]?: SpanCallState };
  const ownStorage = new AsyncLocalStorage<Context>();
  const shared = globalContextWorks();
  const activeContext: () => Context = shared ? () => context.active() : () => ownStorage.getStore() ?? context.active();
  const runner: ContextRunner = shared ? { run: (store, fn) => context.with(store, fn) } : ownStorage;
  const currentCall = (): SpanCallState | undefined => {
    const span = trace.getSpan(activeContext());
    return span === undefined ? undefined : callOfSpan.get(span);
  };
  const extract = (parent: Context, attributes: Record<string, string | number | boolean>): Context => {
    const carrier: Record<string, string> = { traceparent: attributes[S.ATTR_HTTP_REQUEST_HEADER_TRACEPARENT] as string };
    const state = attributes[S.ATTR_HTTP_REQUEST_HEADER_TRACESTATE];
    if (typeof state === 'string') carrier.tracestate = state;
    return propagator === undefined ? propagation.extract(parent, carrier) : propagator.extract(parent, carrier, defaultTextMapGetter);
  };
  const inject =
    propagator === undefined
      ? (carrier: Record<string, string>) => propagation.inject(activeContext(), carrier)
      : (carrier: Record<string, string>) => propagator.inject(activeContext(), carrier, defaultTextMapSetter);

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
    if (call.provider !== undefined) attributes[S.ATTR_GEN_AI_PROVIDER_NAME] = call.provider;
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
    const state: SpanCallState = {
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
    const genAI = call.operation !== 'infer';
    const responseModel = genAI && !failed ? responseModelOf(call.result) : undefined;
    if (span.isRecording()) {
      span.setAttributes(annotations);
      if (responseModel !== undefined) span.setAttribute(S.ATTR_GEN_AI_RESPONSE_MODEL, responseModel);
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
    (state.nested ? instruments.nestedDuration : instruments.duration).record(seconds, attributes);
    inFlight.set(model, (inFlight.get(model) ?? 1) - 1);
    // The GenAI duration is the provider's operation: the innermost call (each attempt), not the
    // Ballast calls wrapping it.
    if (genAI && !state.hasInner) {
      const genAIAttributes: Attributes = { [S.ATTR_GEN_AI_OPERATION_NAME]: call.operation, [S.ATTR_GEN_AI_REQUEST_MODEL]: model };
      const providerName = call.provider ?? state.usageProvider;
      if (providerName !== undefined) genAIAttributes[S.ATTR_GEN_AI_PROVIDER_NAME] = providerName;
      if (responseModel !== undefined) genAIAttributes[S.ATTR_GEN_AI_RESPONSE_MODEL] = responseModel;
      if (type !== undefined) genAIAttributes[S.ATTR_ERROR_TYPE] = type;
      instruments.genAIDuration.record(seconds, genAIAttributes);
    }
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

  return {
    currentCall,
    spanEvent(name, attributes) {
      const state = currentCall();
      if (state !== undefined && !state.done && state.span.isRecording()) state.span.addEvent(name, attributes);
    },
    inject,
    startSpan(name, kind, attributes) {
      return tracer.startSpan(name, { kind, attributes }, activeContext());
    },
    stop() {
      channels.infer.unsubscribe(inferHandlers as Parameters<typeof channels.infer.unsubscribe>[0]);
      startChannel.unbindStore(runner);
      // On Node 20 an enabled AsyncLocalStorage hooks every promise of the process: release it.
      if (!shared) ownStorage.disable();
      instruments.active.removeCallback(observeActive);
      inFlight.clear();
    },
  };
}
