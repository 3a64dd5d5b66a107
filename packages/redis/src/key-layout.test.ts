import calculateSlot, { generateMulti } from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { apiKeyKeys, breakerKeys, cacheEntryKey, cacheKeys, hashTag } from './key-layout.js';

// Parts as callers make them: canonical inputs (JSON, with braces), typed arrays as latin1 bytes
// (any byte, `{`, `}` and `%` included), hashed long inputs, the empty key, other scripts.
const parts = [
  'scorer@1:[1,2,3]',
  'scorer@1:{"a":1,"b":{"c":2}}',
  'scorer@1:}',
  'scorer@1:{',
  'scorer@1:%7D',
  'scorer@1:%',
  `scorer@1:Float32Array(8:${String.fromCharCode(0x7d, 0x7b, 0x25, 0, 0xff, 0x7d, 0x20, 0x3f)})`,
  'scorer@1:#q0x8Yd2c4fB3l1x8Yd2c4fB3l1x8Yd2c4fB3l1x',
  'fraud-model',
  '',
  'ключ 🔑',
];
const prefixes = ['ballast:cache:', 'app{tenant-1}:', '', 'a}b:'];

/** The one slot every key of `group` hashes to, by the cluster-key-slot algorithm (-1 when they differ). */
function slotOf(group: string[]): number {
  return generateMulti(group);
}

describe('key layout', () => {
  it('puts a cache entry and its lease in one Redis Cluster slot', () => {
    for (const prefix of prefixes) {
      for (const part of parts) {
        const { entry, lease } = cacheKeys(prefix, part);
        const slot = slotOf([entry, lease]);
        expect(slot, `${prefix} ${JSON.stringify(part)}`).not.toBe(-1);
        expect(slot).toBe(calculateSlot(entry));
        expect(cacheEntryKey(prefix, part)).toBe(entry);
      }
    }
  });

  it("puts a circuit's failure count, open marker and trial lease in one slot", () => {
    for (const prefix of prefixes) {
      for (const part of parts) {
        const { failures, open, trial } = breakerKeys(prefix, part);
        expect(slotOf([failures, open, trial]), `${prefix} ${JSON.stringify(part)}`).not.toBe(-1);
      }
    }
  });

  it('puts every API key record in the slot of the set of ids when the prefix holds a tag', () => {
    for (const prefix of ['{ballast:keys}:', 'app{tenant-1}:keys:']) {
      const { ids, record } = apiKeyKeys(prefix);
      expect(slotOf([ids, ...parts.map(record)]), prefix).not.toBe(-1);
    }
    // Without a tag they spread (the layout of earlier versions, kept for rolling upgrades).
    const { ids, record } = apiKeyKeys('ballast:keys:');
    expect(slotOf([ids, ...parts.map(record)])).toBe(-1);
  });

  it('spreads different cache keys over slots, and keeps different keys apart', () => {
    const slots = new Set(Array.from({ length: 200 }, (_, i) => calculateSlot(cacheKeys('ballast:cache:', `scorer@1:[${i}]`).entry)));
    expect(slots.size).toBeGreaterThan(150);
    // The escaping is one to one: no two parts share a key.
    const keys = parts.map((part) => cacheKeys('p:', part).entry);
    expect(new Set(keys).size).toBe(parts.length);
    expect(hashTag('a}')).not.toBe(hashTag('a%7D'));
    expect(hashTag('')).toBe('{%00}');
  });
});
