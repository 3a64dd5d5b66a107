import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeV2Request, encodeV2Outputs, isPlainEnvelope, v2RequestSchema } from './v2-codec.js';
import { encodeV2Answer, hasLongInteger, parseExactJson } from './v2-wire.js';

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

describe('isPlainEnvelope (the fast path of decodeV2Request)', () => {
  // Mostly well-formed bodies, each part sometimes replaced by a value just past one of the
  // schema's limits or of the wrong type, so both answers come up often.
  const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string({ maxLength: 4 }), fc.constant({}), fc.constant([]));
  const mostly = <T>(valid: fc.Arbitrary<T>, ...edges: unknown[]): fc.Arbitrary<unknown> =>
    edges.length === 0
      ? fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: junk, weight: 1 })
      : fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: fc.constantFrom(...edges), weight: 2 }, { arbitrary: junk, weight: 1 });
  const text = (minLength: number) => fc.string({ minLength, maxLength: 4 });
  const dimension = mostly(
    fc.integer({ min: 0, max: 3 }),
    -1,
    -0,
    2 ** 31,
    2 ** 31 + 1,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.MAX_SAFE_INTEGER + 2,
    '2',
  );
  const ones = (n: number) => Array.from({ length: n }, () => 1);
  const shape = mostly(fc.array(dimension, { minLength: 1, maxLength: 3 }), [], ones(16), ones(17));
  const data = mostly(fc.array(fc.oneof(fc.double(), fc.string({ maxLength: 2 }), fc.boolean(), fc.constant(null)), { maxLength: 4 }));
  const name = mostly(text(1), '', 'n'.repeat(256), 'n'.repeat(257));
  const datatype = mostly(fc.constantFrom('FP32', 'INT64', 'BYTES', ''), 'D'.repeat(16), 'D'.repeat(17));
  // Only the keys the fast path allows; sometimes one or more of them is missing.
  const tensor = fc.oneof(
    { arbitrary: fc.record({ name, shape, datatype, data }), weight: 12 },
    { arbitrary: fc.record({ name, shape, datatype, data }, { requiredKeys: [] }), weight: 2 },
    { arbitrary: junk, weight: 1 },
  );
  const well = { name: 'x', shape: [1], datatype: 'FP32', data: [1] };
  const inputs = mostly(
    fc.array(tensor, { minLength: 1, maxLength: 2 }),
    [],
    Array.from({ length: 256 }, () => well),
    Array.from({ length: 257 }, () => well),
  );
  const id = mostly(text(0), undefined, 'i'.repeat(256), 'i'.repeat(257));
  const envelope = fc.oneof(
    { arbitrary: fc.record({ id, inputs }, { requiredKeys: ['inputs'] }), weight: 12 },
    { arbitrary: fc.record({ id, inputs }, { requiredKeys: [] }), weight: 1 },
    { arbitrary: junk, weight: 1 },
  );

  it('accepts exactly what the schema accepts, for bodies with only the fast-path keys', () => {
    fc.assert(
      fc.property(envelope, (body) => {
        expect(isPlainEnvelope(body)).toBe(v2RequestSchema.safeParse(body).success);
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts nothing the schema rejects, and what it accepts the schema returns unchanged', () => {
    // Keys the fast path leaves to the schema, on the envelope and on a tensor.
    const extra = fc.record(
      {
        parameters: fc.oneof(fc.constant({ p: 1 }), junk),
        outputs: fc.oneof(fc.constant([{ name: 'y' }]), junk),
        other: junk,
      },
      { requiredKeys: [] },
    );
    const isObject = (value: unknown): value is Record<string, unknown> =>
      typeof value === 'object' && value !== null && !Array.isArray(value);
    fc.assert(
      fc.property(envelope, extra, extra, (body, more, tensorMore) => {
        const candidates: unknown[] = [body];
        if (isObject(body)) {
          candidates.push({ ...body, ...more });
          const [first, ...rest] = Array.isArray(body.inputs) ? body.inputs : [];
          if (isObject(first)) candidates.push({ ...body, inputs: [{ ...first, ...tensorMore }, ...rest] });
        }
        for (const candidate of candidates) {
          if (!isPlainEnvelope(candidate)) continue;
          const parsed = v2RequestSchema.safeParse(candidate);
          expect(parsed.success).toBe(true);
          expect(parsed.data).toEqual(candidate);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('64-bit integers and long literals', () => {
  it('keeps INT64 and UINT64 bigints exact, refuses them out of range, and reads long literals as floats for float inputs', () => {
    const body = parseExactJson(
      '{"inputs":[{"name":"i","shape":[1,2],"datatype":"INT64","data":[9223372036854775807,-9007199254740993]},' +
        '{"name":"f","shape":[1,1],"datatype":"FP64","data":[100000000000000000000]}]}',
    );
    const { rows } = decodeV2Request(body);
    expect(Array.from(rows[0]?.i?.data as BigInt64Array)).toEqual([2n ** 63n - 1n, -(2n ** 53n) - 1n]);
    expect(Array.from(rows[0]?.f?.data as Float64Array)).toEqual([1e20]);
    const over = parseExactJson('{"inputs":[{"name":"u","shape":[1,1],"datatype":"UINT64","data":[18446744073709551616]}]}');
    expect(() => decodeV2Request(over)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const int32 = parseExactJson('{"inputs":[{"name":"n","shape":[1,1],"datatype":"INT32","data":[12345678901234567]}]}');
    expect(() => decodeV2Request(int32)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('parses exactly only what holds a long integer literal: floats printed in full take JSON.parse', () => {
    // Long integer tokens, wherever a value starts.
    for (const text of ['9007199254740993', '[1, -9007199254740993]', '{"a":1234567890123456}', '{"a": [0,\n 12345678901234567]}']) {
      expect(hasLongInteger(text)).toBe(true);
    }
    // Floats with 16-17 digits (what clients send), long exponents, long fractions, short integers.
    for (const text of [
      '{"data":[0.12345678901234568,0.6000000000000001,-0.30000000000000004]}',
      '[1.2345678901234567e+300, 5e-1234567890123456, 12345678901234567.5, 1234567890123456e2]',
      '{"a":123456789012345}',
    ]) {
      expect(hasLongInteger(text)).toBe(false);
    }
    // Either way the values come out the same.
    const floats = '{"data":[0.12345678901234568,1.2345678901234567e+300,12345678901234567.5]}';
    expect(parseExactJson(floats)).toEqual(JSON.parse(floats));
  });

  it('answers INT64 outputs beyond 2^53 as exact literals', () => {
    const outputs = encodeV2Outputs([{ y: { type: 'int64', dims: [2], data: BigInt64Array.of(2n ** 62n + 1n, 5n) } }]);
    const answer = encodeV2Answer({ model_name: 'm', outputs }, { inputs: [] });
    expect(answer.bytes?.toString('utf8')).toBe(
      '{"model_name":"m","outputs":[{"name":"y","shape":[1,2],"datatype":"INT64","data":[4611686018427387905,5]}]}',
    );
  });
});
