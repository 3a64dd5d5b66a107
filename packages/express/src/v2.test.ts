import { describe, expect, it } from 'vitest';
import { decodeV2Request, encodeV2Outputs } from './v2.js';

const issuePaths = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as { code: string; details: { issues: { path: string }[] } }).details.issues.map((i) => i.path);
  }
  throw new Error('expected INVALID_INPUT');
};

describe('decodeV2Request', () => {
  it('splits rows the same way on the fast path and through the schema (extra fields)', () => {
    const body = { id: 'a', inputs: [{ name: 'x', shape: [2, 2], datatype: 'INT64', data: [1, 2, 3, 4] }] };
    const fast = decodeV2Request(body);
    const slow = decodeV2Request({ ...body, parameters: { p: 1 }, outputs: [{ name: 'y' }] });
    expect(fast.rows).toEqual(slow.rows);
    expect(fast.rows[1]).toEqual({ x: { data: new BigInt64Array([3n, 4n]), dims: [2] } });
    expect(slow.outputs).toEqual(['y']);
    expect(fast.view).toEqual({ x: [1, 2, 3, 4] });
  });

  it('accepts nested data and reports bad tensors with paths', () => {
    expect(decodeV2Request({ inputs: [{ name: 'b', shape: [1, 2], datatype: 'BOOL', data: [[true, false]] }] }).rows[0]).toEqual({
      b: { data: [true, false], dims: [2] },
    });
    expect(issuePaths(() => decodeV2Request({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1] }] }))).toEqual([
      'inputs[0].data',
    ]);
    expect(issuePaths(() => decodeV2Request({ inputs: [{ name: 'x', shape: [1], datatype: 'FP99', data: [1] }] }))).toEqual([
      'inputs[0].datatype',
    ]);
    expect(
      issuePaths(() =>
        decodeV2Request({
          inputs: [
            { name: 'x', shape: [1], datatype: 'FP32', data: [1] },
            { name: 'y', shape: [2], datatype: 'FP32', data: [1, 2] },
          ],
        }),
      ),
    ).toEqual(['inputs[1].shape[0]']);
    expect(issuePaths(() => decodeV2Request({ inputs: [] }))).toEqual(['inputs']);
    expect(issuePaths(() => decodeV2Request({ inputs: [{ name: 'x', shape: [0], datatype: 'FP32', data: [] }] }))).toEqual([
      'inputs[0].shape[0]',
    ]);
    expect(
      issuePaths(() => decodeV2Request({ inputs: [{ name: 'x', shape: [5], datatype: 'FP32', data: [1, 2, 3, 4, 5] }] }, { maxBatch: 4 })),
    ).toEqual(['inputs[0].shape[0]']);
  });
});

describe('encodeV2Outputs', () => {
  it('stacks rows with the batch dimension and selects outputs', () => {
    const rows = [
      { y: { type: 'int64' as const, dims: [1], data: new BigInt64Array([7n]) }, z: { type: 'string' as const, dims: [1], data: ['a'] } },
      { y: { type: 'int64' as const, dims: [1], data: new BigInt64Array([8n]) }, z: { type: 'string' as const, dims: [1], data: ['b'] } },
    ];
    expect(encodeV2Outputs(rows)).toEqual([
      { name: 'y', shape: [2, 1], datatype: 'INT64', data: [7, 8] },
      { name: 'z', shape: [2, 1], datatype: 'BYTES', data: ['a', 'b'] },
    ]);
    expect(encodeV2Outputs(rows, ['z'])).toHaveLength(1);
    expect(() => encodeV2Outputs(rows, ['nope'])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeV2Outputs([{ y: 1 }])).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});
