import http from 'node:http';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defineModel, type TensorValue } from '@ballast/core';
import { apiKeys, createGuard, isAllowed, memoryKeyStore, type RolePolicies } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { mlpModel, randomLayers } from '@ballast/onnx/testing';
import { rollout, rolloutAdmin } from '@ballast/rollout';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolloutAdminRoutes } from './rollout-admin.js';
import { ballastRouter } from './router.js';
import { listen } from './test-server.js';

/*
 * 20,000 random or malformed requests (bodies, headers, paths, methods) against a real server:
 * none may answer 5xx, the process must stay up and the heap must not grow with the traffic.
 */

const TOTAL = 20_000;
const CONCURRENCY = 32;

// mulberry32: deterministic, so a failure can be replayed.
let state = 0x5eed;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

const PRINTABLE = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-._~%/:@!$&'()*+,;=";
const randomText = (alphabet: string, max: number) => Array.from({ length: int(max) }, () => alphabet[int(alphabet.length)]).join('');

function randomScalar(): unknown {
  return pick([
    () => random() * 2000 - 1000,
    () => int(300) - 150,
    () => 1e308 * 10,
    () => -0,
    () => randomText(PRINTABLE, 8),
    () => random() < 0.5,
    () => null,
    () => ({}),
    () => [],
    () => Number.MAX_SAFE_INTEGER + 2,
  ])();
}

function randomValue(depth: number): unknown {
  if (depth > 4 || random() < 0.4) return randomScalar();
  if (random() < 0.5) return Array.from({ length: int(6) }, () => randomValue(depth + 1));
  return Object.fromEntries(
    Array.from({ length: int(5) }, () => [
      pick([
        'inputs',
        'id',
        'name',
        'shape',
        'datatype',
        'data',
        'outputs',
        'parameters',
        '__proto__',
        'constructor',
        randomText(PATH_CHARS, 6),
      ]),
      randomValue(depth + 1),
    ]),
  );
}

const DATATYPES = [
  'FP32',
  'FP64',
  'FP16',
  'INT8',
  'UINT8',
  'INT16',
  'UINT16',
  'INT32',
  'UINT32',
  'INT64',
  'UINT64',
  'BOOL',
  'BYTES',
  'fp32',
  'FP128',
  '',
];

function randomTensor(): Record<string, unknown> {
  const rank = int(4);
  const shape = Array.from({ length: rank }, () => pick([0, 1, 2, 3, 4, -1, 1e9, 2.5]));
  const count = Math.max(
    0,
    Math.min(
      64,
      shape.reduce((a, b) => a * Math.max(0, b), 1),
    ),
  );
  const tensor: Record<string, unknown> = {
    name: pick(['x', 'input', 'note', '', randomText(PATH_CHARS, 10)]),
    shape: random() < 0.1 ? randomValue(1) : shape,
    datatype: pick(DATATYPES),
    data:
      random() < 0.1
        ? randomValue(1)
        : Array.from({ length: random() < 0.8 ? count : int(10) }, () => (random() < 0.9 ? random() * 4 - 2 : randomScalar())),
  };
  if (random() < 0.1) delete tensor[pick(['name', 'shape', 'datatype', 'data'])];
  if (random() < 0.05) tensor.data = [tensor.data];
  return tensor;
}

// Built once: over the 16 KiB limit of the test guard.
const TOO_LARGE = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 20000], datatype: 'FP32', data: new Array(20000).fill(1) }] });

function randomBody(): string | Buffer | undefined {
  return pick([
    () => undefined,
    () => JSON.stringify({ id: randomText(PRINTABLE, 12), inputs: Array.from({ length: 1 + int(3) }, randomTensor) }),
    () =>
      JSON.stringify({
        inputs: [
          { name: 'input', shape: [1 + int(3), 4], datatype: 'FP32', data: Array.from({ length: 4 * (1 + int(3)) }, () => random()) },
        ],
      }),
    () =>
      JSON.stringify({
        inputs: [{ name: 'x', shape: [2, 2], datatype: pick(DATATYPES), data: [1, 2, 3, 4] }],
        outputs: [{ name: pick(['y', 'z', '']) }],
      }),
    () => JSON.stringify(randomValue(0)),
    () => JSON.stringify({ inputs: randomTensor() }).slice(0, int(60)),
    () => '['.repeat(3000) + ']'.repeat(int(3000)),
    () => Buffer.from(Array.from({ length: int(200) }, () => int(256))),
    () => randomText(PRINTABLE, 300),
    () => TOO_LARGE,
  ])();
}

