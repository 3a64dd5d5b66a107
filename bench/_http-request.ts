/**
 * The request every HTTP benchmark serves, the guard it passes, the hand-written reference of
 * Ballast's checks, and the load generator that sends it: bench/http.ts (through
 * bench/_http-servers.ts) and bench/_serving-core-focus.ts measure the same work. API-key auth
 * (HMAC on a key's first use, then the key cache), authorization, a per-principal rate limit far
 * above any load, a body limit and input ranges.
 */
import { execFile } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { apiKeys, createGuard, type Guard, memoryKeyStore } from '@ballast/guard';

const features = Array.from({ length: 16 }, (_, i) => (i % 5) / 5);

/** The single-row v2 infer request body (16 features of the MLP's input). */
export const BENCH_BODY = JSON.stringify({ id: 'bench', inputs: [{ name: 'input', shape: [1, 16], datatype: 'FP32', data: features }] });

/** The benchmarks' guard, and the `Authorization` header value of the key it accepts. */
export async function benchGuard(): Promise<{ guard: Guard; authorization: string }> {
  const keys = apiKeys({ secret: 'a-bench-server-secret-long-enough!!', store: memoryKeyStore() });
  const { key } = await keys.create({ principalId: 'bench', roles: ['infer'] });
  const guard = createGuard({
    keys,
    limits: { rate: { ratePerSecond: 1_000_000, burst: 1_000_000 } },
    input: { maxBodyBytes: 64 * 1024, ranges: { input: { min: -10, max: 10 } } },
  });
  return { guard, authorization: `Bearer ${key}` };
}

/** What autocannon reports of a run (`--json`), the fields the benchmarks read. */
export interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  /** Seconds the run lasted. */
  duration: number;
  non2xx: number;
  errors: number;
}

/** The connections every HTTP benchmark's load keeps open. */
export const CONNECTIONS = 32;

const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const run = promisify(execFile);

/**
 * Sends the benchmark's request to `target` with autocannon, as a child process (so the load
 * generator does not share the server's event loop and the CPU measured is the server's alone),
 * over {@link CONNECTIONS} connections; `limit` is autocannon's `-d <seconds>` or `-a <requests>`.
 */
export async function autocannon(
  target: { url: string; headers: Record<string, string>; body: string },
  limit: string[],
): Promise<LoadResult> {
  const headers = Object.entries({ 'content-type': 'application/json', ...target.headers }).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const { stdout } = await run(
    process.execPath,
    [autocannonCli, '-c', String(CONNECTIONS), ...limit, '-m', 'POST', ...headers, '-b', target.body, '--json', target.url],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as LoadResult;
}

/** What {@link checkedReference}'s check gives: a refusal, or the request id and the input to run. */
export type CheckedRequest = { status: number; error: string } | { requestId: string; id: unknown; values: Float32Array };

/**
 * The minimal hand-written reference for the work Ballast does on the benchmark's request: what
 * an app would write inline for this one model and request shape. It authenticates the API key
 * from a map of verified keys (what a verified-key cache holds: no HMAC per request), checks the
 * role, takes a token from a per-principal bucket, checks the v2 envelope and every input value
 * (finite, in the guard's range) while copying it, and gives a request id; the caller sets the id
 * as a header and gives the model call a deadline. It leaves out what Ballast also does and a
 * minimal app would skip: constant-time secret comparison, key expiry and revocation,
 * cancellation on client disconnect, the model registry and versions, telemetry attributes,
 * trace headers, error bodies by the v2 spec, and drain. The HTTP benchmark's `checked-fastify`
 * server and the serving-core loop's `reference` mode both run it.
 */
export function checkedReference(
  authorization: string,
): (headers: IncomingHttpHeaders, body: unknown, startedAt: number) => CheckedRequest {
  const principals = new Map([[authorization.slice('Bearer '.length), { id: 'bench', roles: ['infer'] }]]);
  const ratePerMs = 1_000_000 / 1000;
  const burst = 1_000_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let counter = 0;
  return (headers, body, startedAt) => {
    counter++;
    const header = headers.authorization;
    const principal = typeof header === 'string' && header.startsWith('Bearer ') ? principals.get(header.slice(7)) : undefined;
    if (principal === undefined) return { status: 401, error: 'unauthenticated' };
    if (!principal.roles.includes('infer')) return { status: 403, error: 'forbidden' };
    let bucket = buckets.get(principal.id);
    if (bucket === undefined) buckets.set(principal.id, (bucket = { tokens: burst, at: startedAt }));
    bucket.tokens = Math.min(burst, bucket.tokens + (startedAt - bucket.at) * ratePerMs);
    bucket.at = startedAt;
    if (bucket.tokens < 1) return { status: 429, error: 'rate limited' };
    bucket.tokens--;
    const request = body as { id?: unknown; inputs?: unknown } | null;
    const tensor =
      Array.isArray(request?.inputs) && request.inputs.length === 1 ? (request.inputs[0] as Record<string, unknown> | null) : null;
    const shape = tensor?.shape;
    const data = tensor?.data;
    if (
      tensor?.name !== 'input' ||
      tensor.datatype !== 'FP32' ||
      !Array.isArray(shape) ||
      shape.length !== 2 ||
      shape[0] !== 1 ||
      shape[1] !== 16 ||
      !Array.isArray(data) ||
      data.length !== 16
    ) {
      return { status: 400, error: 'invalid input' };
    }
    const values = new Float32Array(16);
    for (let i = 0; i < 16; i++) {
      const value = data[i];
      if (typeof value !== 'number' || !(value >= -10 && value <= 10)) return { status: 400, error: 'input out of range' };
      values[i] = value;
    }
    return { requestId: `ref-${counter.toString(36)}`, id: request?.id, values };
  };
}

/** The v2 answer of the reference (and of the bare servers): the model's one output row. */
export function v2Answer(id: unknown, output: { data: Float32Array; dims: readonly number[] }): unknown {
  return {
    model_name: 'mlp',
    id,
    outputs: [{ name: 'output', shape: [1, ...output.dims], datatype: 'FP32', data: Array.from(output.data) }],
  };
}
