/**
 * The "remote" copy of the weather model: a second process serving the same ONNX file over the
 * Open Inference Protocol v2 (as KServe or Triton would), with a fault switch the demo flips to
 * make it fail or hang.
 *
 *   tsx --conditions=source src/remote-server.ts [--port 0]
 * Prints one JSON line `{ "port": <n> }` when it listens. POST /admin/fault {"mode":"error"|"hang"|"none"}.
 */
import { join } from 'node:path';
import { BallastError, type Middleware, type Model, pipeline } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { onnxModel } from '@ballast/onnx';
import express from 'express';

/** What the fault switch does to each call. */
export type FaultMode = 'none' | 'error' | 'hang';

/** A middleware whose behaviour the demo switches at run time. */
export function faultSwitch(state: { mode: FaultMode }): Middleware {
  return <I, O>(next: Model<I, O>): Model<I, O> => ({
    name: next.name,
    ...(next.version === undefined ? {} : { version: next.version }),
    infer(input: I, options) {
      if (state.mode === 'error') return Promise.reject(new BallastError('MODEL_UNAVAILABLE', 'injected fault: the remote model is down'));
      if (state.mode === 'hang') return new Promise<O>(() => {}); // the caller's deadline ends it
      return next.infer(input, options);
    },
    ...(next.health ? { health: () => (next.health as NonNullable<Model['health']>)() } : {}),
    ...(next.close ? { close: () => (next.close as NonNullable<Model['close']>)() } : {}),
  });
}

/** Starts the remote server; resolves with its port and a stop function. */
export async function startRemote(port = 0): Promise<{ port: number; state: { mode: FaultMode }; stop: () => Promise<void> }> {
  const state: { mode: FaultMode } = { mode: 'none' };
  const onnx = await onnxModel({
    path: join(import.meta.dirname, '..', 'model', 'weather.onnx'),
    name: 'weather',
    version: '1',
    workers: 0,
  });
  const model = pipeline(onnx, faultSwitch(state));
  const app = express();
  app.post('/admin/fault', express.json(), (request, response) => {
    const mode = (request.body as { mode?: unknown } | undefined)?.mode;
    if (mode !== 'none' && mode !== 'error' && mode !== 'hang') {
      response.status(400).json({ error: { code: 'INVALID_INPUT', message: 'mode must be none, error or hang' } });
      return;
    }
    state.mode = mode;
    response.json({ mode });
  });
  const router = ballastRouter({ models: { weather: model }, metadata: {} });
  app.use(router);
  const server = app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: actual,
    state,
    stop: async () => {
      state.mode = 'none';
      server.closeAllConnections();
      await router.shutdown({ server, drainTimeoutMs: 500 });
    },
  };
}

if (process.argv[1] === import.meta.filename) {
  const index = process.argv.indexOf('--port');
  const remote = await startRemote(index > 0 ? Number(process.argv[index + 1]) : 0);
  process.stdout.write(`${JSON.stringify({ port: remote.port })}\n`);
  const stop = () => {
    remote.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