const KEY_HOLDER = { key: '' };

function randomHeaders(body: string | Buffer | undefined): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {};
  const auth = random();
  if (auth < 0.7) headers.authorization = `Bearer ${KEY_HOLDER.key}`;
  else if (auth < 0.8) headers.authorization = randomText(PRINTABLE, 60).trim() || 'x';
  else if (auth < 0.9) headers['x-api-key'] = `bk_${randomText('0123456789abcdef', 16)}_${randomText('abcdef', 43)}`;
  if (random() < 0.7)
    headers['content-type'] = pick([
      'application/json',
      'text/plain',
      'application/json; charset=utf-16',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      randomText(PRINTABLE, 20).trim() || 'a/b',
    ]);
  if (random() < 0.2) headers['content-encoding'] = pick(['gzip', 'br', 'identity', 'bogus']);
  if (random() < 0.2) headers['x-request-id'] = randomText(PRINTABLE, 200).trim() || 'id';
  // Malformed budgets only: a small valid one (say 5 ms) would rightly answer 504 under load.
  if (random() < 0.2) headers['x-timeout-ms'] = pick(['-1', '0', '1e9', 'NaN', 'Infinity', randomText('abcxyz-', 5) || 'x']);
  // A shorter Content-Length than the body (a longer one would make the server wait, rightly, for bytes never sent).
  if (body !== undefined && Buffer.byteLength(body) > 0 && random() < 0.05) headers['content-length'] = String(Buffer.byteLength(body) - 1);
  return headers;
}

function randomPath(): string {
  const model = pick(['mlp', 'doubler', 'nope', '', '%E0%A4%A', '%00', '..', randomText(PATH_CHARS, 12)]);
  return pick([
    () => `/v2/models/${model}/infer`,
    () => `/v2/models/${model}/versions/${pick(['1', '2', '', '%FF'])}/infer`,
    () => `/v2/models/${model}`,
    () => `/v2/models/${model}/ready`,
    () => '/v2/health/ready',
    () => '/v2/health/live',
    () => '/v2',
    () => `/${randomText(PATH_CHARS, 40)}`,
    () => `/v2/${randomText(PATH_CHARS, 300)}`,
    () => `/v2/models/mlp/infer?${randomText(PATH_CHARS, 30)}`,
  ])();
}

interface Outcome {
  status: number;
  body: string;
  request: string;
}

function send(agent: http.Agent, port: number): Promise<Outcome> {
  const body = randomBody();
  const method = random() < 0.8 ? 'POST' : pick(['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'HEAD']);
  const path = randomPath();
  const headers = randomHeaders(body);
  const description = `${method} ${path} ${JSON.stringify(headers)} ${String(body).slice(0, 200)}`;
  return new Promise((resolve) => {
    const request = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8', 0, 500), request: description }),
      );
      response.on('error', () => resolve({ status: -1, body: '', request: description }));
    });
    request.on('error', () => resolve({ status: -1, body: '', request: description }));
    // A request left unanswered counts as a hang (status -2).
    request.setTimeout(5000, () => {
      resolve({ status: -2, body: '', request: description });
      request.destroy();
    });
    request.end(body);
  });
}

let port = 0;
let close: () => Promise<void> = async () => {};
let gc: (() => void) | undefined;

beforeAll(async () => {
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as () => void;
  const keys = apiKeys({ secret: 'a-server-secret-that-is-long-enough!', store: memoryKeyStore() });
  KEY_HOLDER.key = (await keys.create({ principalId: 'fuzzer', roles: ['infer', 'read'] })).key;
  const guard = createGuard({ keys, input: { maxBodyBytes: 16 * 1024, maxTextLength: 100, injection: true } });
  const doubler = defineModel({
    name: 'doubler',
    version: '2',
    infer: async (row: Record<string, { data: ArrayLike<number>; dims: readonly number[] }>): Promise<Record<string, TensorValue>> => {
      const out: Record<string, TensorValue> = {};
      for (const [name, tensor] of Object.entries(row)) {
        out[`y-${name}`] = {
          type: 'float64',
          dims: [...tensor.dims],
          data: Float64Array.from(tensor.data as ArrayLike<number>, (v) => Number(v) * 2),
        };
      }
      return out;
    },
  });
  const mlp = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [4, 8, 2] }) }), name: 'mlp' });
  const router = ballastRouter({ models: [mlp, doubler], guard });
  const app = express();
  app.use(router);
  const started = await listen(app);
  port = Number(new URL(started.url).port);
  close = async () => {
    await started.close();
    await router.shutdown();
  };
});

