import { describe, expect, it } from 'vitest';
import { promised } from './promised.js';

describe('promised', () => {
  it('resolves a value, passes a promise on as it is, and rejects a throw', async () => {
    await expect(promised(() => 1)).resolves.toBe(1);
    const pending = Promise.resolve(2);
    expect(promised(() => pending)).toBe(pending);
    const thrown = new Error('no');
    await expect(
      promised(() => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
  });
});
