import 'reflect-metadata';
import net from 'node:net';
import { createClient } from '@ballast/client';
import { BallastError, defineModel, type InferOptions, type Model, signalOf, type TensorValue } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { type LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { BallastModule } from './module.js';
import type { BallastModuleOptions } from './options.js';

type Row = Record<string, { data: ArrayLike<number>; dims: readonly number[] }>;
type Out = Record<string, TensorValue>;

const answer: Out = { y: { type: 'float32', dims: [1], data: Float32Array.of(0) } };
const body = (rows = 1, first = 1) =>
  JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 1], datatype: 'FP32', data: Array.from({ length: rows }, () => first) }] });
const down = (name: string) =>
  defineModel({
    name,
    infer: async (_row: Row): Promise<Out> => {
      throw new BallastError('UPSTREAM', 'the upstream is down');
    },
  });

// Collects what Nest's Logger writes at the error level.
function collectingLogger(lines: string[]): LoggerService {
  return { log() {}, warn() {}, debug() {}, verbose() {}, error: (message: unknown) => lines.push(String(message)) };
}

async function start(options: BallastModuleOptions, logger: LoggerService | false = false) {
  @Module({ imports: [BallastModule.forRoot({ v2: true, ...options })] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger });
  await app.listen(0, '127.0.0.1');
  const base = await app.getUrl();
  const post = (path: string, text: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', body: text, headers: { 'content-type': 'application/json', ...headers } });
  return { app, base, post };
}

describe('nest readiness and circuit breakers', () => {
  it('stays ready while a fallback answers; a keyed breaker never changes readiness', async () => {
    const withFallback = createClient({
      model: down('scored'),
      breaker: { consecutiveFailures: 1, openMs: 60_000 },
      fallback: [{ value: answer }],
    });
    const keyed = createClient({
      model: defineModel({
        name: 'tenants',
        infer: async (row: Row): Promise<Out> => {
          if (row.x?.data[0] === 7) throw new BallastError('UPSTREAM', 'tenant 7 is broken');
          return answer;
        },
      }),
      breaker: { consecutiveFailures: 1, openMs: 60_000, key: (row) => String((row as Row).x?.data[0]) },
    });
    const { app, base, post } = await start({ models: [withFallback, keyed] as Model[] });
    try {
      for (let i = 0; i < 2; i++) expect((await post('/v2/models/scored/infer', body())).status).toBe(200);
      expect(withFallback.breaker?.state()).toBe('open');
      expect((await post('/v2/models/tenants/infer', body(1, 7))).status).toBe(502);
      expect(keyed.breaker?.state('7')).toBe('open');
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
      expect((await fetch(`${base}/v2/models/scored/ready`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('ties readiness to the breaker with readinessFollowsBreakers', async () => {
    const client = createClient({
      model: down('tied'),
      breaker: { consecutiveFailures: 1, openMs: 60_000 },
      fallback: [{ value: answer }],
    });
    const { app, base, post } = await start({ models: [client] as Model[], readinessFollowsBreakers: true });
    try {
      expect((await post('/v2/models/tied/infer', body())).status).toBe(200);
      expect((await fetch(`${base}/v2/health/ready`)).status).toBe(503);
    } finally {
      await app.close();
    }
  });
});

describe('nest error reports', () => {
  const broken = defineModel({ name: 'broken', infer: async (): Promise<Out> => ({ y: 'not a tensor' }) as unknown as Out });

  it('logs a 500 with its request id', async () => {
    const lines: string[] = [];
    const { app, post } = await start({ models: [broken] }, collectingLogger(lines));
    try {
      const response = await post('/v2/models/broken/infer', body(), { 'x-request-id': 'nest-500-a' });
      expect(response.status).toBe(500);
      expect(lines.some((line) => line.includes('nest-500-a') && line.includes('is not a tensor'))).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('calls onError instead, for every 5xx', async () => {
    const lines: string[] = [];
    const seen: string[] = [];
    const stuck = defineModel({
      name: 'stuck',
      infer: (_row: Row, options?: InferOptions) =>
        new Promise<Out>((_, reject) => signalOf(options)?.addEventListener('abort', () => reject(new Error('aborted')))),
    });
    const unavailable = defineModel({
      name: 'unavailable',
      infer: async (): Promise<Out> => {
        throw new BallastError('MODEL_UNAVAILABLE', 'warming up');
      },
    });
    const { app, post } = await start(
      { models: [broken, stuck, unavailable], timeoutMs: 50, onError: (error) => seen.push(error.code) },
      collectingLogger(lines),
    );
    try {
      expect((await post('/v2/models/broken/infer', body())).status).toBe(500);
      expect((await post('/v2/models/stuck/infer', body())).status).toBe(504);
      expect((await post('/v2/models/unavailable/infer', body())).status).toBe(503);
      expect(seen).toEqual(['INTERNAL', 'TIMEOUT', 'MODEL_UNAVAILABLE']);
      expect(lines).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('nest v2 datatypes and large batches', () => {
  it('answers 400 naming the input for INT8 or FP64 data sent to an FP32 input', async () => {
    const mlp = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [4, 8, 3], seed: 3 }) }), name: 'mlp' });
    const { app, post } = await start({ models: [mlp] });
    const send = (datatype: string) =>
      post('/v2/models/mlp/infer', JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype, data: [1, 2, 3, 4] }] }));
    try {
      for (const datatype of ['INT8', 'FP64']) {
        const response = await send(datatype);
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({
          code: 'INVALID_INPUT',
          details: { input: 'input', expected: 'FP32', got: datatype },
        });
      }
      expect((await send('FP32')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('serves 64-row requests at 16 connections without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const slow = defineModel({
      name: 'slow',
      infer: async (): Promise<Out> => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return answer;
      },
    });
    const { app, post } = await start({ models: [slow], timeoutMs: 10_000 });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 16 }, async () => {
          const out: number[] = [];
          for (let i = 0; i < 4; i++) out.push((await post('/v2/models/slow/infer', body(64))).status);
          return out;
        }),
      );
      expect(statuses.flat().every((status) => status === 200)).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await app.close();
    }
  });
});

describe('nest shutdown with slow clients', () => {
  it('closes connections still open when drainTimeoutMs is over (bodies sent half way)', async () => {
    const { app, base } = await start({ models: [defineModel({ name: 'm', infer: async () => answer })], drainTimeoutMs: 300 });
    const port = Number(new URL(base).port);
    const sockets = [0, 1, 2].map(() => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(
        'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"inputs": [',
      );
      return socket;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const socket of sockets) expect(socket.destroyed || socket.readableEnded).toBe(true);
    for (const socket of sockets) socket.destroy();
  });
});
