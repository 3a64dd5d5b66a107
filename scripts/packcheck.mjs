#!/usr/bin/env node
// Runs publint and `attw --pack` on every publishable package (after `pnpm build`).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = 0;
for (const name of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  // A package with no `require` condition is an ES module only (as @ballast/nest, like Nest 12):
  // attw then checks it under the esm-only profile instead of reporting CommonJS resolution.
  const esmOnly = !JSON.stringify(pkg.exports).includes('"require"');
  for (const [tool, args] of [
    ['publint', ['--strict']],
    ['attw', ['--pack', '.', '--format', 'ascii', ...(esmOnly ? ['--profile', 'esm-only'] : [])]],
  ]) {
    try {
      execFileSync(bin(tool), args, { cwd: dir, stdio: 'pipe' });
      console.log(`ok   ${tool} ${pkg.name}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${tool} ${pkg.name}\n${error.stdout?.toString() ?? ''}${error.stderr?.toString() ?? ''}`);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
