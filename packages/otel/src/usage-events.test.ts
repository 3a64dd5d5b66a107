import { defineModel, emit, pipeline } from '@ballast/core';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { points, useTelemetry } from '../test/harness.js';
import * as S from './semconv.js';

const telemetry = useTelemetry();

describe('model-load and usage events', () => {
  it('records model loads, the provider in use, token usage and cost', async () => {
    telemetry.start({
      costs: [
        { model: 'tagger', provider: 'cuda', perCall: 0.5, perSecond: 0 },
        { model: 'tagger', perCall: 0.25 },
        { model: '*', perInputToken: 0.001, perOutputToken: 0.002 },
      ],
      currency: 'EUR',
    });
    emit('modelLoad', {
      model: 'tagger',
      version: '2',
      provider: 'cuda',
      durationMs: 1500,
      attempts: [{ provider: 'cuda', ok: true }],
      phase: 'load',
    });
    const tagger = pipeline(defineModel({ name: 'tagger', infer: async () => 'tag' }));
    await tagger.infer(1);
    await tagger.infer(2);
    const chat = pipeline(
      defineModel({
        name: 'chat',
        kind: 'client',
        infer: async () => {
          emit('usage', { model: 'chat', provider: 'openai', inputTokens: 100, outputTokens: 20 });
          return 'hi';
        },
      }),
    );
    await chat.infer('hello');

    const span = telemetry.harness.span('infer chat');
    expect(span.attributes).toMatchObject({
      [S.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: 100,
      [S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: 20,
      [S.ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
    });
    const metrics = await telemetry.harness.collect();
    const load = points<Histogram>(metrics.get(S.METRIC_BALLAST_MODEL_LOAD_DURATION))[0];
    expect(metrics.get(S.METRIC_BALLAST_MODEL_LOAD_DURATION)?.descriptor.unit).toBe('s');
    expect(load?.value.sum).toBe(1.5);
    expect(load?.attributes).toMatchObject({ [S.ATTR_BALLAST_PROVIDER]: 'cuda', [S.ATTR_BALLAST_LOAD_PHASE]: 'load' });
    expect(points<number>(metrics.get(S.METRIC_BALLAST_MODEL_PROVIDER))[0]?.attributes).toEqual({
      [S.ATTR_GEN_AI_REQUEST_MODEL]: 'tagger',
      [S.ATTR_BALLAST_PROVIDER]: 'cuda',
      [S.ATTR_BALLAST_MODEL_VERSION]: '2',
    });
    const tokens = metrics.get(S.METRIC_GEN_AI_CLIENT_TOKEN_USAGE);
    expect(tokens?.descriptor.unit).toBe('{token}');
    expect(points<Histogram>(tokens, { [S.ATTR_GEN_AI_TOKEN_TYPE]: 'input' })[0]?.value.sum).toBe(100);
    expect(points<Histogram>(tokens, { [S.ATTR_GEN_AI_TOKEN_TYPE]: 'output' })[0]?.value.sum).toBe(20);

    const costMetric = metrics.get(S.METRIC_BALLAST_COST);
    expect(costMetric?.descriptor.unit).toBe('{EUR}');
    const spend = Object.fromEntries(
      points<number>(costMetric).map((p) => [
        `${p.attributes[S.ATTR_GEN_AI_REQUEST_MODEL]}/${p.attributes[S.ATTR_BALLAST_COST_KIND]}`,
        p.value,
      ]),
    );
    // tagger runs on cuda (from its load event): 2 calls at 0.5; chat: 100 x 0.001 + 20 x 0.002.
    expect(spend['tagger/call']).toBeCloseTo(1, 10);
    expect(spend['chat/input_token']).toBeCloseTo(0.1, 10);
    expect(spend['chat/output_token']).toBeCloseTo(0.04, 10);
    expect(Object.keys(spend).sort()).toEqual(['chat/input_token', 'chat/output_token', 'tagger/call']);
  });
});
