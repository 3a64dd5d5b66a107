import { describe, expect, it } from 'vitest';
import { propertyKey } from './runtime-tensors.js';

describe('propertyKey', () => {
  it('answers the same name for every string, those an object treats specially included', () => {
    const names = ['output', '__proto__', 'constructor', 'toString', '0', '1', '4294967295', '', ' ', 'a.b/c:d', 'données', '😀'];
    for (const name of names) {
      // A name that crossed threads (structured clone) is a fresh string, as worker replies are.
      const fresh = structuredClone({ name }).name;
      expect(propertyKey(fresh)).toBe(name);
    }
  });
});
