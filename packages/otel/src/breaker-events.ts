/* Circuit-breaker transitions: a counter, a span event, and the state gauge read at collection. */
import type { BreakerState } from '@ballast/core';
import type { Attributes, ObservableResult } from '@opentelemetry/api';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];
/**
 * Most breakers (model and key) the state gauge reports; the least recently changed go first.
 * Four series each stay well under the SDK's default limit of 2000 series per metric.
 */
const MAX_BREAKERS = 256;

/** @internal `ballast:breaker`. */
export function breakerEvents({ on, onShutdown, instruments, spanEvent }: HandlerContext): void {
  // Breaker states change rarely, so they are kept here and read at collection.
  const states = new Map<string, { model: string; key: string | undefined; state: BreakerState }>();
  const observe = (result: ObservableResult) => {
    for (const { model, key, state } of states.values()) {
      for (const candidate of BREAKER_STATES) {
        const attributes: Attributes = { [S.ATTR_GEN_AI_REQUEST_MODEL]: model, [S.ATTR_BALLAST_BREAKER_STATE]: candidate };
        if (key !== undefined) attributes[S.ATTR_BALLAST_BREAKER_KEY] = key;
        result.observe(candidate === state ? 1 : 0, attributes);
      }
    }
  };
  instruments.breakerState.addCallback(observe);
  onShutdown(() => {
    instruments.breakerState.removeCallback(observe);
    states.clear();
  });

  on('breaker', (event) => {
    const id = event.key === undefined ? event.model : `${event.model}\u0000${event.key}`;
    // Most recently changed last; keyed breakers may churn through keys, so the oldest are dropped.
    states.delete(id);
    states.set(id, { model: event.model, key: event.key, state: event.to });
    if (states.size > MAX_BREAKERS) states.delete(states.keys().next().value as string);
    const attributes: Attributes = {
      [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model,
      [S.ATTR_BALLAST_BREAKER_FROM]: event.from,
      [S.ATTR_BALLAST_BREAKER_STATE]: event.to,
      [S.ATTR_BALLAST_BREAKER_REASON]: event.reason,
    };
    if (event.key !== undefined) attributes[S.ATTR_BALLAST_BREAKER_KEY] = event.key;
    instruments.breakerTransitions.add(1, attributes);
    spanEvent(S.EVENT_BALLAST_BREAKER, attributes);
  });
}
