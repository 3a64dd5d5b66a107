import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

// Runs the example as CI does (`main.ts --smoke`): it starts, serves real requests and stops.
it('starts, answers v2 and app-route requests, rejects a missing key and stops cleanly', { timeout: 60_000 }, async () => {
  const tsx = join(root, '..', '..', 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, ['--conditions=source', 'src/main.ts', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, stdout + stderr).toBe(0);
  expect(stdout).toMatch(/POST \/v2\/models\/risk\/infer -> 200 .*"id":"smoke-1"/);
  expect(stdout).toMatch(/POST \/score -> 200 .*"customerEmail":"\[REDACTED\]"/);
  expect(stdout).toContain('POST /score without a key -> 401');
  expect(stdout).toContain('stopped');
  // The audit log (stderr) has one line per request, the unauthenticated one included.
  const audit = stderr
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { outcome: string });
  expect(audit.map((line) => line.outcome)).toEqual(['ok', 'ok', 'UNAUTHENTICATED']);
});
