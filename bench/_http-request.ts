/**
 * The request every HTTP benchmark serves, and the guard it passes: bench/http.ts (through
 * bench/_http-servers.ts) and bench/_serving-core-focus.ts measure the same work. API-key auth
 * (HMAC on a key's first use, then the key cache), authorization, a per-principal rate limit far
 * above any load, a body limit and input ranges.
 */
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
