import { circuitBreaker } from '@ballast/client';
import { pipeline, type TensorValue } from '@ballast/core';
import { ballastRouter, errorHandler, inferHandler } from '@ballast/express';
import { apiKeys, auditLog, createGuard, memoryKeyStore } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import express from 'express';
import { z } from 'zod';

/** What {@link createService} returns. */
export interface Service {
  app: express.Express;
  /** An API key allowed to call the models (printed at start-up for the demo). */
  key: string;
  /** Drains in-flight requests, stops the server and closes the models. */
  shutdown: (server: import('node:http').Server) => Promise<void>;
}

/**
 * The service: a fraud-risk model (an 8→16→2 softmax MLP run in-process by ONNX Runtime, behind a
 * circuit breaker) served over the Open Inference Protocol v2 and on an app route, with API keys,
 * a per-key rate limit, input guards, redaction and an audit log on stderr.
 */
export async function createService(): Promise<Service> {
  const onnx = await onnxModel({
    name: 'risk',
    version: '1',
    bytes: mlpModel({
      layers: randomLayers({ sizes: [8, 16, 2], seed: 11 }),
      softmax: true,
      inputName: 'features',
      outputName: 'probabilities',
    }),
  });
  const risk = pipeline(onnx, circuitBreaker({ consecutiveFailures: 5, openMs: 10_000 }));

  // A demo key store in memory; production would use fileKeyStore() or its own KeyStore.
  const keys = apiKeys({ secret: process.env.BALLAST_KEY_SECRET ?? 'demo-secret-change-me-in-production!', store: memoryKeyStore() });
  const { key } = await keys.create({ principalId: 'demo-app', roles: ['infer'], label: 'demo' });

  const guard = createGuard({
    keys,
    limits: { rate: { ratePerSecond: 50, burst: 100 } },
    input: { maxBodyBytes: 64 * 1024, ranges: { features: { min: -10, max: 10 } } },
    output: { fields: ['customerEmail'] },
    audit: auditLog({ sink: process.stderr }),
  });

  const router = ballastRouter({
    models: [risk],
    guard,
    timeoutMs: 1_000,
    // The model describes itself; the breaker wrapper does not, so pass its tensor metadata on.
    metadata: {
      risk: {
        platform: 'onnxruntime',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
      },
    },
  });

  const app = express();
  app.use(router);
  app.post(
    '/score',
    inferHandler(risk, {
      guard,
      timeoutMs: 500,
      schema: z.object({ customerEmail: z.string().email().optional(), features: z.array(z.number().min(-10).max(10)).length(8) }),
      input: (body) => ({ features: Float32Array.from(body.features) }),
      output: (result, request) => {
        // Redaction by the guard replaces customerEmail in the answer.
        const probabilities = Array.from((result as unknown as Record<string, TensorValue>).probabilities?.data as Float32Array);
        return { fraud: probabilities[1], probabilities, customerEmail: request.body.customerEmail };
      },
    }),
  );
  app.use(errorHandler());

  return { app, key, shutdown: (server) => router.shutdown({ server }) };
}
