import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

// Starts the example as a user would, sends requests, then stops it with SIGTERM.
it('starts, serves a v2 infer and an app route, and stops cleanly', { timeout: 60_000 }, async () => {
  const tsx = join(root, '..', '..', 'node_modules', '.bin', 'tsx');
  child = spawn(tsx, ['--conditions=source', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const banner = await new Promise<{ url: string; key: string }>((resolve, reject) => {
    child?.stdout?.on('data', (chunk) => {
      output += chunk;
      const url = /listening on (\S+)/.exec(output)?.[1];
      const key = /api key: (\S+)/.exec(output)?.[1];
      if (url && key) resolve({ url, key });
    });
    child?.on('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  const headers = { authorization: `Bearer ${banner.key}`, 'content-type': 'application/json' };
  const v2 = await fetch(`${banner.url}/v2/models/risk/infer`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      id: 'smoke',
      inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: [0.2, -1, 0.5, 1.5, 1, 1, 1, 1] }],
    }),
  });
  expect(v2.status).toBe(200);
  const body = (await v2.json()) as { id: string; outputs: { name: string; shape: number[]; data: number[] }[] };
  expect(body.id).toBe('smoke');
  expect(body.outputs[0]).toMatchObject({ name: 'probabilities', shape: [2, 2] });
  const [a = 0, b = 0] = body.outputs[0]?.data ?? [];
  expect(a + b).toBeCloseTo(1, 5); // softmax rows sum to one

  const score = await fetch(`${banner.url}/score`, { method: 'POST', headers, body: JSON.stringify({ features: [0.2, -1, 0.5, 1.5] }) });
  expect(score.status).toBe(200);
  const scored = (await score.json()) as { probabilities: number[]; requestId: string };
  expect(scored.probabilities[0]).toBeCloseTo(a, 5);
  expect(scored.requestId).toBe(score.headers.get('x-request-id'));

  expect((await fetch(`${banner.url}/score`, { method: 'POST', body: '{}' })).status).toBe(401);

  const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  // Nest closes the app (HTTP server, then models), then re-raises the signal: exit status 128 + 15.
  expect([0, 143]).toContain(await exited);
  expect(output).toContain('stopped on SIGTERM');
});
