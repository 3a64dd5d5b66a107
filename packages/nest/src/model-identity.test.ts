import 'reflect-metadata';
import { createClient } from '@ballast/client';
import { pipeline } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { expect, it } from 'vitest';
import { BallastModels } from './models.js';

it('every wrapper reports the new version after a real ONNX reload', async () => {
  const bytes = (seed: number) =>
    mlpModel({ layers: randomLayers({ sizes: [4, 8, 3], seed }), inputName: 'features', outputName: 'scores' });
  const model = await onnxModel({ name: 'mlp', version: '1', bytes: bytes(1) });
  const models = new BallastModels([model]);
  try {
    const injected = models.get('mlp');
    const client = createClient({ model, retry: true, timeoutMs: 5000 });
    const piped = pipeline(model);
    expect([injected.version, client.version, piped.version]).toEqual(['1', '1', '1']);
    await model.reload({ bytes: bytes(2), version: '2' });
    expect(model.version).toBe('2');
    expect([injected.version, client.version, piped.version]).toEqual(['2', '2', '2']);
    const out = (await client.infer({ features: [0.1, 0.2, 0.3, 0.4] })) as unknown as { scores: { dims: number[] } };
    expect(out.scores.dims).toEqual([3]);
  } finally {
    await models.close(1000);
  }
});
