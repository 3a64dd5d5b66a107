/* Result-cache lookups: a counter by result, and a span event. */
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:cache`. */
export function cacheEvents({ on, instruments, spanEvent }: HandlerContext): void {
  on('cache', (event) => {
    instruments.cacheLookups.add(1, { [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model, [S.ATTR_BALLAST_CACHE_RESULT]: event.result });
    spanEvent(S.EVENT_BALLAST_CACHE, { [S.ATTR_BALLAST_CACHE_RESULT]: event.result });
  });
}
