import type { Model } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { createClient } from './client.js';

function reloadable(): Model<number, number> & { version: string } {
  let version = 'v1';
  return {
    name: 'r',
    get version() {
      return version;
    },
    set version(next: string) {
      version = next;
    },
    kind: 'client',
    infer: async (x: number) => x,
  };
}

describe('a client over a model whose version changes', () => {
  it('reports the current name, version and kind, bare and with every policy', async () => {
    const model = reloadable();
    const bare = createClient({ model });
    const full = createClient({
      model,
      timeoutMs: 1000,
      rateLimit: { ratePerSecond: 1000 },
      cache: true,
      bulkhead: true,
      retry: true,
      breaker: true,
      hedge: { delayMs: 50 },
      fallback: [{ value: 0 }],
    });
    expect([bare.version, full.version, full.name, full.kind]).toEqual(['v1', 'v1', 'r', 'client']);
    model.version = 'v2';
    expect([bare.version, full.version]).toEqual(['v2', 'v2']);
    expect(await full.infer(5)).toBe(5);
    expect(full.stats().calls).toBe(1);
  });
});
