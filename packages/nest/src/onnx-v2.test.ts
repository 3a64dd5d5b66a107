import 'reflect-metadata';
import { apiKeys, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpForward, mlpModel, randomLayers } from '@ballast/onnx/testing';
import { type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BallastModule } from './module.js';

const layers = randomLayers({ sizes: [4, 8, 3], seed: 7 });
let app: INestApplication;
let base: string;
let key: string;

beforeAll(async () => {
  const model = await onnxModel({ name: 'mlp', version: '2', bytes: mlpModel({ layers, inputName: 'features', outputName: 'scores' }) });
  const keys = apiKeys({ secret: 'another-test-secret-of-32-characters!', store: memoryKeyStore() });
  key = (await keys.create({ principalId: 'scorer', roles: ['infer'] })).key;
  @Module({ imports: [BallastModule.forRoot({ models: [model], guard: createGuard({ keys }), v2: true })] })
  class AppModule {}
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = await app.getUrl();
});

afterAll(async () => {
  await app?.close();
});

it('round-trips a v2 infer request through a real ONNX model', async () => {
  const rows = [
    [0.1, -0.4, 1.2, 0.3],
    [2, 0, -1, 0.5],
    [-0.7, 0.9, 0.05, -2],
  ];
  const response = await fetch(`${base}/v2/models/mlp/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ id: 'batch-1', inputs: [{ name: 'features', shape: [3, 4], datatype: 'FP32', data: rows.flat() }] }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as {
    id: string;
    model_name: string;
    model_version: string;
    outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
  };
  expect(body).toMatchObject({ id: 'batch-1', model_name: 'mlp', model_version: '2' });
  const [output] = body.outputs;
  expect(output).toMatchObject({ name: 'scores', shape: [3, 3], datatype: 'FP32' });
  const expected = rows.flatMap((row) => mlpForward(layers, row));
  output?.data.forEach((value, i) => {
    expect(value).toBeCloseTo(expected[i] as number, 4);
  });
});

it('describes the ONNX model in v2 metadata', async () => {
  const response = await fetch(`${base}/v2/models/mlp`, { headers: { 'x-api-key': key } });
  expect(await response.json()).toEqual({
    name: 'mlp',
    versions: ['2'],
    // The serving core's metadata answer: a model with ONNX tensor specs is `onnx_onnxv1` (the protocol's name for ONNX), as with Express.
    platform: 'onnx_onnxv1',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [{ name: 'scores', datatype: 'FP32', shape: [-1, 3] }],
  });
});

it('rejects a row of the wrong width with INVALID_INPUT from the model', async () => {
  const response = await fetch(`${base}/v2/models/mlp/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }),
  });
  expect(response.status).toBe(400);
  expect(((await response.json()) as { code: string }).code).toBe('INVALID_INPUT');
});
