import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, points } from '../test/harness.js';
import { type Instrumentation, instrument } from './instrument.js';
import * as S from './semconv.js';

let harness: Harness;
let telemetry: Instrumentation;

beforeEach(() => {
  harness = createHarness();
  telemetry = instrument({ tracerProvider: harness.tracerProvider, meterProvider: harness.meterProvider });
});
afterEach(async () => {
  telemetry.shutdown();
  await harness.shutdown();
});

describe('an in-process ONNX model', () => {
  it('reports load time, the provider in use, batches and the provider on every call', async () => {
    const bytes = mlpModel({ layers: randomLayers({ sizes: [4, 8, 2], seed: 7 }) });
    const model = await onnxModel({ bytes, name: 'risk', version: 'v1', providers: ['cpu'], batching: { maxBatchSize: 8 } });
    try {
      const outputs = await Promise.all(Array.from({ length: 16 }, (_, i) => model.infer([i, 1, 2, 3])));
      expect(outputs).toHaveLength(16);
    } finally {
      await model.close();
    }

    const spans = harness.spans.getFinishedSpans().filter((s) => s.name === 'infer risk');
    expect(spans.length).toBeGreaterThanOrEqual(16);
    const calls = spans.filter((s) => s.attributes[S.ATTR_BALLAST_BATCH_SIZE] !== undefined);
    expect(calls.length).toBe(16);
    for (const span of calls) {
      expect(span.attributes).toMatchObject({ [S.ATTR_BALLAST_PROVIDER]: 'cpu', [S.ATTR_BALLAST_MODEL_VERSION]: 'v1' });
      expect(span.attributes[S.ATTR_BALLAST_BATCH_SIZE]).toBeGreaterThanOrEqual(1);
      expect(span.attributes[S.ATTR_BALLAST_BATCH_SIZE]).toBeLessThanOrEqual(8);
    }

    const metrics = await harness.collect();
    const load = points<Histogram>(metrics.get(S.METRIC_BALLAST_MODEL_LOAD_DURATION), { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'risk' })[0];
    expect(load?.attributes).toMatchObject({ [S.ATTR_BALLAST_PROVIDER]: 'cpu', [S.ATTR_BALLAST_LOAD_PHASE]: 'load' });
    expect(load?.value.count).toBe(1);
    expect(load?.value.sum).toBeGreaterThan(0);
    expect(load?.value.sum).toBeLessThan(60);
    expect(
      points<number>(metrics.get(S.METRIC_BALLAST_MODEL_PROVIDER), { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'risk' })[0]?.attributes,
    ).toMatchObject({
      [S.ATTR_BALLAST_PROVIDER]: 'cpu',
    });
    const batches = points<Histogram>(metrics.get(S.METRIC_BALLAST_BATCH_SIZE), { [S.ATTR_GEN_AI_REQUEST_MODEL]: 'risk' })[0];
    expect(batches?.value.sum).toBe(16);
    expect(batches?.value.max).toBeLessThanOrEqual(8);
    const duration = points<Histogram>(metrics.get(S.METRIC_BALLAST_INFERENCE_DURATION), {
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'risk',
      [S.ATTR_BALLAST_PROVIDER]: 'cpu',
    });
    expect(duration.reduce((sum, p) => sum + p.value.count, 0)).toBe(16);
  });
});
