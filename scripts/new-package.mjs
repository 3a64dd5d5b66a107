#!/usr/bin/env node
// Creates packages/<name> with the shape every Ballast package shares:
// ESM + CJS build with tsup, an `exports` map with a `source` condition for tests (and a
// `publishConfig.exports` without it for the tarball), LICENSE and repository fields,
// a strict tsconfig, a first test and a docs page.
//   pnpm new-package <name> "<one-line description>"
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, description = `Ballast ${process.argv[2]} package`] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: pnpm new-package <kebab-name> "<description>"');
  process.exit(2);
}
const dir = join(root, 'packages', name);
if (existsSync(dir)) {
  console.error(`packages/${name} already exists`);
  process.exit(1);
}

const write = (path, text) => {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
};

const published = {
  '.': {
    import: { types: './dist/index.d.ts', default: './dist/index.js' },
    require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
  },
  './package.json': './package.json',
};
write(
  'package.json',
  `${JSON.stringify(
    {
      name: `@ballast/${name}`,
      version: '0.1.0',
      description,
      license: 'Apache-2.0',
      repository: { type: 'git', url: 'git+https://github.com/ballast-dev/ballast.git', directory: `packages/${name}` },
      homepage: `https://github.com/ballast-dev/ballast/tree/main/packages/${name}#readme`,
      bugs: { url: 'https://github.com/ballast-dev/ballast/issues' },
      type: 'module',
      sideEffects: false,
      engines: { node: '>=20.19' },
      main: './dist/index.cjs',
      module: './dist/index.js',
      types: './dist/index.d.cts',
      // `source` points tests, type checks and tsx at the TypeScript sources in the workspace;
      // `pnpm pack`/`pnpm publish` ship `publishConfig.exports`, which has no `source`.
      exports: { '.': { source: './src/index.ts', ...published['.'] }, './package.json': published['./package.json'] },
      publishConfig: { exports: published },
      // Test helpers are named test-*.ts and stay out of the tarball with the tests.
      files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/test-*.ts'],
      scripts: {
        build: 'tsup',
      },
      dependencies: name === 'core' ? {} : { '@ballast/core': 'workspace:^' },
    },
    null,
    2,
  )}\n`,
);
write('tsconfig.json', `${JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src'] }, null, 2)}\n`);
write(
  'tsup.config.ts',
  `import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

export default defineConfig(packageBuild());
`,
);
write('src/index.ts', `/** @packageDocumentation ${description} */\nexport {};\n`);
// npm puts a package's own LICENSE file in its tarball, not the repository's.
copyFileSync(join(root, 'LICENSE'), join(dir, 'LICENSE'));
write('README.md', `# @ballast/${name}\n\n${description}\n\nSee [docs/${name}.md](../../docs/${name}.md).\n`);
console.log(`created packages/${name}`);
