/* Fallback sources tried: a counter by source and whether it served, and a span event. */
import { errorType } from './error-type.js';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:fallback`. */
export function fallbackEvents({ on, instruments, spanEvent }: HandlerContext): void {
  on('fallback', (event) => {
    instruments.fallbacks.add(1, {
      [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model,
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
}
