/* Drift test results: the last score, p-value and verdict per monitor, feature and test, and counts. */
import type { Attributes } from '@opentelemetry/api';
import type { HandlerContext } from './handler-context.js';
import * as S from './semconv.js';

/** @internal `ballast:drift`. */
export function driftEvents({ on, instruments }: HandlerContext): void {
  on('drift', (event) => {
    const attributes: Attributes = {
      [S.ATTR_BALLAST_DRIFT_MONITOR]: event.monitor,
      [S.ATTR_BALLAST_DRIFT_FEATURE]: event.feature,
      [S.ATTR_BALLAST_DRIFT_TEST]: event.test,
    };
    // A data-quality alert, not a test verdict: counted on its own so drift gauges keep their meaning.
    if (event.test === 'missing') {
      instruments.driftMissing.add(1, { [S.ATTR_BALLAST_DRIFT_MONITOR]: event.monitor, [S.ATTR_BALLAST_DRIFT_FEATURE]: event.feature });
      return;
    }
    if (Number.isFinite(event.statistic)) instruments.driftScore.record(event.statistic, attributes);
    if (event.pValue !== undefined && Number.isFinite(event.pValue)) instruments.driftPValue.record(event.pValue, attributes);
    instruments.driftDetected.record(event.drifted ? 1 : 0, attributes);
    instruments.driftTests.add(1, { ...attributes, [S.ATTR_BALLAST_DRIFT_DRIFTED]: event.drifted });
  });
}
