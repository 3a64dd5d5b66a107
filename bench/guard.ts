/**
 * What a failed API key check costs, by cause: an unknown key id against a known id with a wrong
 * secret, timed call by call and interleaved so both see the same machine. The two must cost the
 * same (ratio near 1.00), or the time of a refusal tells a caller whether a key id exists.
 * The verification cache is off, so every call takes the full path (store read, HMAC, compare).
 *
 *   pnpm bench guard
 */
import { apiKeys, memoryKeyStore } from '@ballast/guard';
import { percentile, size, table } from './_harness.js';

const samples = size(200_000, 2_000);
const keys = apiKeys({ secret: 'a-server-secret-of-at-least-32-bytes', store: memoryKeyStore(), cache: false });
for (let i = 0; i < 1000; i++) await keys.create({ principalId: `app-${i}` });
const { key } = await keys.create({ principalId: 'app' });
const flip = key.endsWith('A') ? 'B' : 'A';
const wrongSecret = `${key.slice(0, -1)}${flip}`;
const unknownId = `bk_${'0'.repeat(16)}_${key.slice(-43)}`;

const refuse = async (candidate: string): Promise<void> => {
  try {
    await keys.verify(candidate);
  } catch {
    return;
  }
  throw new Error('the key was accepted');
};

for (let i = 0; i < Math.min(samples, 20_000); i++) {
  await refuse(wrongSecret);
  await refuse(unknownId);
}
const known: number[] = [];
const unknown: number[] = [];
for (let i = 0; i < samples; i++) {
  // Alternate which goes first so neither always follows the other.
  const order = i % 2 === 0 ? ([wrongSecret, unknownId] as const) : ([unknownId, wrongSecret] as const);
  for (const candidate of order) {
    const start = process.hrtime.bigint();
    await refuse(candidate);
    const ns = Number(process.hrtime.bigint() - start);
    (candidate === unknownId ? unknown : known).push(ns);
  }
}
const knownP50 = percentile(known, 50) / 1000;
const unknownP50 = percentile(unknown, 50) / 1000;
table(
  ['refused key', 'p50 us', 'p90 us', 'ratio p50'],
  [
    ['known id, wrong secret (reference)', knownP50, percentile(known, 90) / 1000, 1],
    ['unknown id', unknownP50, percentile(unknown, 90) / 1000, unknownP50 / knownP50],
  ],
);
