import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { callModel, callModelBatch, defineModel, type Model } from './model.js';

describe('defineModel', () => {
  it('builds a frozen model with the given functions', async () => {
    const model = defineModel({ name: 'double', version: '2', infer: async (x: number) => x * 2 });
    expect(model.name).toBe('double');
    expect(model.version).toBe('2');
    expect(model.kind).toBe('internal');
    expect(await model.infer(21)).toBe(42);
    expect(Object.isFrozen(model)).toBe(true);
    expect(model.inferBatch).toBeUndefined();
  });

  it.each([
    [{}, 'name'],
    [{ name: '', infer: async (): Promise<number> => 1 }, 'name'],
    [{ name: 'm' }, 'infer'],
    [{ name: 'm', infer: async (): Promise<number> => 1, inferBatch: 3 }, 'inferBatch'],
    [{ name: 'm', infer: async (): Promise<number> => 1, close: 'x' }, 'close'],
  ])('rejects a bad definition %j with CONFIG naming %s', (definition, path) => {
    try {
      defineModel(definition as never);
      expect.unreachable();
    } catch (error) {
      expect(isBallastError(error) && error.code).toBe('CONFIG');
      expect(isBallastError(error) && error.details?.path).toBe(path);
    }
  });
});

describe('callModel', () => {
  const boom = new Error('boom');
  const throwing = {
    name: 'sync-throw',
    infer: (): Promise<number> => {
      throw boom;
    },
    inferBatch: (): Promise<number[]> => {
      throw boom;
    },
  } satisfies Model<number, number>;

  it('passes the call through, keeping the model as `this`', async () => {
    const model = {
      name: 'm',
      factor: 3,
      async infer(x: number, options?: { timeoutMs?: number }) {
        return x * this.factor + (options?.timeoutMs ?? 0);
      },
      async inferBatch(xs: readonly number[]) {
        return xs.map((x) => x * this.factor);
      },
    };
    await expect(callModel(model, 2, { timeoutMs: 1 })).resolves.toBe(7);
    await expect(callModelBatch(model, [1, 2])).resolves.toEqual([3, 6]);
  });

  it('turns a synchronous throw into a rejected promise', async () => {
    const call = callModel(throwing, 1);
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toBe(boom);
    const batch = callModelBatch(throwing, [1]);
    expect(batch).toBeInstanceOf(Promise);
    await expect(batch).rejects.toBe(boom);
  });
});
