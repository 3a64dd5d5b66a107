/**
 * The request every HTTP benchmark serves, the guard it passes, and the load generator that sends
 * it: bench/http.ts (through
 * bench/_http-servers.ts) and bench/_serving-core-focus.ts measure the same work. API-key auth
 * (HMAC on a key's first use, then the key cache), authorization, a per-principal rate limit far
 * above any load, a body limit and input ranges.
 */
import { execFile } from 'node:child_process';
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

const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const run = promisify(execFile);

/**
 * Sends the benchmark's request to `target` with autocannon, as a child process (so the load
 * generator does not share the server's event loop and the CPU measured is the server's alone),
 * over 32 connections; `limit` is autocannon's `-d <seconds>` or `-a <requests>`.
 */
export async function autocannon(
  target: { url: string; headers: Record<string, string>; body: string },
  limit: string[],
): Promise<LoadResult> {
  const headers = Object.entries({ 'content-type': 'application/json', ...target.headers }).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const { stdout } = await run(
    process.execPath,
    [autocannonCli, '-c', '32', ...limit, '-m', 'POST', ...headers, '-b', target.body, '--json', target.url],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as LoadResult;
}
