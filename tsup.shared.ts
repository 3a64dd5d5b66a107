import type { Options } from 'tsup';

/**
 * The one build shape every Ballast package uses: ESM + CJS, with `.d.ts` and `.d.cts`.
 * Dependencies stay external; sibling packages resolve through their published `exports`
 * (the `source` condition is for tests and type checks only).
 */
export function packageBuild(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { customConditions: [] } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    treeshake: true,
  };
}
