// docs/examples/guard-keys.ts
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBallastError } from '@ballast/core';
import { apiKeys, authorize, fileKeyStore } from '@ballast/guard';

// Records live in a JSON file that holds only HMAC-SHA256 hashes, never the keys.
const path = join(mkdtempSync(join(tmpdir(), 'ballast-')), 'keys.json');
const keys = apiKeys({ secret: 'a-server-secret-of-at-least-32-bytes', store: fileKeyStore({ path }), prefix: 'acme' });

const { key, record } = await keys.create({ principalId: 'checkout', roles: ['infer'], models: ['fraud*'], expiresInMs: 90 * 86_400_000 });
console.log('new key (shown once):', `${key.slice(0, 26)}…`);
console.log('stored:', Object.keys(JSON.parse(readFileSync(path, 'utf8')).keys[0]).join(', '));

const principal = await keys.verify(key);
console.log('verified as:', principal.id, principal.roles);
authorize(principal, 'infer', 'fraud-v2');
console.log('may infer on fraud-v2: yes');
try {
  authorize(principal, 'infer', 'churn');
} catch (error) {
  if (isBallastError(error)) console.log('may infer on churn:', error.code);
}

// Rotation: the old key keeps working for a grace period, then only the new one does.
const next = await keys.rotate(record.id, { graceMs: 60_000 });
console.log('rotated to:', next.record.id, '(old key expires in 60 s)');

await keys.revoke(next.record.id);
try {
  await keys.verify(next.key);
} catch (error) {
  if (isBallastError(error)) console.log('revoked key:', error.code, error.details?.reason);
}
