#!/usr/bin/env node
// Rewrites every ```ts block of the docs (and README) that starts with
// `// docs/examples/<file>.ts` from that file, so pages never drift from the code the tests run.
//   node scripts/sync-docs-examples.mjs
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pages = [
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f)),
  join(root, 'README.md'),
];
for (const page of pages) {
  const text = readFileSync(page, 'utf8');
  const next = text.replace(/```ts\n(\/\/ (docs\/examples\/[\w.-]+\.ts)\n[\s\S]*?)```/g, (block, _code, path) => {
    const file = join(root, path);
    return existsSync(file) ? `\`\`\`ts\n${readFileSync(file, 'utf8')}\`\`\`` : block;
  });
  if (next !== text) {
    writeFileSync(page, next);
    console.log(`updated ${page.slice(root.length)}`);
  }
}
