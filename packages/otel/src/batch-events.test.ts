import { batching, defineModel, pipeline } from '@ballast/core';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('batches', () => {
  it('records batch size, queue wait and batch duration', async () => {
    telemetry.start();
    const model = pipeline(
      defineModel({
        name: 'mlp',
        infer: async (x: number) => x * 2,
        inferBatch: async (xs: readonly number[]) => {
          await sleep(5);
          return xs.map((x) => x * 2);
        },
      }),
      batching({ maxBatchSize: 4 }),
    );
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => model.infer(x)));
    expect(results).toEqual([2, 4, 6, 8, 10, 12]);
    expect(telemetry.harness.spans.getFinishedSpans().filter((s) => s.name === 'infer mlp')).toHaveLength(6);

    const metrics = await telemetry.harness.collect();
    const size = metrics.get(S.METRIC_BALLAST_BATCH_SIZE);
    expect(size?.descriptor.unit).toBe('{item}');
    const [sizes] = points<Histogram>(size, { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'mlp' });
    expect(sizes?.value.count).toBe(2);
    expect(sizes?.value.sum).toBe(6);
    expect(sizes?.value.max).toBe(4);
    expect(sizes?.value.buckets.boundaries).toEqual(S.BATCH_SIZE_BUCKETS);
    const wait = points<Histogram>(metrics.get(S.METRIC_BALLAST_QUEUE_WAIT))[0];
    expect(metrics.get(S.METRIC_BALLAST_QUEUE_WAIT)?.descriptor.unit).toBe('s');
    expect(wait?.value.count).toBe(2);
    // The second batch waited for the first (about 5 ms); a wait is never negative or absurd.
    expect(wait?.value.max).toBeGreaterThan(0.002);
    expect(wait?.value.max).toBeLessThan(1);
    const batchDuration = points<Histogram>(metrics.get(S.METRIC_BALLAST_BATCH_DURATION), { [S.ATTR_BALLAST_OUTCOME]: 'success' })[0];
    expect(batchDuration?.value.count).toBe(2);
    expect(batchDuration?.value.min).toBeGreaterThan(0.003);
  });
});
