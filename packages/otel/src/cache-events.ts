/* Result-cache lookups: a counter by result, and a span event. */
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:cache`. */
export function cacheEvents({ on, instruments, spanEvent }: HandlerContext): void {
  on('cache', (event) => {
    // A hit another replica computed (through the single-flight lease) is a hit, marked shared.
    const shared = event.shared === true ? { [S.ATTR_BALLAST_CACHE_SHARED]: true } : undefined;
    instruments.cacheLookups.add(1, { [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model, [S.ATTR_BALLAST_CACHE_RESULT]: event.result, ...shared });
    spanEvent(S.EVENT_BALLAST_CACHE, { [S.ATTR_BALLAST_CACHE_RESULT]: event.result, ...shared });
  });
}
