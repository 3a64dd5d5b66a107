#!/usr/bin/env node
// Runs every benchmark in bench/*.ts, one after another, from the TypeScript sources.
//   pnpm bench            full runs
//   pnpm bench --smoke    a few iterations each (CI), so no benchmark rots
//   pnpm bench onnx       only benchmarks whose file name contains "onnx"
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const filters = args.filter((a) => !a.startsWith('--'));
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n=== bench/${file}${smoke ? ' (smoke)' : ''} ===`);
  const result = spawnSync(
    join(root, 'node_modules', '.bin', 'tsx'),
    ['--conditions=source', join('bench', file), ...(smoke ? ['--smoke'] : [])],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, BALLAST_BENCH_SMOKE: smoke ? '1' : '' },
    },
  );
  if (result.status !== 0) {
    failed++;
    console.log(`bench/${file} exited with ${result.status ?? result.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
