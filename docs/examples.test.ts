import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Every code block of the docs that names a file in docs/examples/ must equal that file, and
// every file there must run to completion: the docs cannot drift from working code.
const docs = import.meta.dirname;
const root = join(docs, '..');
const examples = join(docs, 'examples');
const exec = promisify(execFile);
const MARK = /^\/\/ (docs\/examples\/[\w.-]+\.ts)\n/;

function blocks(markdown: string): { path: string; code: string }[] {
  const found: { path: string; code: string }[] = [];
  for (const match of markdown.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const code = match[1] as string;
    const mark = MARK.exec(code);
    if (mark) found.push({ path: mark[1] as string, code });
  }
  return found;
}

const pages = [...readdirSync(docs).filter((f) => f.endsWith('.md')), join('..', 'README.md')];
const files = existsSync(examples) ? readdirSync(examples).filter((f) => f.endsWith('.ts')) : [];

describe('docs code blocks', () => {
  for (const page of pages) {
    const found = blocks(readFileSync(join(docs, page), 'utf8'));
    if (found.length === 0) continue;
    it(`${page}: every embedded example equals its file`, () => {
      for (const { path, code } of found) {
        const file = join(root, path);
        expect(existsSync(file), `${page} embeds ${path}, which does not exist`).toBe(true);
        expect(code, `${page}: block for ${path} differs from the file`).toBe(readFileSync(file, 'utf8'));
      }
    });
  }
});

describe('docs examples run', () => {
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  for (const file of files) {
    it.concurrent(`docs/examples/${file} exits 0`, { timeout: 90_000 }, async () => {
      const { stdout } = await exec(tsx, ['--conditions=source', join(examples, file)], {
        cwd: root,
        timeout: 80_000,
        env: { ...process.env, NODE_ENV: 'test' },
      });
      expect(stdout.length).toBeGreaterThan(0); // each example prints what it shows
    });
  }
});
