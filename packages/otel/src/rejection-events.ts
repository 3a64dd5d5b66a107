/* Calls rejected before they ran (rate limit, bulkhead, queue, open breaker): a counter and a span event. */
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:rejection`. */
export function rejectionEvents({ on, instruments, spanEvent }: HandlerContext): void {
  on('rejection', (event) => {
    instruments.rejections.add(1, {
      [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model,
      [S.ATTR_BALLAST_REJECTION_CODE]: event.code,
      [S.ATTR_BALLAST_REJECTION_SOURCE]: event.source,
    });
    spanEvent(S.EVENT_BALLAST_REJECTION, { [S.ATTR_BALLAST_REJECTION_CODE]: event.code, [S.ATTR_BALLAST_REJECTION_SOURCE]: event.source });
  });
}
