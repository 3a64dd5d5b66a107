/* Batching and its queue: batch sizes and queue waits at dispatch, batch durations at completion. */
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:batch`. */
export function batchEvents({ on, instruments }: HandlerContext): void {
  on('batch', (event) => {
    const attributes = { [S.ATTR_GEN_AI_REQUEST_MODEL]: event.model };
    if (event.phase === 'dispatch') {
      instruments.batchSize.record(event.size, attributes);
      instruments.queueWait.record(event.queueWaitMs / 1000, attributes);
    } else if (event.durationMs !== undefined) {
      instruments.batchDuration.record(event.durationMs / 1000, {
        ...attributes,
        [S.ATTR_BALLAST_OUTCOME]: event.failed ? 'error' : 'success',
      });
    }
  });
}
