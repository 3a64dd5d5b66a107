import { describe, expect, it } from 'vitest';
import { decodeV2Response, encodeV2Input, encodeV2Request, stringifyV2 } from './v2-codec.js';

describe('Open Inference Protocol v2 codec', () => {
  it('encodes every input form as a batch of one', () => {
    expect(encodeV2Input('s', 3)).toEqual({ name: 's', shape: [1], datatype: 'FP32', data: [3] });
    expect(encodeV2Input('t', 'hello')).toEqual({ name: 't', shape: [1], datatype: 'BYTES', data: ['hello'] });
    expect(encodeV2Input('i', new Int32Array([1, -2]))).toEqual({ name: 'i', shape: [1, 2], datatype: 'INT32', data: [1, -2] });
    expect(encodeV2Input('u', new BigUint64Array([7n]))).toEqual({ name: 'u', shape: [1, 1], datatype: 'UINT64', data: [7] });
    expect(
      encodeV2Input('n', [
        [1, 2, 3],
        [4, 5, 6],
      ]),
    ).toEqual({ name: 'n', shape: [1, 2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] });
    expect(encodeV2Input('d', { data: new Float64Array([1, 2, 3, 4]), dims: [2, 2] })).toEqual({
      name: 'd',
      shape: [1, 2, 2],
      datatype: 'FP64',
      data: [1, 2, 3, 4],
    });
    expect(encodeV2Input('typed', [1, 2], 'int64')).toEqual({ name: 'typed', shape: [1, 2], datatype: 'INT64', data: [1, 2] });
  });

  it('refuses what cannot travel exactly, with INVALID_INPUT naming the input', () => {
    // 64-bit integers beyond 2^53 travel exactly (as bigint, written as exact literals); beyond INT64 they cannot.
    expect(encodeV2Input('big', [2n ** 60n + 1n]).data).toEqual([2n ** 60n + 1n]);
    expect(stringifyV2(encodeV2Request({ big: [2n ** 60n + 1n] }))).toContain('[1152921504606846977]');
    expect(() => encodeV2Input('big', [2n ** 63n])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', details: { input: 'big' } }));
    expect(() => encodeV2Input('ragged', [[1], [2, 3]])).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeV2Input('mixed', [1, 'x'] as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeV2Input('dims', { data: [1, 2, 3], dims: [2, 2] })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeV2Request([1, 2] as never)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('checks integers against the same range table the server decodes with (core V2_INTEGER_RANGES)', () => {
    expect(() => encodeV2Input('u', [-1], 'uint64')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => encodeV2Input('u', new Uint8Array([1]))).not.toThrow();
    expect(() => encodeV2Input('i', [300], 'int8')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('builds a request with requested outputs and parameters', () => {
    expect(encodeV2Request({ x: [1] }, { outputs: ['y'], parameters: { top_k: 3 }, inputTypes: { x: 'float64' } })).toEqual({
      inputs: [{ name: 'x', shape: [1, 1], datatype: 'FP64', data: [1] }],
      outputs: [{ name: 'y' }],
      parameters: { top_k: 3 },
    });
  });

  it('decodes outputs into the shapes the in-process ONNX model returns', () => {
    const out = decodeV2Response({
      model_name: 'm',
      outputs: [
        { name: 'half', shape: [1, 2], datatype: 'FP16', data: [0.5, 1.5] },
        { name: 'labels', shape: [1, 2], datatype: 'BYTES', data: ['cat', 'dog'] },
        { name: 'flags', shape: [1, 2], datatype: 'BOOL', data: [1, 0] },
        { name: 'counts', shape: [1, 1], datatype: 'UINT8', data: [255] },
        { name: 'whole', shape: [3], datatype: 'INT32', data: [1, 2, 3] },
      ],
    });
    expect(out.half).toEqual({ type: 'float16', dims: [2], data: new Float32Array([0.5, 1.5]) });
    expect(out.labels).toEqual({ type: 'string', dims: [2], data: ['cat', 'dog'] });
    expect(out.flags).toEqual({ type: 'bool', dims: [2], data: [true, false] });
    expect(out.counts).toEqual({ type: 'uint8', dims: [1], data: new Uint8Array([255]) });
    // An output without the batch dimension is kept whole.
    expect(out.whole).toEqual({ type: 'int32', dims: [3], data: new Int32Array([1, 2, 3]) });
  });

  it('fails with UPSTREAM on responses that are not v2', () => {
    expect(() => decodeV2Response({ outputs: 'nope' })).toThrow(expect.objectContaining({ code: 'UPSTREAM' }));
    expect(() => decodeV2Response({ model_name: 'm', outputs: [{ name: 'y', shape: [1], datatype: 'FP128', data: [1] }] })).toThrow(
      expect.objectContaining({ code: 'UPSTREAM', details: { output: 'y' } }),
    );
    expect(() => decodeV2Response({ model_name: 'm', outputs: [{ name: 'y', shape: [1], datatype: 'BOOL', data: ['yes'] }] })).toThrow(
      expect.objectContaining({ code: 'UPSTREAM' }),
    );
  });
});
