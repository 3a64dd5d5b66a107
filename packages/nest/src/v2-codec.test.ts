import { isBallastError } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeV2Request, encodeV2Response } from './v2-codec.js';

describe('decodeV2Request', () => {
  it('splits every input along the batch dimension with typed data', () => {
    const decoded = decodeV2Request(
      {
        id: 'r1',
        inputs: [
          {
            name: 'ids',
            shape: [2, 2],
            datatype: 'INT64',
            data: [
              [1, 2],
              [3, 4],
            ],
          },
          { name: 'text', shape: [2], datatype: 'BYTES', data: ['a', 'b'] },
          { name: 'mask', shape: [2, 1], datatype: 'BOOL', data: [true, false] },
        ],
        outputs: [{ name: 'y' }],
      },
      16,
    );
    expect(decoded.id).toBe('r1');
    expect(decoded.outputs).toEqual(['y']);
    expect(decoded.rows).toHaveLength(2);
    expect(decoded.rows[1]).toEqual({
      ids: { type: 'int64', dims: [2], data: BigInt64Array.from([3n, 4n]) },
      text: { type: 'string', dims: [], data: ['b'] },
      mask: { type: 'bool', dims: [1], data: [false] },
    });
  });

  it.each([
    [{}, 'inputs'],
    [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP8', data: [1] }] }, 'inputs.0.datatype'],
    [{ inputs: [{ name: 'x', shape: [], datatype: 'FP32', data: [] }] }, 'inputs.0.shape'],
    [{ inputs: [{ name: 'x', shape: [1, 2], datatype: 'INT8', data: [1, 300] }] }, 'inputs.0.data.1'],
    [{ inputs: [{ name: 'x', shape: [1, 1], datatype: 'INT32', data: [1.5] }] }, 'inputs.0.data.0'],
    [
      {
        inputs: [
          { name: 'x', shape: [2], datatype: 'FP32', data: [1, 2] },
          { name: 'y', shape: [3], datatype: 'FP32', data: [1, 2, 3] },
        ],
      },
      'inputs.1.shape.0',
    ],
    [
      {
        inputs: [
          { name: 'x', shape: [1], datatype: 'FP32', data: [1] },
          { name: 'x', shape: [1], datatype: 'FP32', data: [1] },
        ],
      },
      'inputs.1.name',
    ],
    [{ inputs: [{ name: 'x', shape: [99], datatype: 'FP32', data: new Array(99).fill(0) }] }, 'inputs.0.shape.0'],
    [{ id: 7, inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }, 'id'],
  ])('rejects %j at %s', (body, path) => {
    expect(() => decodeV2Request(body, 16)).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', details: expect.objectContaining({ path }) }),
    );
  });

  it('answers INVALID_INPUT, and nothing else, for arbitrary bodies', () => {
    const tensor = fc.record({
      name: fc.oneof(fc.string(), fc.constant('x'), fc.integer()),
      shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 4 }), { maxLength: 4 }), fc.anything()),
      datatype: fc.oneof(fc.constantFrom('FP32', 'INT64', 'UINT8', 'BOOL', 'BYTES', 'FP16'), fc.string()),
      data: fc.oneof(fc.array(fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.string(), fc.array(fc.double()))), fc.anything()),
    });
    const body = fc.oneof(
      fc.anything(),
      fc.record({ id: fc.anything(), inputs: fc.array(tensor, { maxLength: 3 }) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(body, (value) => {
        try {
          decodeV2Request(value, 8);
        } catch (error) {
          return isBallastError(error) && error.code === 'INVALID_INPUT';
        }
        return true;
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('encodeV2Response', () => {
  it('stacks per-row outputs and keeps the requested ones', () => {
    const rows = [
      { y: { type: 'float32', dims: [2], data: Float32Array.from([1, 2]) }, z: { dims: [], data: [true] } },
      { y: { type: 'float32', dims: [2], data: Float32Array.from([3, 4]) }, z: { dims: [], data: [false] } },
    ];
    expect(encodeV2Response({ name: 'm', version: '3' }, 'id', rows, undefined)).toEqual({
      model_name: 'm',
      model_version: '3',
      id: 'id',
      outputs: [
        { name: 'y', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] },
        { name: 'z', shape: [2], datatype: 'BOOL', data: [true, false] },
      ],
    });
    expect(encodeV2Response({ name: 'm' }, undefined, rows, ['z']).outputs.map((o) => o.name)).toEqual(['z']);
    expect(() => encodeV2Response({ name: 'm' }, undefined, rows, ['nope'])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('reports a model answering something other than tensors as INTERNAL', () => {
    expect(() => encodeV2Response({ name: 'm' }, undefined, [{ y: 3 }], undefined)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    const ragged = [{ y: { dims: [1], data: [1] } }, { y: { dims: [2], data: [1, 2] } }];
    expect(() => encodeV2Response({ name: 'm' }, undefined, ragged, undefined)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});
