// docs/examples/rollout-blue-green.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineModel, isBallastError } from '@ballast/core';
import { createRegistry, jsonFileStore, rollout, rolloutAdmin } from '@ballast/rollout';

const directory = await mkdtemp(join(tmpdir(), 'rollout-example-'));
const storePath = join(directory, 'rollouts.json');

// Versions live in a registry; loaders run once, on load().
const registry = createRegistry();
registry.register('ranker', 'blue', defineModel({ name: 'ranker', version: 'blue', infer: async (q: string) => `blue:${q}` }));
registry.register('ranker', 'green', async () =>
  defineModel({ name: 'ranker', version: 'green', infer: async (q: string) => `green:${q}` }),
);
await registry.load('ranker', 'green');
registry.alias('ranker', 'stable', 'blue');
registry.alias('ranker', 'candidate', 'green');

function start() {
  return rollout<string, string>({
    stable: registry.get('ranker', 'stable'),
    candidate: registry.get('ranker', 'candidate'),
    // Switch by hand here; with autoSwitch (the default) it switches once green reports healthy.
    strategy: { type: 'blue-green', autoSwitch: false },
    store: jsonFileStore(storePath),
  });
}

const model = start();
const admin = rolloutAdmin({ rollouts: [model], role: 'ml-admin' });
console.log(await model.infer('shoes'));

try {
  await admin.promote({ id: 'intern', roles: ['viewer'] }, 'ranker');
} catch (error) {
  if (isBallastError(error)) console.log(`promote without the role: ${error.status} ${error.code}`);
}
const promoted = await admin.promote({ id: 'alice', roles: ['ml-admin'] }, 'ranker', { reason: 'release 42' });
console.log(`promote as alice: ${promoted.status}, phase ${(promoted.body as { phase: string }).phase}`);
console.log(await model.infer('shoes'));
await model.close();

// A restart: a new rollout on the same store comes back promoted.
const restarted = start();
console.log(`after restart: ${await restarted.infer('shoes')}, phase ${restarted.status().phase}`);
await restarted.rollback({ reason: 'instant switch back', by: 'alice' }); // blue was kept warm
console.log(`after rollback: ${await restarted.infer('shoes')}`);
for (const d of restarted.status().decisions) console.log(`${d.decision}: ${d.reason} by ${d.by}`);
await restarted.close();
await rm(directory, { recursive: true, force: true });
