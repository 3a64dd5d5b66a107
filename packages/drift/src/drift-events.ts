import { channels, type DriftEvent } from '@ballast/core';
import type { DriftResult } from './monitor-types.js';

/*
 * What a monitor publishes on `ballast:drift`, only when someone subscribes: per window one event
 * per tested feature, one `missing` event per feature with no value in the window, and one for
 * `__dataset__`; and `__accuracy__` when DDM detects a rise of the error rate.
 */

/** Publishes a window's events. */
export function publishWindowEvents(result: DriftResult): void {
  if (!channels.drift.hasSubscribers) return;
  for (const r of result.features) {
    if (r.status === 'missing') {
      // A data-quality alert: the statistic is the share of the window's rows missing the feature (1).
      const missing: DriftEvent = {
        monitor: result.monitor,
        feature: r.feature,
        test: 'missing',
        statistic: r.statistic,
        threshold: 1,
        drifted: false,
        windowSize: result.windowRows,
      };
      channels.drift.publish(missing);
      continue;
    }
    if (r.status !== 'ok') continue;
    const event: DriftEvent = {
      monitor: result.monitor,
      feature: r.feature,
      test: r.test,
      statistic: r.statistic,
      ...(r.pValue === undefined ? {} : { pValue: r.pValue }),
      threshold: r.threshold,
      drifted: r.drifted,
      windowSize: r.windowSize,
    };
    channels.drift.publish(event);
  }
  const dataset: DriftEvent = {
    monitor: result.monitor,
    feature: '__dataset__',
    test: 'drift-share',
    statistic: result.share,
    threshold: result.driftShare,
    drifted: result.datasetDrift,
    windowSize: result.windowRows,
  };
  channels.drift.publish(dataset);
}

/** Publishes a DDM detection on the error stream as feature `__accuracy__`. */
export function publishAccuracyDrift(monitor: string, errorRate: number, threshold: number, labelled: number): void {
  if (!channels.drift.hasSubscribers) return;
  const event: DriftEvent = {
    monitor,
    feature: '__accuracy__',
    test: 'ddm',
    statistic: errorRate,
    threshold,
    drifted: true,
    windowSize: labelled,
  };
  channels.drift.publish(event);
}
