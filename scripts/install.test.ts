/*
 * The packages as a user installs them: `scripts/pack-all.mjs` builds and packs every package once,
 * npm installs the tarballs into a scratch project outside the workspace (third-party dependencies
 * come from the registry, preferring npm's cache; onnxruntime-node's download of CUDA libraries is
 * skipped as docs/getting-started.md says), then an ES module script, a CommonJS script and `tsc`
 * under `nodenext`, `node16` and `bundler` use them.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const [major = 0] = process.versions.node.split('.').map(Number);

let scratch: string;
let tarballs: string[];
const run = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync(command, args, { cwd: scratch, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });

const ESM_SCRIPT = `
import { BallastError, defineModel, pipeline } from '@ballast/core';
import { createClient } from '@ballast/client';
import { ksTest } from '@ballast/drift';
import { ballastRouter } from '@ballast/express';
import { createGuard } from '@ballast/guard';
import { onnxModel } from '@ballast/onnx';
import { instrument } from '@ballast/otel';
import { startTelemetry } from '@ballast/otel/node';
import { createRegistry } from '@ballast/rollout';
import * as redis from '@ballast/redis';

const model = pipeline(defineModel({ name: 'double', infer: async (x) => x * 2 }));
const results = { double: await model.infer(21) };
results.ks = ksTest([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]).statistic;
results.functions = [createClient, ballastRouter, createGuard, onnxModel, instrument, createRegistry].every((f) => typeof f === 'function');
results.redis = typeof redis;
try {
  await startTelemetry({ prometheus: { port: 0, host: '127.0.0.1' } });
  results.telemetry = 'started';
} catch (error) {
  results.telemetry = { typed: error instanceof BallastError, code: error.code, message: error.message };
}
${major >= 22 ? "const nest = await import('@ballast/nest'); results.nest = typeof nest.BallastModule;" : ''}
console.log(JSON.stringify(results));
`;

const CJS_SCRIPT = `
const { BallastError, defineModel, pipeline } = require('@ballast/core');
const { createClient } = require('@ballast/client');
const { ksTest } = require('@ballast/drift');
const { ballastRouter } = require('@ballast/express');
const { createGuard } = require('@ballast/guard');
const { onnxModel } = require('@ballast/onnx');
const { instrument } = require('@ballast/otel');
const { startTelemetry } = require('@ballast/otel/node');
const { createRegistry } = require('@ballast/rollout');
require('@ballast/redis');
(async () => {
  const model = pipeline(defineModel({ name: 'double', infer: async (x) => x * 2 }));
  const results = { double: await model.infer(21) };
  results.ks = ksTest([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]).statistic;
  results.functions = [createClient, ballastRouter, createGuard, onnxModel, instrument, createRegistry].every((f) => typeof f === 'function');
  try {
    await startTelemetry({ prometheus: { port: 0, host: '127.0.0.1' } });
    results.telemetry = 'started';
  } catch (error) {
    results.telemetry = { typed: error instanceof BallastError, code: error.code, message: error.message };
  }
  console.log(JSON.stringify(results));
})();
`;

/** Type-checked under every resolution mode: the public types of each package, used. */
const TYPES_ESM = `
import { type Model, defineModel, pipeline, BallastError } from '@ballast/core';
import { createClient } from '@ballast/client';
import { ksTest } from '@ballast/drift';
import { ballastRouter } from '@ballast/express';
import { createGuard } from '@ballast/guard';
import { BallastModule } from '@ballast/nest';
import { onnxModel } from '@ballast/onnx';
import { instrument } from '@ballast/otel';
import { startTelemetry, type Telemetry } from '@ballast/otel/node';
import { createRegistry } from '@ballast/rollout';
import '@ballast/redis';

const model: Model<number, number> = pipeline(defineModel({ name: 'double', infer: async (x: number) => x * 2 }));
export const answer: Promise<number> = model.infer(21);
export const statistic: number = ksTest([1, 2], [1, 2]).statistic;
export const telemetry: Promise<Telemetry> = startTelemetry({ prometheus: { port: 0 } });
export const error = new BallastError('CONFIG', 'x');
export const used = [createClient, ballastRouter, createGuard, BallastModule, onnxModel, instrument, createRegistry];
`;
// A CommonJS file under node16/nodenext reads the .d.cts declarations (every package with a require condition).
const TYPES_CJS = TYPES_ESM.replace("import { BallastModule } from '@ballast/nest';\n", '').replace('BallastModule, ', '');

