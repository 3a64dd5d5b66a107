import type { AddressInfo } from 'node:net';
import { remoteModel } from '@ballast/client';
import type { Model } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { identityModel, int64Model, multiInputModel } from '@ballast/onnx/testing';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ballastRouter } from '../src/index.js';

/*
 * remoteModel({ protocol: 'open-inference-v2' }) against a real Ballast server on 127.0.0.1 with
 * real ONNX models: JSON and the binary tensor data extension give the same outputs, and 64-bit
 * integers beyond 2^53 come back exactly either way.
 */
describe('remoteModel over the Open Inference Protocol v2, JSON and binary', () => {
  const models: Model[] = [];
  let url = '';
  let close: () => Promise<void>;
  const sizes: { type: string | undefined; length: string | null }[] = [];

  beforeAll(async () => {
    models.push(
      await onnxModel({ bytes: int64Model({ width: 2, factor: 3 }), name: 'ids' }),
      await onnxModel({ bytes: multiInputModel({ width: 2 }), name: 'pair' }),
      await onnxModel({ bytes: identityModel({ type: 'string', dims: [2] }), name: 'text' }),
    );
    const app = express();
    app.use((request, _res, next) => {
      sizes.push({
        type: request.headers['content-type'],
        length: (request.headers['inference-header-content-length'] as string | undefined) ?? null,
      });
      next();
    });
    app.use(ballastRouter({ models }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  }, 60_000);
  afterAll(async () => {
    await close?.();
    await Promise.all(models.map((model) => model.close?.()));
  });

  for (const binary of [false, true]) {
    it(`round-trips INT64 beyond 2^53, FP32 and BYTES (${binary ? 'binary' : 'JSON'})`, async () => {
      sizes.length = 0;
      const ids = remoteModel({ url, protocol: 'open-inference-v2', name: 'ids', binary });
      const big = new BigInt64Array([2n ** 60n + 1n, -(2n ** 55n) - 7n]);
      const answer = await ids.infer({ ids: big });
      expect(answer.scaled?.type).toBe('int64');
      expect(Array.from(answer.scaled?.data as BigInt64Array)).toEqual([3n * (2n ** 60n + 1n), -3n * 2n ** 55n - 21n]);
      expect(answer.scaled?.dims).toEqual([2]);
      const pair = remoteModel({ url, protocol: 'open-inference-v2', name: 'pair', binary, outputs: ['product'] });
      const product = await pair.infer({ a: new Float32Array([1.5, 2]), b: new Float32Array([4, -3]) });
      expect(Object.keys(product)).toEqual(['product']);
      expect(Array.from(product.product?.data as Float32Array)).toEqual([6, -6]);
      const text = remoteModel({ url, protocol: 'open-inference-v2', name: 'text', binary });
      expect((await text.infer({ x: ['héllo', ''] })).y?.data).toEqual(['héllo', '']);
      // What travelled: binary bodies announce their JSON header's length.
      expect(sizes).toHaveLength(3);
      for (const sent of sizes) {
        if (binary) {
          expect(sent.type).toBe('application/octet-stream');
          expect(Number(sent.length)).toBeGreaterThan(0);
        } else expect(sent.length).toBeNull();
      }
    });
  }
});
