/**
 * The servers bench/http.ts compares (and bench/_http-focus.ts profiles): each Ballast adapter
 * and its bare framework, serving the same single-row v2 infer request on the same in-process
 * ONNX MLP (16→64→4, micro-batched). Every Ballast server runs the full serving core: API-key
 * auth (HMAC), authorization, a per-principal rate limit, v2 validation + input ranges, request
 * ids, audit off. The bare servers do what a minimal hand-written server does: parse the JSON
 * body with the framework's parser, run the model, encode the v2 answer as JSON. The checked
 * Fastify server adds the hand-written reference of Ballast's checks (bench/_http-request.ts).
 */
import 'reflect-metadata';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { defineModel } from '@ballast/core';
import { ballastRouter } from '@ballast/express';
import { ballastFastify } from '@ballast/fastify';
import { BallastModule } from '@ballast/nest';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { Body, Controller, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { BENCH_BODY, benchGuard, checkedReference, v2Answer } from './_http-request.js';

// The bench workspace has no type packages for express: load it untyped and describe the few
// members used here.
interface JsonRequest {
  body: { id?: string; inputs: { data: number[] }[] };
}
interface JsonResponse {
  json(body: unknown): void;
  status(code: number): JsonResponse;
}
interface App {
  post(path: string, ...handlers: unknown[]): void;
  use(handler: unknown): void;
  listen(port: number, host: string): Server;
}
type Express = (() => App) & { json(): unknown };
const require = createRequire(import.meta.url);
const express = require('express') as Express;

/** The servers by name. */
export const SERVER_NAMES = ['bare-express', 'express', 'bare-fastify', 'checked-fastify', 'fastify', 'bare-nest', 'nest'] as const;

/** A started server. */
export interface StartedServer {
  /** The infer URL. */
  url: string;
  /** Headers every request sends: the API key, to every server alike. */
  headers: Record<string, string>;
  /** The request body. */
  body: string;
  /** Stops the server (the model stays open: see {@link closeHttpModel}). */
  close(): Promise<void>;
}

const onnx = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 5 }) }), name: 'mlp' });
// Every server shares the model; closing is left to the end of the run.
const model = defineModel({ name: 'mlp', infer: (input: unknown, options) => onnx.infer(input as never, options) });

// The hand-written handler: what an app would write without Ballast (the same in every framework).
async function bareInfer(body: JsonRequest['body']): Promise<unknown> {
  const tensor = body.inputs[0];
  const out = (await model.infer({ input: { data: Float32Array.from(tensor?.data ?? []), dims: [16] } })) as unknown as Record<
    string,
    { data: Float32Array; dims: number[] }
  >;
  return v2Answer(body.id, out.output as { data: Float32Array; dims: number[] });
}

// The hand-written reference of Ballast's checks (bench/_http-request.ts), as a Fastify route.
function checkedInfer(authorization: string) {
  const check = checkedReference(authorization);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const startedAt = performance.now();
    const checked = check(request.headers, request.body, startedAt);
    if (!('values' in checked)) return reply.code(checked.status).send({ error: checked.error });
    reply.header('x-request-id', checked.requestId);
    const out = (await model.infer({ input: { data: checked.values, dims: [16] } }, { deadline: startedAt + 5_000 })) as unknown as Record<
      string,
      { data: Float32Array; dims: number[] }
    >;
    return v2Answer(checked.id, out.output as { data: Float32Array; dims: number[] });
  };
}

@Controller('v2/models/mlp')
class BareController {
  @Post('infer')
  @HttpCode(200)
  infer(@Body() body: JsonRequest['body']): Promise<unknown> {
    return bareInfer(body);
  }
}
@Module({ controllers: [BareController] })
class BareNestModule {}

const { guard, authorization } = await benchGuard();
const auth = { authorization };

const shutdowns: (() => Promise<void>)[] = [];

async function listen(app: App): Promise<{ base: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function nest(module: unknown): Promise<{ base: string; close: () => Promise<void> }> {
  const app = await NestFactory.create(module as never, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { base: (await app.getUrl()).replace('[::1]', '127.0.0.1'), close: () => app.close() };
}

/** Starts one server by name. */
export async function startHttpServer(name: string): Promise<StartedServer> {
  let started: { base: string; close: () => Promise<void> };
  if (name === 'bare-express') {
    const bare = express();
    bare.post('/v2/models/mlp/infer', express.json(), async (request: JsonRequest, res: JsonResponse) => {
      try {
        res.json(await bareInfer(request.body));
      } catch (error) {
        res.status(500).json({ error: String(error) });
      }
    });
    started = await listen(bare);
  } else if (name === 'express') {
    const router = ballastRouter({ models: [model], guard, timeoutMs: 5_000 });
    const app = express();
    app.use(router);
    started = await listen(app);
    shutdowns.push(() => router.shutdown({ closeModels: false }));
  } else if (name === 'bare-fastify' || name === 'checked-fastify' || name === 'fastify') {
    // The reference has the body limit of the benchmark's guard.
    const app = Fastify(name === 'checked-fastify' ? { bodyLimit: 64 * 1024 } : {});
    if (name === 'checked-fastify') app.post('/v2/models/mlp/infer', checkedInfer(authorization));
    else if (name === 'bare-fastify') {
      app.post('/v2/models/mlp/infer', async (request) => bareInfer(request.body as JsonRequest['body']));
    } else {
      const plugin = ballastFastify({ models: [model], guard, timeoutMs: 5_000 });
      await app.register(plugin);
      shutdowns.push(() => plugin.shutdown({ closeModels: false }));
    }
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    started = { base, close: () => app.close() };
  } else if (name === 'bare-nest') {
    started = await nest(BareNestModule);
  } else if (name === 'nest') {
    @Module({ imports: [BallastModule.forRoot({ models: [model], guard, v2: true, timeoutMs: 5_000 })] })
    class BallastNestModule {}
    started = await nest(BallastNestModule);
  } else throw new Error(`unknown server "${name}" (one of ${SERVER_NAMES.join(', ')})`);
  // Every server gets the same request, the API key included: a bare server ignores the header
  // (its HTTP parser still reads it, as Ballast's does), so the comparison is of the servers' work.
  return { url: `${started.base}/v2/models/mlp/infer`, headers: auth, body: BENCH_BODY, close: started.close };
}

/** Drains the Ballast servers' cores and closes the shared model: call once, at the end. */
export async function closeHttpModel(): Promise<void> {
  for (const shutdown of shutdowns) await shutdown();
  await onnx.close();
}
