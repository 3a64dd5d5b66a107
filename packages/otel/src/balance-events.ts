/* Balanced models: calls per endpoint, ejections, and each endpoint's latency and availability read at collection. */
import type { Attributes, ObservableResult } from '@opentelemetry/api';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** Most endpoints the gauges report; the least recently seen go first. */
const MAX_ENDPOINTS = 256;

/** @internal `ballast:balance`. */
export function balanceEvents({ on, onShutdown, instruments }: HandlerContext): void {
  const endpoints = new Map<string, { model: string; endpoint: string; ewmaMs: number | undefined; available: boolean }>();
  const attributesOf = (model: string, endpoint: string): Attributes => ({
    [S.ATTR_GEN_AI_REQUEST_MODEL]: model,
    [S.ATTR_BALLAST_BALANCE_ENDPOINT]: endpoint,
  });
  const observeLatency = (result: ObservableResult) => {
    for (const e of endpoints.values()) if (e.ewmaMs !== undefined) result.observe(e.ewmaMs / 1000, attributesOf(e.model, e.endpoint));
  };
  const observeAvailable = (result: ObservableResult) => {
    for (const e of endpoints.values()) result.observe(e.available ? 1 : 0, attributesOf(e.model, e.endpoint));
  };
  instruments.balanceLatency.addCallback(observeLatency);
  instruments.balanceAvailable.addCallback(observeAvailable);
  onShutdown(() => {
    instruments.balanceLatency.removeCallback(observeLatency);
    instruments.balanceAvailable.removeCallback(observeAvailable);
    endpoints.clear();
  });

  on('balance', (event) => {
    const id = `${event.model}\u0000${event.endpoint}`;
    if (event.action === 'removed') {
      endpoints.delete(id);
      return;
    }
    let entry = endpoints.get(id);
    if (entry === undefined) {
      entry = { model: event.model, endpoint: event.endpoint, ewmaMs: undefined, available: true };
      endpoints.set(id, entry);
      if (endpoints.size > MAX_ENDPOINTS) endpoints.delete(endpoints.keys().next().value as string);
    }
    if (event.ewmaMs !== undefined) entry.ewmaMs = event.ewmaMs;
    if (event.action === 'chosen') {
      instruments.balanceChosen.add(1, attributesOf(event.model, event.endpoint));
    } else if (event.action === 'ejected') {
      entry.available = false;
      instruments.balanceEjections.add(1, {
        ...attributesOf(event.model, event.endpoint),
        [S.ATTR_BALLAST_BALANCE_REASON]: event.reason ?? 'unknown',
      });
    } else {
      entry.available = true;
    }
  });
}
