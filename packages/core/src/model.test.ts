import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { defineModel } from './model.js';

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
