/**
 * Small helpers shared by the benchmarks: smoke mode, timing loops, percentiles and tables.
 * Benchmarks print ratios against a peer measured in the same run; absolute numbers drift on
 * shared machines.
 */

/** True when run with `--smoke` (CI): a few iterations, just enough to prove the bench runs. */
export const smoke = process.argv.includes('--smoke') || process.env.BALLAST_BENCH_SMOKE === '1';

/** Picks the full-run or smoke-run value. */
export function size(full: number, quick: number): number {
  return smoke ? quick : full;
}

/** Nanoseconds per call of an async function, best of `rounds` rounds of `iterations` sequential calls. */
export async function nsPerCall(fn: () => Promise<unknown>, iterations: number, rounds = 5): Promise<number> {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) await fn(); // warm-up
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    const ns = Number(process.hrtime.bigint() - start) / iterations;
    if (ns < best) best = ns;
  }
  return best;
}

/** The p-th percentile (0..100) of a numeric array (sorted copy, nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Prints rows as an aligned table. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [headers, ...rows].map((row) => row.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  for (const [index, row] of cells.entries()) {
    console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Burns CPU for `microseconds` (a synthetic model's compute). */
export function spin(microseconds: number): void {
  const end = performance.now() + microseconds / 1000;
  while (performance.now() < end);
}

/**
 * Runs `total` single-row calls from `concurrency` callers and returns rows/s and per-call
 * latency percentiles (ms).
 */
export async function closedLoop(call: (i: number) => Promise<unknown>, total: number, concurrency: number) {
  const latencies = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await call(i);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const values = Array.from(latencies);
  return { rowsPerSecond: total / seconds, p50: percentile(values, 50), p99: percentile(values, 99) };
}
