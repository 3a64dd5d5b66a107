import http from 'node:http';
import net from 'node:net';
import { BallastError, defineModel, type InferOptions, signalOf, type TensorValue } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ballastRouter } from './router.js';
import { listen } from './test-server.js';

type Row = Record<string, { data: ArrayLike<number>; dims: readonly number[] }>;
type Out = Record<string, TensorValue>;

const echo = (name: string, delayMs = 0) =>
  defineModel({
    name,
    infer: async (row: Row): Promise<Out> => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { y: { type: 'float32', dims: [...(row.x?.dims ?? [])], data: Float32Array.from(row.x?.data ?? []) } };
    },
  });
const body = (rows = 1, datatype = 'FP32', name = 'x') =>
  JSON.stringify({ inputs: [{ name, shape: [rows, 2], datatype, data: Array.from({ length: rows * 2 }, (_, i) => i % 100) }] });

afterEach(() => {
  vi.restoreAllMocks();
});

// Sends raw bytes on a fresh socket and resolves with whatever the server answers until it closes.
function rawRequest(port: number, text: string): { socket: net.Socket; answer: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(text);
  const answer = new Promise<string>((resolve) => {
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    socket.on('close', () => resolve(received));
    socket.on('error', () => resolve(received));
  });
  return { socket, answer };
}

describe('slow request bodies and shutdown', () => {
  it('answers 408 when a body does not arrive within the request budget, and closes the connection', async () => {
    const router = ballastRouter({ models: [echo('m')], timeoutMs: 300 });
    const { server, close } = await listen(express().use(router));
    const { port } = server.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const { answer } = rawRequest(
        port,
        'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"inputs": [',
      );
      const text = await answer;
      expect(text.startsWith('HTTP/1.1 408')).toBe(true);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(text).toContain('"code":"TIMEOUT"');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await close();
      await router.shutdown({ drainTimeoutMs: 0 });
    }
  });

  it('closes the remaining connections once drainTimeoutMs is over, slow bodies included', async () => {
    const router = ballastRouter({ models: [echo('m')], timeoutMs: 60_000 });
    const { server } = await listen(express().use(router));
    const { port } = server.address() as net.AddressInfo;
    const slow = [0, 1, 2].map(() =>
      rawRequest(
        port,
        'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"inputs": [',
      ),
    );
    while (router.inFlight < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    await router.shutdown({ server, drainTimeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.listening).toBe(false);
    await Promise.all(slow.map((s) => s.answer));
    for (const { socket } of slow) expect(socket.destroyed).toBe(true);
  });

  it('answers 503 with Connection: close on keep-alive connections during the drain', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = defineModel({
      name: 'held',
      infer: async (row: Row): Promise<Out> => {
        await gate;
        return { y: { type: 'float32', dims: [...(row.x?.dims ?? [])], data: Float32Array.from(row.x?.data ?? []) } };
      },
    });
    const router = ballastRouter({ models: [held] });
    const { url, server } = await listen(express().use(router));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const post = () =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const request = http.request(`${url}/v2/models/held/infer`, { method: 'POST', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        request.on('error', reject);
        request.end(body());
      });
    try {
      // Warm keep-alive connections, then hold one request so the drain has something to wait for.
      const held1 = post();
      while (router.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const stopping = router.shutdown({ server, drainTimeoutMs: 5_000 });
      const during = await Promise.all(Array.from({ length: 8 }, () => post()));
      for (const answer of during) expect(answer).toEqual({ status: 503, connection: 'close' });
      release();
      expect(await held1).toEqual({ status: 200, connection: 'close' });
      await stopping;
    } finally {
      agent.destroy();
    }
  });
});

describe('internal errors are reported', () => {
  const broken = defineModel({
    name: 'broken',
    infer: async (): Promise<Out> => ({ y: 'not a tensor' }) as unknown as Out,
  });

  it('logs a 500 with its request id when no onError is given', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(' '));
    });
    const router = ballastRouter({ models: [broken] });
    const { url, close } = await listen(express().use(router));
    try {
      const response = await fetch(`${url}/v2/models/broken/infer`, {
        method: 'POST',
        body: body(),
        headers: { 'x-request-id': 'req-500-a' },
      });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal error', code: 'INTERNAL' });
      expect(logged.some((line) => line.includes('req-500-a') && line.includes('is not a tensor'))).toBe(true);
    } finally {
      await close();
      await router.shutdown();
    }
  });

  it('calls onError instead of the default for every 5xx on every route', async () => {
    const logged: unknown[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args);
    });
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
    const failingAdmin = express.Router().get('/boom', () => {
      throw new BallastError('MODEL_UNAVAILABLE', 'admin backend down');
    });
    const router = ballastRouter({
      models: [broken, stuck, unavailable],
      timeoutMs: 50,
      onError: (error) => seen.push(error.code),
      mount: [{ path: '/admin', handler: failingAdmin, action: false }],
    });
    const { url, close } = await listen(express().use(router));
    try {
      expect((await fetch(`${url}/v2/models/broken/infer`, { method: 'POST', body: body() })).status).toBe(500);
      expect((await fetch(`${url}/v2/models/stuck/infer`, { method: 'POST', body: body() })).status).toBe(504);
      expect((await fetch(`${url}/v2/models/unavailable/infer`, { method: 'POST', body: body() })).status).toBe(503);
      expect((await fetch(`${url}/admin/boom`)).status).toBe(503);
      expect(seen).toEqual(['INTERNAL', 'TIMEOUT', 'MODEL_UNAVAILABLE', 'MODEL_UNAVAILABLE']);
      expect(logged).toEqual([]);
    } finally {
      await close();
      await router.shutdown();
    }
  });
});

describe('v2 datatypes are checked against the model inputs', () => {
  it('answers 400 naming the input for INT8 or FP64 data sent to an FP32 input', async () => {
    const mlp = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [4, 8, 3], seed: 3 }) }), name: 'mlp' });
    const router = ballastRouter({ models: [mlp] });
    const { url, close } = await listen(express().use(router));
    const send = (datatype: string) =>
      fetch(`${url}/v2/models/mlp/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype, data: [1, 2, 3, 4] }] }),
      });
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
      await close();
      await router.shutdown();
    }
  });
});

describe('large batches on one request signal', () => {
  it('serves 64-row requests at 16 connections without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    // Slower than the signal grace period, so every row's scope watches the request signal.
    const router = ballastRouter({ models: [echo('slow', 5)] });
    const { url, close } = await listen(express().use(router));
    try {
      const statuses = await Promise.all(
        Array.from({ length: 16 }, async () => {
          const answers: number[] = [];
          for (let i = 0; i < 4; i++) answers.push((await fetch(`${url}/v2/models/slow/infer`, { method: 'POST', body: body(64) })).status);
          return answers;
        }),
      );
      expect(statuses.flat().every((status) => status === 200)).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await close();
      await router.shutdown();
    }
  });
});
