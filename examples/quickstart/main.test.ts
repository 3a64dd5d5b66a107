import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('the core quickstart runs and shows batching and a budget at work', { timeout: 60_000 }, async () => {
  const tsx = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'tsx');
  const { stdout } = await promisify(execFile)(tsx, ['--conditions=source', join(import.meta.dirname, 'main.ts')], { timeout: 50_000 });
  expect(stdout).toMatch(/results identical: true/);
  expect(stdout).toMatch(/hanging model with timeoutMs 50: TIMEOUT/);
});
