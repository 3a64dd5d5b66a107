import { describe, expect, it } from 'vitest';
import { batching } from './batching.js';
import type { Model } from './model.js';
import { pipeline } from './pipeline.js';
import { wrapModel } from './wrap-model.js';

/** A model whose version changes, as an ONNX model's does when `reload()` loads a new one. */
function reloadable(): Model<number, number> & { version: string; inferBatch(inputs: readonly number[]): Promise<number[]> } {
  let version = 'v1';
  return {
    name: 'r',
    get version() {
      return version;
    },
    set version(next: string) {
      version = next;
    },
    kind: 'internal',
    infer: async (x: number) => x,
    inferBatch: async (xs: readonly number[]) => [...xs],
  };
}

describe('wrapModel', () => {
  it('reads name, version and kind live, and passes health and close through', async () => {
    const model = reloadable();
    let closed = 0;
    const withLifecycle = Object.assign(model, {
      health: async () => ({ ready: true, status: 'ready' as const }),
      close: async () => void closed++,
    });
    const wrapped = wrapModel(withLifecycle, { infer: (x) => model.infer(x) });
    expect([wrapped.name, wrapped.version, wrapped.kind]).toEqual(['r', 'v1', 'internal']);
    model.version = 'v2';
    expect(wrapped.version).toBe('v2');
    expect(wrapped.inferBatch).toBeUndefined();
    expect(await wrapped.health?.()).toMatchObject({ ready: true });
    await wrapped.close?.();
    expect(closed).toBe(1);
  });

  it('keeps a batched model current: batching() alone and inside pipeline()', async () => {
    const model = reloadable();
    const batched = batching({ maxBatchSize: 4 })(model);
    const piped = pipeline(model, batching({ maxBatchSize: 4 }));
    expect([batched.version, piped.version]).toEqual(['v1', 'v1']);
    model.version = 'v2';
    expect([batched.version, piped.version]).toEqual(['v2', 'v2']);
    expect(await piped.infer(3)).toBe(3);
    await batched.close?.();
    await piped.close?.();
  });
});
