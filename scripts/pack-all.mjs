#!/usr/bin/env node
// Builds every publishable package and packs it into one folder, as `pnpm publish` would ship it:
// `workspace:^` ranges become versions, `publishConfig.exports` (no `source` condition) replaces
// `exports`, and only `files` (with LICENSE, without tests and test helpers) goes in. Install the
// tarballs before the packages are published:
//   node scripts/pack-all.mjs --out ./ballast-packages
//   npm install ./ballast-packages/ballast-core-0.1.0.tgz ./ballast-packages/ballast-client-0.1.0.tgz ...
// Options: --out <folder> (default ./ballast-packages), --no-build (pack the dist/ already built).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? (args[outIndex + 1] ?? '') : 'ballast-packages');
const build = !args.includes('--no-build');

const packages = readdirSync(join(root, 'packages'))
  .map((name) => ({
    dir: join(root, 'packages', name),
    manifest: JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')),
  }))
  .filter(({ manifest }) => !manifest.private);

if (build) {
  // turbo builds in dependency order (declaration builds read their siblings' dist) and caches.
  const filters = packages.flatMap(({ manifest }) => ['--filter', manifest.name]);
  execFileSync(join(root, 'node_modules/.bin/turbo'), ['run', 'build', '--output-logs=errors-only', ...filters], {
    cwd: root,
    stdio: 'inherit',
  });
}
mkdirSync(out, { recursive: true });
const tarballs = [];
for (const { dir, manifest } of packages) {
  const printed = execFileSync('pnpm', ['pack', '--pack-destination', out, '--json'], { cwd: dir, encoding: 'utf8' });
  const { filename } = JSON.parse(printed);
  tarballs.push(resolve(out, filename));
  console.error(`packed ${manifest.name}`);
}
console.log(JSON.stringify(tarballs));
