/**
 * The serving core's infer flow in a loop, without sockets, for profiling and for µs per request:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=source --import tsx/esm bench/_serving-core-focus.ts [requests] [otel|reference] [alloc]
 * The guard and request of bench/http.ts (API key, rate limit, input ranges) on a trivial model;
 * `otel` adds @ballast/otel's instrument() (no SDK); `reference` runs instead the hand-written
 * checks of bench/_http-servers.ts's `checked-fastify` server on the same request objects (the
 * minimal reference for the core's work). Prints µs per request. `alloc` also samples what the
 * measured requests allocate (V8's sampling heap profiler, collected objects included) and prints
 * the bytes per request, in all and by the function that allocated them: a figure that, unlike
 * time, does not move with the machine's load. `lines` with it adds each function's first line.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { defineModel } from '@ballast/core';
import { instrument } from '@ballast/otel';
import { createServingCore, readJsonBodyNow, type ServingExchange } from '../packages/serving/src/index.js';
import { sampleAllocations } from './_alloc.js';
import { BENCH_BODY, benchGuard, checkedReference, v2Answer } from './_http-request.js';

const requests = Number(process.argv[2] ?? 200_000);
const telemetry = process.argv.includes('otel') ? instrument() : undefined;
const output = { output: { type: 'float32' as const, dims: [4], data: new Float32Array([0.1, 0.2, 0.3, 0.4]) } };
const model = defineModel({ name: 'mlp', infer: async () => output });
const { guard, authorization } = await benchGuard();
const core = createServingCore({ models: [model], guard, timeoutMs: 5_000 });
const bytes = Buffer.from(BENCH_BODY);
const socket = new Socket();

class Exchange implements ServingExchange {
  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
  ) {}
  readBody(limit: number | undefined, deadline: number): unknown {
    return readJsonBodyNow(this.request, limit ?? 1 << 20, deadline);
  }
}

// The hand-written reference of Ballast's checks (bench/_http-request.ts), over the same objects.
const check = checkedReference(authorization);
async function reference(request: IncomingMessage, response: ServerResponse): Promise<{ status: number; body: unknown }> {
  const startedAt = performance.now();
  const body = JSON.parse((request.read() as Buffer).toString()) as unknown;
  const checked = check(request.headers, body, startedAt);
  if (!('values' in checked)) return { status: checked.status, body: { error: checked.error } };
  response.setHeader('x-request-id', checked.requestId);
  const out = (await model.infer({ input: checked.values }, { deadline: startedAt + 5_000 })) as typeof output;
  return { status: 200, body: v2Answer(checked.id, out.output) };
}
const useReference = process.argv.includes('reference');

async function once(): Promise<void> {
  const request = new IncomingMessage(socket);
  request.headers = { authorization, 'content-type': 'application/json', 'content-length': String(bytes.length) };
  request.method = 'POST';
  request.url = '/v2/models/mlp/infer';
  // As a small request arrives: headers and body in one packet, the body buffered, complete.
  request.push(bytes);
  request.push(null);
  request.complete = true;
  const response = new ServerResponse(request);
  const answer = useReference ? await reference(request, response) : await core.infer(new Exchange(request, response), 'mlp', undefined);
  if (answer.status !== 200) throw new Error(JSON.stringify(answer.body));
  JSON.stringify(answer.body);
  // As after a response written in full: the client did not go away.
  Object.defineProperty(response, 'writableFinished', { value: true });
  response.emit('close');
}

for (let i = 0; i < 20_000; i++) await once();

const stopSampling = process.argv.includes('alloc') ? await sampleAllocations({ lines: process.argv.includes('lines') }) : undefined;
let best = Number.POSITIVE_INFINITY;
for (let round = 0; round < 5; round++) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < requests / 5; i++) await once();
  best = Math.min(best, Number(process.hrtime.bigint() - started) / (requests / 5) / 1000);
}
console.log(
  `${useReference ? 'hand-written reference' : 'serving core infer flow'}: ${best.toFixed(2)} µs per request${telemetry === undefined ? '' : ' (instrumented)'}${stopSampling === undefined ? '' : ' (timed while sampling: not comparable)'}`,
);
await stopSampling?.(requests);
telemetry?.shutdown();
