/*
 * Every package has the shape scripts/new-package.mjs gives it; the tarball's side of it is
 * checked on real tarballs by install.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
const names = readdirSync(join(root, 'packages')).filter((name) => {
  try {
    return !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private;
  } catch {
    return false;
  }
});

/** `exports` with every `source` condition removed: what the tarball must publish. */
function withoutSource(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).flatMap(([key, inner]) => (key === 'source' ? [] : [[key, withoutSource(inner)]])));
}

describe.each(names)('packages/%s', (name) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));

  it('ships the Apache-2.0 license and says where the code lives', () => {
    expect(license).toMatch(/Apache License\s+Version 2\.0/);
    expect(manifest.license).toBe('Apache-2.0');
    expect(readFileSync(join(root, 'packages', name, 'LICENSE'), 'utf8')).toBe(license);
    expect(manifest.repository).toEqual({
      type: 'git',
      url: 'git+https://github.com/ballast-dev/ballast.git',
      directory: `packages/${name}`,
    });
    expect(manifest.homepage).toBe(`https://github.com/ballast-dev/ballast/tree/main/packages/${name}#readme`);
    expect(manifest.bugs).toEqual({ url: 'https://github.com/ballast-dev/ballast/issues' });
  });

  it('resolves `source` in the workspace and publishes the same exports without it', () => {
    expect(JSON.stringify(manifest.exports)).toContain('"source"');
    expect(manifest.publishConfig?.exports).toEqual(withoutSource(manifest.exports));
  });

  it('keeps tests and test helpers out of the tarball', () => {
    expect(manifest.files).toEqual(expect.arrayContaining(['!src/**/*.test.ts', '!src/**/test-*.ts']));
  });

  it('takes third-party runtime dependencies as caret ranges', () => {
    for (const [dependency, range] of Object.entries<string>(manifest.dependencies ?? {})) {
      expect(range, dependency).toMatch(/^(\^|workspace:\^)/);
    }
  });
});
