import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * No package imports another package's internals: only what that package's `exports` map lists
 * (its `src/index.ts` entry and the subpaths it publishes), and no relative import leaves its own
 * package. Scans the TypeScript sources of every package, tests included.
 */

const packagesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|cts)$/.test(name)) files.push(path);
  }
  return files;
}

// `import ... from 'x'`, `export ... from 'x'`, `import('x')`, `import 'x'`.
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

/** Every import specifier of `text` with its line. */
export function specifiersOf(text: string): { specifier: string; line: number }[] {
  const found: { specifier: string; line: number }[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    found.push({ specifier: match[1] as string, line: text.slice(0, match.index).split('\n').length });
  }
  return found;
}

/** The violations of one file of package `own` (`exportsOf` gives each package's exported subpaths). */
export function violationsOf(file: string, text: string, ownDir: string, exportsOf: (name: string) => Set<string> | undefined): string[] {
  const problems: string[] = [];
  for (const { specifier, line } of specifiersOf(text)) {
    const at = `${relative(packagesDir, file)}:${line}`;
    if (specifier.startsWith('.')) {
      const target = resolve(dirname(file), specifier);
      if (relative(ownDir, target).startsWith('..')) problems.push(`${at}: relative import "${specifier}" leaves the package`);
      continue;
    }
    const match = /^@ballast\/([^/]+)(\/.*)?$/.exec(specifier);
    if (match === null) continue;
    const exported = exportsOf(match[1] as string);
    if (exported === undefined) {
      problems.push(`${at}: "${specifier}" names no package here`);
      continue;
    }
    const subpath = match[2] === undefined ? '.' : `.${match[2]}`;
    if (!exported.has(subpath)) problems.push(`${at}: "${specifier}" is not in the exports of @ballast/${match[1]}`);
  }
  return problems;
}

describe('package boundaries', () => {
  const packages = new Map<string, Set<string>>();
  for (const dir of readdirSync(packagesDir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as {
        name: string;
        exports?: Record<string, unknown>;
      };
      packages.set(manifest.name.replace('@ballast/', ''), new Set(Object.keys(manifest.exports ?? { '.': '' })));
    } catch {}
  }
  const exportsOf = (name: string) => packages.get(name);

  it('finds the violations it looks for (internal subpath, relative escape)', () => {
    const file = join(packagesDir, 'nest/src/models.ts');
    const text =
      "import { x } from '@ballast/express/src/breakers.js';\nimport { y } from '../../express/src/v2.js';\nimport { z } from '@ballast/serving';";
    expect(violationsOf(file, text, join(packagesDir, 'nest'), exportsOf)).toEqual([
      'nest/src/models.ts:1: "@ballast/express/src/breakers.js" is not in the exports of @ballast/express',
      'nest/src/models.ts:2: relative import "../../express/src/v2.js" leaves the package',
    ]);
  });

  it('holds for every package source', () => {
    const problems: string[] = [];
    for (const name of packages.keys()) {
      const dir = join(packagesDir, name);
      let files: string[];
      try {
        files = sourceFiles(join(dir, 'src'));
      } catch {
        continue;
      }
      for (const file of files) problems.push(...violationsOf(file, readFileSync(file, 'utf8'), dir, exportsOf));
    }
    expect(problems).toEqual([]);
  });

  it('keeps @ballast/nest off @ballast/express', () => {
    const manifest = JSON.parse(readFileSync(join(packagesDir, 'nest/package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.devDependencies })).not.toContain(
      '@ballast/express',
    );
    const sources = sourceFiles(join(packagesDir, 'nest/src')).map((file) => readFileSync(file, 'utf8'));
    expect(sources.some((text) => specifiersOf(text).some(({ specifier }) => specifier.startsWith('@ballast/express')))).toBe(false);
  });
});
