/**
 * Two versions of Ballast's Fastify plugin in one process, for measuring a change to the serving
 * path: this checkout's (B) against another checkout's (A, e.g. a `git worktree` of main), each
 * served by its own Fastify app with its own guard (bench/_http-request.ts of its checkout), both
 * calling one in-process ONNX MLP. Rounds alternate A and B under autocannon (the first of each
 * pair alternates too), so load from other processes on a shared machine falls on both; each
 * round's server CPU per request is compared in pairs. Separate processes differ by more than a
 * small change does (JIT decisions, memory layout), and a pair of rounds in one process does not.
 *
 *   git worktree add --detach /tmp/ballast-main main && (cd /tmp/ballast-main && pnpm install --offline)
 *   node --conditions=source --import tsx/esm bench/_http-ab.ts /tmp/ballast-main [pairs] [seconds] [otel]
 *
 * `otel` runs both sides with @ballast/otel's instrument() (no SDK), as bench/http.ts runs Ballast.
 * Prints each side's CPU µs per request per round, the medians, and the median of B − A.
 */
import { resolve } from 'node:path';
import { defineModel, type InferOptions } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { instrument } from '@ballast/otel';
import Fastify from 'fastify';
import { autocannon } from './_http-request.js';

const [other, pairsArg, secondsArg, otel] = process.argv.slice(2);
if (other === undefined) throw new Error('usage: bench/_http-ab.ts <other checkout> [pairs] [seconds]');
const pairs = Number(pairsArg ?? 12);
const seconds = Number(secondsArg ?? 2);
const here = resolve(import.meta.dirname, '..');

// One ONNX runtime per process: both versions call this model.
const onnx = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [16, 64, 4], seed: 5 }) }), name: 'mlp' });

interface Side {
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function start(root: string): Promise<Side> {
  const { ballastFastify } = (await import(`${root}/packages/fastify/src/index.ts`)) as typeof import('@ballast/fastify');
  const { BENCH_BODY, benchGuard } = (await import(`${root}/bench/_http-request.ts`)) as typeof import('./_http-request.js');
  const model = defineModel({ name: 'mlp', infer: (input: unknown, options?: InferOptions) => onnx.infer(input as never, options) });
  const { guard, authorization } = await benchGuard();
  const app = Fastify();
  await app.register(ballastFastify({ models: [model], guard: guard as never, timeoutMs: 5_000 }));
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `${base}/v2/models/mlp/infer`, headers: { authorization }, body: BENCH_BODY };
}

async function cpuPerRequest(side: Side, duration: string[]): Promise<number> {
  const cpu = process.cpuUsage();
  const result = await autocannon(side, duration);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / result.requests.total;
}

const telemetry = otel === 'otel' ? instrument() : undefined;
const a = await start(resolve(other));
const b = await start(here);
await cpuPerRequest(a, ['-a', '3000']);
await cpuPerRequest(b, ['-a', '3000']);
const rounds: { a: number; b: number }[] = [];
for (let i = 0; i < pairs; i++) {
  const duration = ['-d', String(seconds)];
  if (i % 2 === 0) {
    const x = await cpuPerRequest(a, duration);
    rounds.push({ a: x, b: await cpuPerRequest(b, duration) });
  } else {
    const y = await cpuPerRequest(b, duration);
    rounds.push({ a: await cpuPerRequest(a, duration), b: y });
  }
}
const median = (list: number[]) => [...list].sort((p, q) => p - q)[Math.floor(list.length / 2)] as number;
const differences = rounds.map((r) => r.b - r.a);
console.log(`A (${resolve(other)}): ${rounds.map((r) => r.a.toFixed(1)).join(' ')} µs CPU/request`);
console.log(`B (${here}): ${rounds.map((r) => r.b.toFixed(1)).join(' ')} µs CPU/request`);
console.log(
  `median A ${median(rounds.map((r) => r.a)).toFixed(2)}, B ${median(rounds.map((r) => r.b)).toFixed(2)}; median of B − A ${median(differences).toFixed(2)} µs; B below A in ${differences.filter((d) => d < 0).length} of ${pairs}`,
);
telemetry?.shutdown();
process.exit(0);
