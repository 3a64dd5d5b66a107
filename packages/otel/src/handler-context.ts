/*
 * What the event handlers of one `instrument()` call share: the instruments, the span of the call
 * running in the current async context, cost charging and the models' execution providers.
 */
import type { EventPayloads } from '@ballast/core';
import type { Attributes, Span, SpanKind } from '@opentelemetry/api';
import type { CostTable } from './costs.js';
import type { Instruments } from './instruments.js';

/** @internal The state of one traced call, kept with its span while the call runs. */
export interface SpanCallState {
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

/** @internal The execution provider a model was last loaded on (from `ballast:model-load`). */
export interface ModelProvider {
  readonly model: string;
  readonly version: string | undefined;
  readonly provider: string;
}

/** @internal Handed to every event-handler family by `instrument()`. */
export interface HandlerContext {
  readonly instruments: Instruments;
  readonly tracesOn: boolean;
  readonly metricsOn: boolean;
  readonly costs: CostTable;
  /** Execution providers by model name, kept by the model-load handlers, read for cost rates. */
  readonly providers: Map<string, ModelProvider>;
  /** The call running in this async context, if any. */
  currentCall(): SpanCallState | undefined;
  /** Adds a span event to the call running in this async context (if it records). */
  spanEvent(name: string, attributes: Attributes): void;
  /** Adds to the `ballast.cost` counter (see costs.ts). */
  charge(model: string, provider: string | undefined, kind: string, amount: number): void;
  /** Starts a span whose parent is the active span (streams, which are not `pipeline()` calls). */
  startSpan(name: string, kind: SpanKind, attributes: Attributes): Span;
  /** Writes the active trace context into outgoing request headers. */
  inject(carrier: Record<string, string>): void;
  /** Subscribes `handler` to a Ballast channel until `shutdown()`. */
  on<K extends keyof EventPayloads>(name: K, handler: (payload: EventPayloads[K]) => void): void;
  /** Runs `cleanup` on `shutdown()` (observable callbacks, state maps). */
  onShutdown(cleanup: () => void): void;
}

/** @internal One family of event handlers: subscribes what it needs through the context. */
export type EventHandlers = (context: HandlerContext) => void;