afterAll(() => close());

describe('fuzzing the router', () => {
  it('answers 20,000 random or malformed requests without a 5xx, stays up and keeps its heap', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: Outcome[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    let baseline = 0;
    const worker = async () => {
      while (sent < TOTAL) {
        sent++;
        if (sent === 2000) {
          gc?.();
          baseline = process.memoryUsage().heapUsed;
        }
        const outcome = await send(agent, port);
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        if ((outcome.status >= 500 || outcome.status === -2) && failures.length < 5) failures.push(outcome);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    expect(failures).toEqual([]);
    // Every kind of answer happened, so the generator reached deep code and not only the gate.
    for (const status of [200, 400, 401, 404, 413])
      expect(statuses.get(status) ?? 0, `answers by status: ${JSON.stringify([...statuses])}`).toBeGreaterThan(0);
    const live = await fetch(`http://127.0.0.1:${port}/v2/health/live`);
    expect(live.status).toBe(200);
    gc?.();
    const growth = process.memoryUsage().heapUsed - baseline;
    expect(growth).toBeLessThan(32 * 1024 * 1024);
  }, 60_000);
});

/*
 * Targeted attacks: each one drives a whole class of requests at a real server and checks the
 * rule that class must follow, with random inputs from the same seeded generator.
 */
describe('attacking the router', () => {
  const echoRows = defineModel({
    name: 'rows',
    infer: async (row: Record<string, { data: ArrayLike<number>; dims: readonly number[] }>): Promise<Record<string, TensorValue>> => {
      // Slower than the signal grace period: every row's deadline scope watches the request signal.
      await new Promise((resolve) => setTimeout(resolve, 3));
      return { y: { type: 'float32', dims: [1], data: Float32Array.of(Number(row.x?.data[0] ?? 0)) } };
    },
  });
  const rowsBody = (rows: number) =>
    JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 1], datatype: 'FP32', data: Array.from({ length: rows }, () => int(100)) }] });

  it('refuses every datatype but the declared one for a typed input, naming the input', async () => {
    const mismatches = DATATYPES.filter((d) => d !== 'FP32');
    let refused = 0;
    for (let i = 0; i < 300; i++) {
      const datatype = pick(DATATYPES);
      const rows = 1 + int(3);
      const data = Array.from({ length: rows * 4 }, () => (datatype === 'BOOL' ? random() < 0.5 : datatype === 'BYTES' ? 'a' : int(100)));
      const response = await fetch(`http://127.0.0.1:${port}/v2/models/mlp/infer`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY_HOLDER.key}` },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [rows, 4], datatype, data }] }),
      });
      const answer = (await response.json()) as { details?: { input?: string } };
      if (datatype === 'FP32') expect(response.status).toBe(200);
      else {
        expect(response.status, datatype).toBe(400);
        if (mismatches.includes(datatype) && DATATYPES.indexOf(datatype) < 13) {
          expect(answer.details?.input).toBe('input');
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('serves random large batches at 16 connections without a listener warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const router = ballastRouter({ models: [echoRows], maxBatch: 512 });
    const started = await listen(express().use(router));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    try {
      const statuses = await Promise.all(
        Array.from({ length: 16 }, async () => {
          const out: number[] = [];
          for (let i = 0; i < 6; i++) {
            const response = await fetch(`${started.url}/v2/models/rows/infer`, {
              method: 'POST',
              body: rowsBody(pick([11, 64, 200, 512])),
            });
            await response.arrayBuffer();
            out.push(response.status);
          }
          return out;
        }),
      );
      expect(statuses.flat().filter((status) => status !== 200)).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      agent.destroy();
      await started.close();
      await router.shutdown();
    }
  });

  it('bounds slow bodies by the request budget and the shutdown by drainTimeoutMs under keep-alive load', async () => {
    const router = ballastRouter({ models: [echoRows], timeoutMs: 400 });
    const { server } = await listen(express().use(router));
    const { port: target } = server.address() as net.AddressInfo;
    // Slow clients: headers and part of a body, then nothing.
    const slow = Array.from({ length: 3 + int(4) }, () => {
      const socket = net.connect(target, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
      });
      socket.on('error', () => {});
      const declared = 100 + int(5000);
      socket.write(
        `POST /v2/models/rows/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n${rowsBody(2).slice(0, 10 + int(20))}`,
      );
      return { socket, answer: () => received };
    });
    // Keep-alive clients hammering through the shutdown.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    let stop = false;
    const drainAnswers: { status: number; connection: string | undefined }[] = [];
    const client = async () => {
      while (!stop) {
        const outcome = await new Promise<{ status: number; connection: string | undefined } | undefined>((resolve) => {
          const request = http.request({ host: '127.0.0.1', port: target, method: 'POST', path: '/v2/models/rows/infer', agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          });
          request.on('error', () => resolve(undefined));
          request.end(rowsBody(1));
        });
        if (outcome === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
        else if (outcome.status === 503) drainAnswers.push(outcome);
      }
    };
    const clients = Array.from({ length: 64 }, client);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await router.shutdown({ server, drainTimeoutMs: 1_000 });
    const took = Date.now() - started;
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    expect(took).toBeLessThan(2_500);
    expect(drainAnswers.length).toBeGreaterThan(0);
    expect(drainAnswers.filter((a) => a.connection !== 'close')).toEqual([]);
    // Every slow client got its 408 (the budget ran out while its body was still arriving).
    for (const { socket, answer } of slow) {
      expect(answer().startsWith('HTTP/1.1 408')).toBe(true);
      socket.destroy();
    }
  });

  it('decides rollout admin operations by the guard role policy for random principals', async () => {
    const roles: RolePolicies = {
      admin: { actions: ['*'] },
      infer: { actions: ['infer', 'read'] },
      read: { actions: ['read'] },
      ops: { actions: ['admin', 'read'], models: ['ranker'] },
      other: { actions: ['admin'], models: ['elsewhere'] },
    };
    const names = Object.keys(roles);
    const tokens = new Map<string, { id: string; roles: string[] }>();
    const guard = createGuard({ authenticate: (credential) => (credential === undefined ? undefined : tokens.get(credential)), roles });
    const target = rollout({
      name: 'ranker',
      stable: defineModel({ name: 'ranker', version: 'v1', infer: async (x: number) => x }),
      candidate: defineModel({ name: 'ranker', version: 'v2', infer: async (x: number) => x + 1 }),
      strategy: { type: 'canary', weight: 0 },
    });
    const router = ballastRouter({
      models: { ranker: target },
      guard,
      mount: [
        { path: '/admin/rollouts', handler: rolloutAdminRoutes(rolloutAdmin({ rollouts: [target], readRole: 'read' })), action: 'read' },
      ],
    });
    const started = await listen(express().use(router));
    try {
      for (let i = 0; i < 200; i++) {
        const principal = { id: `p${i}`, roles: names.filter(() => random() < 0.3) };
        tokens.set(`t${i}`, principal);
        const [method, path, action] = pick([
          ['GET', '/admin/rollouts', 'read'],
          ['GET', '/admin/rollouts/ranker', 'read'],
          ['POST', '/admin/rollouts/ranker/promote', 'admin'],
          ['POST', '/admin/rollouts/ranker/rollback', 'admin'],
        ] as const);
        const response = await fetch(`${started.url}${path}`, { method, headers: { authorization: `Bearer t${i}` } });
        await response.arrayBuffer();
        const mayEnter = isAllowed(principal, 'read', undefined, roles);
        const mayAct = mayEnter && isAllowed(principal, action, path === '/admin/rollouts' ? undefined : 'ranker', roles);
        if (!mayAct) expect(response.status, `${JSON.stringify(principal.roles)} ${method} ${path}`).toBe(403);
        // A rollback after a rollback (or a promote after a promote) may answer 409; never 403.
        else expect([200, 409], `${JSON.stringify(principal.roles)} ${method} ${path}`).toContain(response.status);
      }
    } finally {
      await started.close();
      await router.shutdown();
    }
  });
});
