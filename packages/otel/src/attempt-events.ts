/* Retries and hedges of an inference call: counters, and span events on the call they belong to. */
import type { Attributes } from '@opentelemetry/api';
import { errorType } from './error-type.js';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:retry` and `ballast:hedge`. */
export function attemptEvents({ on, instruments, spanEvent }: HandlerContext): void {
  on('retry', (event) => {
    const type = errorType(event.error);
    instruments.retries.add(1, { [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model, [S.ATTR_ERROR_TYPE]: type });
    spanEvent(S.EVENT_BALLAST_RETRY, {
      [S.ATTR_BALLAST_RETRY_ATTEMPT]: event.attempt,
      [S.ATTR_BALLAST_RETRY_DELAY_MS]: event.delayMs,
      [S.ATTR_ERROR_TYPE]: type,
    });
  });
  on('hedge', (event) => {
    if (event.winner === undefined) instruments.hedges.add(1, { [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model });
    const attributes: Attributes = { [S.ATTR_BALLAST_HEDGE_AFTER_MS]: event.afterMs };
    if (event.winner !== undefined) attributes[S.ATTR_BALLAST_HEDGE_WINNER] = event.winner;
    spanEvent(S.EVENT_BALLAST_HEDGE, attributes);
  });
}
