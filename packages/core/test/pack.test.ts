import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Installs the packed tarball into a scratch project outside the workspace and loads it the way
// users do: `import` from ESM and `require` from CommonJS.
const packageDir = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'ballast-core-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('@ballast/core as a published package', () => {
  it('works with import and require from a project that installs the tarball', { timeout: 120_000 }, () => {
    run(join(packageDir, '..', '..', 'node_modules', '.bin', 'tsup'), [], packageDir);
    run('npm', ['pack', '--pack-destination', scratch, '--silent'], packageDir);
    const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(scratch, 'app');
    run('mkdir', ['-p', app], scratch);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true }));
    run('npm', ['install', '--no-audit', '--no-fund', '--offline', join(scratch, tarball as string)], app);

    const esm = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { pipeline, defineModel, isBallastError, httpStatusFor } from '@ballast/core';
         const m = pipeline(defineModel({ name: 'm', infer: async (x) => x * 2 }));
         const out = await m.infer(21, { timeoutMs: 100 });
         const err = await pipeline(defineModel({ name: 'h', infer: () => new Promise(() => {}) })).infer(1, { timeoutMs: 5 }).catch((e) => e);
         console.log(JSON.stringify({ out, code: err.code, ballast: isBallastError(err), status: httpStatusFor('TIMEOUT') }));`,
      ],
      app,
    );
    expect(JSON.parse(esm)).toEqual({ out: 42, code: 'TIMEOUT', ballast: true, status: 504 });

    const cjs = run(
      process.execPath,
      [
        '-e',
        `const core = require('@ballast/core');
         const e = new core.BallastError('RATE_LIMITED', 'x', { retryAfterMs: 5 });
         console.log(JSON.stringify({ code: e.code, retryable: e.retryable, ballast: core.isBallastError(e), batching: typeof core.batching }));`,
      ],
      app,
    );
    expect(JSON.parse(cjs)).toEqual({ code: 'RATE_LIMITED', retryable: true, ballast: true, batching: 'function' });
  });
});
