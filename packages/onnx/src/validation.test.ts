import { isBallastError } from '@ballast/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OnnxModel, onnxModel } from './onnx-model.js';
import { prepareInputs, type TensorSpec } from './tensors.js';
import { int64Model, mlpModel, multiInputModel, randomLayers } from './testing.js';

const MLP: TensorSpec[] = [{ name: 'input', type: 'float32', dims: ['batch', 16] }];

function invalid(specs: TensorSpec[], value: unknown, batched = true) {
  try {
    prepareInputs(specs, value, batched);
  } catch (error) {
    return error as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected INVALID_INPUT');
}

describe('input validation', () => {
  it('names the input, what was expected and what was received', () => {
    const error = invalid(MLP, { input: [1, 2, 3] });
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toBe('input "input": expected float32 [16], received shape [3] (dimension 0 is 3, expected 16)');
    expect(error.details).toMatchObject({ input: 'input', expected: { type: 'float32', dims: [16] } });
    expect(invalid(MLP, { input: new Array(16).fill('1') }).message).toMatch(/element 0 is string "1", not a finite number/);
    expect(invalid(MLP, { input: [[...new Array(16).fill(0)]] }).message).toMatch(/rank 2 where 1 was expected/);
    expect(invalid(MLP, {}).message).toMatch(/input "input": expected float32 \[16\], received nothing \(the input is missing\)/);
    expect(invalid(MLP, { input: new Array(16).fill(0), extra: 1 }).message).toMatch(/unknown input "extra"/);
    expect(invalid(MLP, null).message).toMatch(/expected an object keyed by input name \(input\)/);
    expect(invalid(MLP, { input: new Array(16).fill(Number.NaN) }).message).toMatch(/not a finite number/);
    expect(invalid(MLP, { input: new BigInt64Array(16) }).message).toMatch(/not a finite number/);
  });

  it('checks a typed array of the input type as the general path does (the common case is checked faster)', () => {
    const row = Float32Array.from({ length: 16 }, (_, i) => i / 10);
    for (const value of [row, { input: row }]) {
      const prepared = prepareInputs(MLP, value, true);
      expect(prepared.groupKey).toBe('16;');
      expect(prepared.feeds).toEqual([{ name: 'input', type: 'float32', dims: [16], data: row, owned: false }]);
      expect(prepared.feeds[0]?.data).toBe(row);
    }
    expect(prepareInputs(MLP, row, true, false).groupKey).toBe('');
    const withNaN = row.slice();
    withNaN[3] = Number.NaN;
    expect(invalid(MLP, { input: withNaN }).message).toMatch(/element 3 is NaN, not a finite number/);
    expect(invalid(MLP, { input: new Float32Array([1, 2, Number.POSITIVE_INFINITY]) }).message).toMatch(
      /element 2 is Infinity, not a finite number/,
    );
    expect(invalid(MLP, { input: row, extra: row }).message).toMatch(/unknown input "extra"/);
    const fixed: TensorSpec[] = [{ name: 'image', type: 'float32', dims: [1, 2, 3] }];
    expect(prepareInputs(fixed, new Float32Array(6), false).feeds[0]?.dims).toEqual([1, 2, 3]);
    expect(prepareInputs(fixed, new Float64Array(6), false).feeds[0]?.data).toBeInstanceOf(Float32Array);
  });

  it('accepts nested arrays, flat typed arrays, { data, dims } and bare values for one-input models', () => {
    const specs: TensorSpec[] = [{ name: 'image', type: 'float32', dims: ['batch', 2, 3] }];
    const nested = prepareInputs(
      specs,
      {
        image: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      true,
    );
    const flat = prepareInputs(specs, new Float32Array([1, 2, 3, 4, 5, 6]), true);
    const explicit = prepareInputs(specs, { image: { data: [1, 2, 3, 4, 5, 6], dims: [2, 3] } }, true);
    for (const prepared of [nested, flat, explicit]) {
      expect(prepared.feeds[0]?.dims).toEqual([2, 3]);
      expect(prepared.feeds[0]?.data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    }
    expect(
      invalid(specs, {
        image: [
          [1, 2, 3],
          [4, 5],
        ],
      }).message,
    ).toMatch(/ragged/);
    expect(invalid(specs, { image: { data: [1, 2], dims: [2, 3] } }).message).toMatch(/hold 6 values but data has 2/);
    // A first row of length 0 makes the shape [2, 0]: the non-empty second row is ragged, not dropped.
    const sequences: TensorSpec[] = [{ name: 'x', type: 'float32', dims: ['batch', 2, 'n'] }];
    expect(prepareInputs(sequences, { x: [[], []] }, true).feeds[0]?.dims).toEqual([2, 0]);
    expect(invalid(sequences, { x: [[], [1, 2]] }).message).toMatch(/ragged/);
  });

  it('checks integer ranges, int64 and bool', () => {
    const int8: TensorSpec[] = [{ name: 'x', type: 'int8', dims: ['batch', 2] }];
    expect(prepareInputs(int8, [-128, 127], true).feeds[0]?.data).toEqual(new Int8Array([-128, 127]));
    expect(invalid(int8, [128, 0]).message).toMatch(/not a int8 integer/);
    expect(invalid(int8, [1.5, 0]).message).toMatch(/not a int8 integer/);
    const int64: TensorSpec[] = [{ name: 'x', type: 'int64', dims: ['batch', 2] }];
    expect(prepareInputs(int64, [1, 2n ** 62n], true).feeds[0]?.data).toEqual(new BigInt64Array([1n, 2n ** 62n]));
    expect(invalid(int64, [2 ** 60, 1]).message).toMatch(/not a bigint or safe integer/);
    expect(invalid(int64, [2n ** 63n, 1n]).message).toMatch(/out of int64 range/);
    const bool: TensorSpec[] = [{ name: 'x', type: 'bool', dims: ['batch', 2] }];
    expect(prepareInputs(bool, [true, false], true).feeds[0]?.data).toEqual(new Uint8Array([1, 0]));
    expect(invalid(bool, [1, 0]).message).toMatch(/not a boolean/);
  });

  it('keeps groups apart by trailing shape', () => {
    const specs: TensorSpec[] = [{ name: 'tokens', type: 'int64', dims: ['batch', 'sequence'] }];
    const a = prepareInputs(specs, [1, 2, 3], true);
    const b = prepareInputs(specs, [1, 2], true);
    const c = prepareInputs(specs, [4, 5, 6], true);
    expect(a.groupKey).not.toBe(b.groupKey);
    expect(a.groupKey).toBe(c.groupKey);
  });
});

/** Arbitrary values that can never be a valid row of the 16-float MLP input. */
function malformedMlpInput(): fc.Arbitrary<unknown> {
  const notFiniteNumber = fc.oneof(
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.constant(Number.NaN),
    fc.constant(Number.POSITIVE_INFINITY),
    fc.bigInt(),
    fc.object({ maxDepth: 1 }),
  );
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
  const wrongLength = fc.integer({ min: 0, max: 40 }).filter((n) => n !== 16);
  const value = fc.oneof(
    // wrong number of values
    wrongLength.chain((n) => fc.array(finite, { minLength: n, maxLength: n })),
    wrongLength.map((n) => new Float32Array(n)),
    // right length, one bad element
    fc
      .tuple(fc.array(finite, { minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 15 }), notFiniteNumber)
      .map(([row, index, bad]) => {
        const copy: unknown[] = [...row];
        copy[index] = bad;
        return copy;
      }),
    // nested too deep, or ragged
    fc.array(fc.array(finite, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 16 }),
    // wrong typed array kind
    fc.constant(new BigInt64Array(16)),
    // { data, dims } that do not agree
    fc
      .record({ data: fc.array(finite, { maxLength: 20 }), dims: fc.array(fc.integer({ min: -2, max: 20 }), { maxLength: 3 }) })
      .filter((t) => !(t.dims.length === 1 && t.dims[0] === 16 && t.data.length === 16)),
    notFiniteNumber,
  );
  return fc.oneof(
    value.map((v) => ({ input: v })),
    value.map((v) => ({ inputs: v })),
    fc.record({ input: fc.constant(new Array(16).fill(0)), extra: value }),
    value.filter((v) => !Array.isArray(v) && !ArrayBuffer.isView(v)),
  );
}

describe('fuzzed malformed inputs on the real runtime', () => {
  let models: OnnxModel[];
  beforeAll(async () => {
    const mlp = await onnxModel({ bytes: mlpModel({ layers: randomLayers({ sizes: [16, 8, 2] }) }) });
    const multi = await onnxModel({ bytes: multiInputModel({ width: 2 }) });
    const ids = await onnxModel({ bytes: int64Model({ width: 2 }) });
    models = [mlp, multi, ids];
  });
  afterAll(async () => {
    await Promise.all(models.map((m) => m.close()));
  });

  it('rejects 10,000 malformed inputs with INVALID_INPUT and keeps serving', async () => {
    const [mlp, multi, ids] = models as [OnnxModel, OnnxModel, OnnxModel];
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on('unhandledRejection', onUnhandled);
    let checked = 0;
    try {
      await fc.assert(
        fc.asyncProperty(malformedMlpInput(), async (input) => {
          const error = await mlp.infer(input as never).then(
            () => undefined,
            (e: unknown) => e,
          );
          checked++;
          return isBallastError(error) && error.code === 'INVALID_INPUT' && typeof error.message === 'string';
        }),
        { numRuns: 8000, seed: 20261128 },
      );
      // Multi-input and int64 models: a missing or malformed second input, non-integer ids.
      const other = fc.oneof(
        fc
          .record({
            a: fc.constant([1, 2]),
            b: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 5 }).filter((b) => b.length !== 2),
          })
          .map((x) => [multi, x] as const),
        fc.record({ a: fc.constant([1, 2]) }).map((x) => [multi, x] as const),
        fc
          .tuple(
            fc.double().filter((v) => !Number.isSafeInteger(v)),
            fc.integer(),
          )
          .map((pair) => [ids, { ids: pair }] as const),
      );
      await fc.assert(
        fc.asyncProperty(other, async ([model, input]) => {
          const error = await model.infer(input as never).then(
            () => undefined,
            (e: unknown) => e,
          );
          checked++;
          return isBallastError(error) && error.code === 'INVALID_INPUT';
        }),
        { numRuns: 2000, seed: 7 },
      );
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(checked).toBe(10_000);
    expect(unhandled).toBe(0);
    const ok = await mlp.infer({ input: new Array(16).fill(0.5) });
    expect(ok.output?.dims).toEqual([2]);
    expect((await mlp.health()).ready).toBe(true);
  });
});
