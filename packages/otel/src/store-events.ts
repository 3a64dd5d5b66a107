/* Shared-store operations (Redis rate limits, quotas, breaker state, cache): counts by outcome, and round-trip time. */
import type { Attributes } from '@opentelemetry/api';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:store`. */
export function storeEvents({ on, instruments }: HandlerContext): void {
  on('store', (event) => {
    const attributes: Attributes = {
      [S.ATTR_BALLAST_STORE_NAME]: event.store,
      [S.ATTR_BALLAST_STORE_OP]: event.op,
      [S.ATTR_BALLAST_STORE_OUTCOME]: event.outcome,
    };
    instruments.storeOperations.add(1, attributes);
    if (typeof event.durationMs === 'number' && Number.isFinite(event.durationMs) && event.durationMs >= 0) {
      instruments.storeDuration.record(event.durationMs / 1000, attributes);
    }
  });
}