describe('the packed packages, installed with npm outside the workspace', () => {
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'ballast-install-'));
    const printed = execFileSync(process.execPath, [join(root, 'scripts/pack-all.mjs'), '--out', join(scratch, 'packs')], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tarballs = JSON.parse(printed.trim().split('\n').at(-1) as string) as string[];
    const dependencies: Record<string, string> = {};
    for (const tarball of tarballs) {
      const name = /ballast-([a-z-]+)-\d+\.\d+\.\d+\.tgz$/.exec(tarball)?.[1];
      dependencies[`@ballast/${name}`] = `file:${tarball}`;
    }
    // What a TypeScript app adds: Node's types, and Express's (express 5 ships none; an optional peer of @ballast/express).
    dependencies['@types/node'] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies['@types/node'];
    dependencies['@types/express'] = JSON.parse(readFileSync(join(root, 'packages/express/package.json'), 'utf8')).devDependencies[
      '@types/express'
    ];
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies }, null, 2));
    // ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's install script downloads CUDA libraries
    // otherwise (npm versions that run install scripts by default).
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { ONNXRUNTIME_NODE_INSTALL: 'skip' });
  }, 600_000);

  afterAll(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('packs every package with LICENSE, repository fields, no test files and no source condition', () => {
    const names = readdirSync(join(root, 'packages')).filter(
      (name) => !JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).private,
    );
    expect(tarballs).toHaveLength(names.length);
    for (const name of names) {
      const dir = join(scratch, 'node_modules/@ballast', name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(readFileSync(join(dir, 'LICENSE'), 'utf8'), name).toContain('Apache License');
      expect(manifest.repository, name).toEqual({
        type: 'git',
        url: 'git+https://github.com/ballast-dev/ballast.git',
        directory: `packages/${name}`,
      });
      expect(manifest.homepage, name).toMatch(/^https:\/\/github\.com\/ballast-dev\/ballast/);
      expect(manifest.bugs?.url, name).toMatch(/^https:\/\/github\.com\/ballast-dev\/ballast\/issues$/);
      expect(JSON.stringify(manifest.exports), name).not.toContain('source');
      for (const [dependency, range] of Object.entries({ ...manifest.dependencies })) {
        expect(String(range), `${name} → ${dependency}`).toMatch(/^\^/);
      }
      const files = (readdirSync(dir, { recursive: true }) as string[]).map((file) => file.replaceAll('\\', '/'));
      const testFiles = files.filter((file) => /(^|\/)(test-[^/]*|[^/]*\.test)\.ts$|(^|\/)fixtures\//.test(file));
      expect(testFiles, name).toEqual([]);
    }
  });

  it('runs an ES module script', () => {
    const results = JSON.parse(run(process.execPath, ['--input-type=module', '-e', ESM_SCRIPT]));
    expect(results).toMatchObject({ double: 42, ks: 0, functions: true, redis: 'object' });
    expect(results.telemetry).toMatchObject({ typed: true, code: 'CONFIG' });
    expect(results.telemetry.message).toContain('@opentelemetry/sdk-node');
    expect(results.telemetry.message).toContain('npm install');
    if (major >= 22) expect(results.nest).toBe('function');
  });

  it('runs a CommonJS script, and names the missing SDK packages with their install command', () => {
    writeFileSync(join(scratch, 'check.cjs'), CJS_SCRIPT);
    const results = JSON.parse(run(process.execPath, ['check.cjs']));
    expect(results).toMatchObject({ double: 42, ks: 0, functions: true });
    expect(results.telemetry).toMatchObject({ typed: true, code: 'CONFIG' });
    for (const name of ['@opentelemetry/sdk-node', '@opentelemetry/exporter-prometheus']) expect(results.telemetry.message).toContain(name);
  });

  it('type-checks under moduleResolution nodenext, node16 and bundler', async () => {
    const modes = [
      ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, true],
      ['node16', { module: 'node16', moduleResolution: 'node16' }, true],
      ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, false],
    ] as const;
    const outputs = await Promise.all(
      modes.map(async ([mode, options, withCjs]) => {
        const dir = join(scratch, `types-${mode}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'check.ts'), TYPES_ESM);
        if (withCjs) writeFileSync(join(dir, 'check-cjs.cts'), TYPES_CJS);
        writeFileSync(
          join(dir, 'tsconfig.json'),
          JSON.stringify({
            compilerOptions: {
              ...options,
              target: 'es2022',
              strict: true,
              noEmit: true,
              types: ['node'],
              skipLibCheck: false,
              lib: ['es2023'],
            },
            include: ['*.ts', '*.cts'],
          }),
        );
        const output = await execFileAsync(process.execPath, [tsc, '-p', dir], { cwd: scratch, encoding: 'utf8' }).then(
          (result) => result.stdout,
          (error: { stdout: string }) => error.stdout,
        );
        return [mode, output] as const;
      }),
    );
    for (const [mode, output] of outputs) {
      // Errors in our declarations or in the checks fail; third-party declarations (onnxruntime-common
      // names DOM types) are not ours to fix.
      const ours = output.split('\n').filter((line) => /check|@ballast/.test(line));
      expect(ours, `${mode}:\n${output}`).toEqual([]);
    }
  }, 240_000);

  // The current OpenTelemetry SDK (3.x line) needs Node 22.15; the Node 24 leg of CI runs this.
  const [, minor = 0] = process.versions.node.split('.').map(Number);
  const currentSdk = major > 22 || (major === 22 && minor >= 15);
  it.runIf(currentSdk)(
    'starts telemetry on the current OpenTelemetry SDK (3.x line) installed with npm',
    async () => {
      run(
        'npm',
        [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          '@opentelemetry/sdk-node@latest',
          '@opentelemetry/exporter-prometheus@latest',
          '@opentelemetry/exporter-trace-otlp-http@latest',
          '@opentelemetry/exporter-metrics-otlp-http@latest',
        ],
        { ONNXRUNTIME_NODE_INSTALL: 'skip' },
      );
      const installed = JSON.parse(readFileSync(join(scratch, 'node_modules/@opentelemetry/sdk-node/package.json'), 'utf8'))
        .version as string;
      expect(Number(installed.split('.')[1])).toBeGreaterThanOrEqual(300);
      const script = `
      import { defineModel, pipeline } from '@ballast/core';
      import { startTelemetry } from '@ballast/otel/node';
      const telemetry = await startTelemetry({ serviceName: 'sdk3', prometheus: { port: 0, host: '127.0.0.1' } });
      const model = pipeline(defineModel({ name: 'double', infer: async (x) => x * 2 }));
      await model.infer(1);
      await model.infer(2);
      const text = await (await fetch(telemetry.metricsUrl)).text();
      await telemetry.shutdown();
      console.log(JSON.stringify({ enabled: telemetry.instrumentation.enabled, text }));
    `;
      const { enabled, text } = JSON.parse(run(process.execPath, ['--input-type=module', '-e', script]));
      expect(enabled).toEqual({ traces: false, metrics: true });
      expect(text).toMatch(/^ballast_inference_duration_seconds_count\{[^}]*gen_ai_request_model="double"[^}]*\} 2$/m);
      expect(text).toMatch(/^target_info\{[^}]*service_name="sdk3"/m);
    },
    240_000,
  );
});
