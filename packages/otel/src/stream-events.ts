/*
 * Streams of GenAI models (`ballast:stream` events of a model that declares an `operation`): a
 * CLIENT span per stream named `{operation} {model}`, and the GenAI client metrics a stream has:
 * operation duration, time to first chunk and time per output chunk. Token usage and its cost come
 * from the model's `ballast:usage` event (usage-events.ts), so they are counted once.
 */
import type { StreamEvent } from '@ballast/core';
import { type Attributes, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { responseModelOf } from './call-spans.js';
import { errorType } from './error-type.js';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

interface StreamState {
  readonly span: Span | undefined;
  readonly attributes: Attributes;
}

/** @internal `ballast:stream`, for streams of GenAI models. */
export function streamEvents({ on, onShutdown, instruments, tracesOn, metricsOn, startSpan }: HandlerContext): void {
  const streams = new Map<number, StreamState>();
  on('stream', (event: StreamEvent) => {
    if (event.phase === 'start') {
      if (event.operation === undefined) return; // not a GenAI model: Ballast's own telemetry only
      const attributes: Attributes = { [S.ATTR_GEN_AI_OPERATION_NAME]: event.operation, [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model };
      if (event.provider !== undefined) attributes[S.ATTR_GEN_AI_PROVIDER_NAME] = event.provider;
      const span = tracesOn ? startSpan(`${event.operation} ${event.model}`, SpanKind.CLIENT, attributes) : undefined;
      streams.set(event.id, { span, attributes });
      return;
    }
    const state = streams.get(event.id);
    if (state === undefined) return;
    const seconds = (event.elapsedMs ?? 0) / 1000;
    if (event.phase === 'first-chunk') {
      if (metricsOn) instruments.genAIFirstChunk.record(seconds, state.attributes);
      return;
    }
    if (event.phase === 'chunk') {
      if (metricsOn) instruments.genAIPerChunk.record(seconds, state.attributes);
      return;
    }
    streams.delete(event.id);
    const attributes: Attributes = { ...state.attributes };
    const responseModel = event.outcome === 'completed' ? responseModelOf(event.output) : undefined;
    if (responseModel !== undefined) attributes[S.ATTR_GEN_AI_RESPONSE_MODEL] = responseModel;
    const type = event.outcome === 'completed' ? undefined : errorType(event.error);
    if (type !== undefined) attributes[S.ATTR_ERROR_TYPE] = type;
    const span = state.span;
    if (span?.isRecording()) {
      span.setAttributes(attributes);
      if (event.usage?.inputTokens !== undefined) span.setAttribute(S.ATTR_GEN_AI_USAGE_INPUT_TOKENS, event.usage.inputTokens);
      if (event.usage?.outputTokens !== undefined) span.setAttribute(S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, event.usage.outputTokens);
      if (event.chunks !== undefined) span.setAttribute(S.ATTR_BALLAST_STREAM_CHUNKS, event.chunks);
      span.setAttribute(S.ATTR_BALLAST_OUTCOME, event.outcome === 'completed' ? 'success' : 'error');
      if (type !== undefined) {
        const error = event.error;
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
    }
    span?.end();
    if (metricsOn) instruments.genAIDuration.record(seconds, attributes);
  });
  onShutdown(() => {
    for (const state of streams.values()) state.span?.end();
    streams.clear();
  });
}
