import { request as httpRequest } from 'node:http';
import { defineModel, fromV2Datatype, type Model, type TensorType, type TensorValue } from '@ballast/core';
import { onnxModel } from '@ballast/onnx';
import { fixedShapeModel, identityModel, int64Model, multiInputModel } from '@ballast/onnx/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterFactory, SuiteServer } from './http-suite.js';

/*
 * Open Inference Protocol v2 conformance, run against every adapter (Express, Nest, Fastify): the
 * request shapes of the protocol's REST spec (kserve/open-inference-protocol,
 * specification/protocol/inference_rest.md) and of Triton's binary tensor data extension
 * (extension_binary_data.md), sent over real sockets on 127.0.0.1, and every field of every answer
 * checked as the spec defines it. The binary bodies here are written and read with DataView by
 * hand, not with the codec under test.
 */

type Row = Record<string, { data: ArrayLike<unknown>; dims: readonly number[] }>;

const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

/** Sample values of each datatype (exact in the type; 64-bit ones beyond 2^53; FP16 exact in half precision). */
const SAMPLES: Record<(typeof DATATYPES)[number], readonly unknown[]> = {
  BOOL: [true, false, true, true],
  UINT8: [0, 1, 200, 255],
  UINT16: [0, 7, 40_000, 65_535],
  UINT32: [0, 9, 3_000_000_000, 4_294_967_295],
  UINT64: [0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n],
  INT8: [-128, -1, 0, 127],
  INT16: [-32_768, -2, 3, 32_767],
  INT32: [-2_147_483_648, -5, 6, 2_147_483_647],
  INT64: [-(2n ** 63n), -(2n ** 53n) - 1n, 2n ** 53n + 1n, 2n ** 63n - 1n],
  FP16: [1, -2, 0.5, 65_504],
  FP32: [1.5, -0.25, 3e10, 0],
  FP64: [0.1, -1e300, 2 ** -1074, 123_456.789],
  BYTES: ['a', '', 'héllo', '{"json":1}'],
};

/** Element sizes of the fixed-size datatypes, bytes. */
const SIZES: Record<string, number> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

// Half-precision bit patterns of the FP16 samples (1, -2, 0.5, 65504).
const HALF_BITS = [0x3c00, 0xc000, 0x3800, 0x7bff];

/** Writes values as the extension's raw little-endian bytes (by hand, for the test). */
function toBytes(datatype: string, values: readonly unknown[]): Buffer {
  if (datatype === 'BYTES') {
    return Buffer.concat(
      values.map((v) => {
        const text = Buffer.from(v as string, 'utf8');
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32LE(text.length);
        return Buffer.concat([prefix, text]);
      }),
    );
  }
  const size = SIZES[datatype] as number;
  const out = Buffer.alloc(values.length * size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  values.forEach((v, i) => {
    const o = i * size;
    if (datatype === 'BOOL') view.setUint8(o, v ? 1 : 0);
    else if (datatype === 'UINT8') view.setUint8(o, v as number);
    else if (datatype === 'INT8') view.setInt8(o, v as number);
    else if (datatype === 'UINT16') view.setUint16(o, v as number, true);
    else if (datatype === 'INT16') view.setInt16(o, v as number, true);
    else if (datatype === 'FP16') view.setUint16(o, HALF_BITS[SAMPLES.FP16.indexOf(v)] as number, true);
    else if (datatype === 'UINT32') view.setUint32(o, v as number, true);
    else if (datatype === 'INT32') view.setInt32(o, v as number, true);
    else if (datatype === 'FP32') view.setFloat32(o, v as number, true);
    else if (datatype === 'UINT64') view.setBigUint64(o, v as bigint, true);
    else if (datatype === 'INT64') view.setBigInt64(o, v as bigint, true);
    else view.setFloat64(o, v as number, true);
  });
  return out;
}

/** The JSON text of a value, 64-bit integers as exact literals (what a Triton client writes). */
function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `@@${v}@@` : v)).replace(/"@@(-?\d+)@@"/g, '$1');
}

/** The numbers of a JSON array as written, in order: reads 64-bit integers exactly from the answer's text. */
function integerTokens(text: string, name: string): bigint[] {
  const at = text.indexOf(`"name":"${name}"`);
  const tail = text.slice(at);
  const data = /"data":\[([^\]]*)\]/.exec(tail)?.[1] ?? '';
  return data.split(',').map((token) => BigInt(token));
}

/** The value of a JSON sample as answered (FP32 rounded to single precision). */
function answered(datatype: string, values: readonly unknown[]): unknown[] {
  if (datatype === 'FP32') return values.map((v) => Math.fround(v as number));
  if (datatype === 'UINT64' || datatype === 'INT64') return values.map((v) => Number(v));
  return [...values];
}

interface Exchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: assertions read the JSON answer field by field
  json: any;
}

/** One request on a fresh connection; the answer's raw bytes and, when JSON, its parse. */
function send(url: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const request = httpRequest(
      { host: '127.0.0.1', port: target.port, path: target.pathname, method, agent: false, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const bytes = Buffer.concat(chunks);
          const text = bytes.toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, bytes, text, json });
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function postJson(url: string, path: string, body: unknown): Promise<Exchange> {
  return send(url, 'POST', path, jsonText(body), { 'content-type': 'application/json' });
}

/** A binary request: the JSON header, then each binary tensor's bytes. */
function postBinary(url: string, path: string, header: unknown, parts: readonly Buffer[]): Promise<Exchange> {
  const head = Buffer.from(jsonText(header), 'utf8');
  return send(url, 'POST', path, Buffer.concat([head, ...parts]), {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': String(head.length),
  });
}

/** Splits a binary answer into its JSON header and the bytes after it. */
// biome-ignore lint/suspicious/noExplicitAny: assertions read the JSON header field by field
function splitBinary(answer: Exchange): { header: any; rest: Buffer } {
  const length = Number(answer.headers['inference-header-content-length']);
  expect(Number.isInteger(length)).toBe(true);
  return { header: JSON.parse(answer.bytes.toString('utf8', 0, length)), rest: answer.bytes.subarray(length) };
}

/**
 * Echoes every input as `<name>_out`, typed by its name (an input named `FP16` is FP16): a
 * defineModel() model declaring no tensors (any datatype goes), batched by rows.
 */
function echoModel(): Model {
  return defineModel<Row, Record<string, TensorValue>>({
    name: 'echo',
    version: '3',
    async infer(row) {
      const out: Record<string, TensorValue> = {};
      for (const [name, tensor] of Object.entries(row)) {
        out[`${name}_out`] = { type: fromV2Datatype(name) as TensorType, dims: [...tensor.dims], data: tensor.data } as TensorValue;
      }
      return out;
    },
  });
}

/** Takes whole tensors (`perExample: false`): inputs of independent shapes; answers their sums and shapes. */
function wholeModel(): Model {
  return {
    name: 'whole',
    perExample: false,
    async infer(input: Row): Promise<Record<string, TensorValue>> {
      const sum = (name: string) => Array.from(input[name]?.data as ArrayLike<number>).reduce((a, b) => a + b, 0);
      return {
        sums: { type: 'float32', dims: [2], data: Float32Array.of(sum('a'), sum('b')) },
        rank: { type: 'int32', dims: [2], data: Int32Array.of(input.a?.dims.length ?? 0, input.b?.dims.length ?? 0) },
      };
    },
  } as Model;
}

/**
 * The model of the extension's own example: `input0` UINT32 [2, 2] and `input1` BOOL [3] (first
 * dimensions that differ, so it takes whole tensors), answering `output0` FP32 [3, 2]: each
 * input0 value (as a float) next to 1 or 0 for the matching input1 flag.
 */
function specExampleModel(): Model {
  return {
    name: 'mymodel',
    perExample: false,
    async infer(input: Row): Promise<Record<string, TensorValue>> {
      const values = Array.from(input.input0?.data as ArrayLike<number>);
      const flags = input.input1?.data as ArrayLike<boolean>;
      const data = new Float32Array(6);
      for (let i = 0; i < 3; i++) {
        data[2 * i] = values[i] as number;
        data[2 * i + 1] = flags[i] ? 1 : 0;
      }
      return { output0: { type: 'float32', dims: [3, 2], data } };
    },
  } as Model;
}

/**
 * Registers the conformance suite for one adapter. `start` serves the given models on 127.0.0.1
 * (Nest with `rawBody: true`, so 64-bit integers in JSON bodies stay exact).
 */
export function oipConformance(adapter: string, start: AdapterFactory): void {
  describe(`Open Inference Protocol v2 conformance (${adapter})`, () => {
    let server: SuiteServer;
    let url: string;
    const onnx: Model[] = [];

    beforeAll(async () => {
      onnx.push(
        await onnxModel({ bytes: int64Model({ width: 2, factor: 2 }), name: 'ids', version: '1' }),
        await onnxModel({ bytes: multiInputModel({ width: 3 }), name: 'pair' }),
        await onnxModel({ bytes: fixedShapeModel({ dims: [2, 3], offset: 1 }), name: 'fixed' }),
        await onnxModel({ bytes: identityModel({ type: 'float16', dims: [2] }), name: 'half' }),
        await onnxModel({ bytes: identityModel({ type: 'string', dims: [2] }), name: 'text' }),
        await onnxModel({ bytes: identityModel({ type: 'bool', dims: [2] }), name: 'flags' }),
      );
      server = await start([echoModel(), wholeModel(), specExampleModel(), ...onnx], {});
      url = server.url;
    }, 60_000);
    afterAll(async () => {
      await server?.close();
      await Promise.all(onnx.map((model) => model.close?.()));
    });

    it('answers server liveness, readiness and metadata', async () => {
      const live = await send(url, 'GET', '/v2/health/live');
      expect(live.status).toBe(200);
      expect(live.json.live).toBe(true);
      const ready = await send(url, 'GET', '/v2/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.json.ready).toBe(true);
      const metadata = await send(url, 'GET', '/v2');
      expect(metadata.status).toBe(200);
      expect(typeof metadata.json.name).toBe('string');
      expect(typeof metadata.json.version).toBe('string');
      expect(metadata.json.extensions).toContain('binary_tensor_data');
    });

    it('answers model readiness and metadata (platform onnx_onnxv1, -1 for variable dims)', async () => {
      const ready = await send(url, 'GET', '/v2/models/pair/ready');
      expect(ready.status).toBe(200);
      expect(ready.json.ready).toBe(true);
      const versionReady = await send(url, 'GET', '/v2/models/echo/versions/3/ready');
      expect(versionReady.status).toBe(200);
      const metadata = await send(url, 'GET', '/v2/models/pair');
      expect(metadata.status).toBe(200);
      expect(metadata.json).toEqual({
        name: 'pair',
        platform: 'onnx_onnxv1',
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [-1, 3] },
          { name: 'b', datatype: 'FP32', shape: [-1, 3] },
        ],
        outputs: [
          { name: 'sum', datatype: 'FP32', shape: [-1, 3] },
          { name: 'product', datatype: 'FP32', shape: [-1, 3] },
        ],
      });
      const ids = await send(url, 'GET', '/v2/models/ids/versions/1');
      expect(ids.json).toMatchObject({
        name: 'ids',
        versions: ['1'],
        platform: 'onnx_onnxv1',
        inputs: [{ name: 'ids', datatype: 'INT64', shape: [-1, 2] }],
      });
      const echo = await send(url, 'GET', '/v2/models/echo');
      expect(echo.json).toMatchObject({ name: 'echo', versions: ['3'], platform: 'ballast', inputs: [], outputs: [] });
      const unknown = await send(url, 'GET', '/v2/models/nope/ready');
      expect(unknown.status).toBe(404);
      expect(typeof unknown.json.error).toBe('string');
    });

    it('infers every datatype as JSON, echoing id and answering every output field', async () => {
      const inputs = DATATYPES.map((datatype) => ({ name: datatype, shape: [2, 2], datatype, data: SAMPLES[datatype] }));
      const answer = await postJson(url, '/v2/models/echo/versions/3/infer', { id: 'req-42', parameters: { priority: 1 }, inputs });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.json.model_name).toBe('echo');
      expect(answer.json.model_version).toBe('3');
      expect(answer.json.id).toBe('req-42');
      expect(answer.json.outputs.map((o: { name: string }) => o.name)).toEqual(DATATYPES.map((d) => `${d}_out`));
      for (const datatype of DATATYPES) {
        const output = answer.json.outputs.find((o: { name: string }) => o.name === `${datatype}_out`);
        expect(output.shape, datatype).toEqual([2, 2]);
        expect(output.datatype, datatype).toBe(datatype);
        expect(output.parameters, datatype).toBeUndefined();
        if (datatype === 'INT64' || datatype === 'UINT64') {
          // Exact: read from the answer's text, not through JSON.parse.
          expect(integerTokens(answer.text, `${datatype}_out`), datatype).toEqual(SAMPLES[datatype]);
        } else expect(output.data, datatype).toEqual(answered(datatype, SAMPLES[datatype]));
      }
    });

    it('accepts nested data arrays as the spec allows', async () => {
      const answer = await postJson(url, '/v2/models/echo/infer', {
        inputs: [
          {
            name: 'INT32',
            shape: [2, 2],
            datatype: 'INT32',
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
      });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json.outputs[0]).toEqual({ name: 'INT32_out', shape: [2, 2], datatype: 'INT32', data: [1, 2, 3, 4] });
      expect(answer.json.id).toBeUndefined();
    });

    it('infers every datatype as binary data both ways, with the layout of the extension', async () => {
      const inputs = DATATYPES.map((datatype) => {
        const bytes = toBytes(datatype, SAMPLES[datatype]);
        return { tensor: { name: datatype, shape: [2, 2], datatype, parameters: { binary_data_size: bytes.length } }, bytes };
      });
      const answer = await postBinary(
        url,
        '/v2/models/echo/infer',
        { id: 'bin-1', inputs: inputs.map((i) => i.tensor), parameters: { binary_data_output: true } },
        inputs.map((i) => i.bytes),
      );
      expect(answer.status, answer.text).toBe(200);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      const { header, rest } = splitBinary(answer);
      expect(header.model_name).toBe('echo');
      expect(header.model_version).toBe('3');
      expect(header.id).toBe('bin-1');
      let offset = 0;
      for (const [index, datatype] of DATATYPES.entries()) {
        const output = header.outputs[index];
        const expected = toBytes(datatype, SAMPLES[datatype]);
        expect(output, datatype).toEqual({
          name: `${datatype}_out`,
          shape: [2, 2],
          datatype,
          parameters: { binary_data_size: expected.length },
        });
        expect(rest.subarray(offset, offset + expected.length).equals(expected), datatype).toBe(true);
        offset += expected.length;
      }
      expect(offset).toBe(rest.length);
    });

    it("answers the binary extension's own example request (model_name in the body, 16 + 3 bytes in, 24 bytes out)", async () => {
      const input0 = toBytes('UINT32', [7, 8, 9, 10]);
      const input1 = toBytes('BOOL', [true, false, true]);
      expect(input0.length + input1.length).toBe(19);
      const answer = await postBinary(
        url,
        '/v2/models/mymodel/infer',
        {
          model_name: 'mymodel',
          inputs: [
            { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
            { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
          ],
          outputs: [{ name: 'output0', parameters: { binary_data: true } }],
        },
        [input0, input1],
      );
      expect(answer.status, answer.text).toBe(200);
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      const { header, rest } = splitBinary(answer);
      expect(Number(answer.headers['content-length'])).toBe(Number(answer.headers['inference-header-content-length']) + 24);
      expect(header).toEqual({
        model_name: 'mymodel',
        outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }],
      });
      expect(rest.equals(toBytes('FP32', [7, 1, 8, 0, 9, 1]))).toBe(true);
    });

    it('mixes binary and JSON tensors, and answers binary only for the outputs that ask', async () => {
      const a = toBytes('FP32', [1, 2, 3]);
      const answer = await postBinary(
        url,
        '/v2/models/pair/infer',
        {
          inputs: [
            { name: 'a', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: a.length } },
            { name: 'b', shape: [1, 3], datatype: 'FP32', data: [4, 5, 6] },
          ],
          outputs: [{ name: 'sum', parameters: { binary_data: true } }, { name: 'product' }],
        },
        [a],
      );
      expect(answer.status, answer.text).toBe(200);
      const { header, rest } = splitBinary(answer);
      expect(header.outputs).toEqual([
        { name: 'sum', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 12 } },
        { name: 'product', shape: [1, 3], datatype: 'FP32', data: [4, 10, 18] },
      ]);
      expect(rest.equals(toBytes('FP32', [5, 7, 9]))).toBe(true);
    });

    it('answers only the requested outputs', async () => {
      const answer = await postJson(url, '/v2/models/pair/infer', {
        inputs: [
          { name: 'a', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
          { name: 'b', shape: [2, 3], datatype: 'FP32', data: [1, 1, 1, 2, 2, 2] },
        ],
        outputs: [{ name: 'product' }],
      });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json).toEqual({
        model_name: 'pair',
        outputs: [{ name: 'product', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 8, 10, 12] }],
      });
    });

    it('carries INT64 beyond 2^53 exactly through a real ONNX model, as JSON and as binary', async () => {
      const ids = [2n ** 60n + 1n, -(2n ** 60n) - 3n, 2n ** 53n + 1n, 7n];
      const json = await postJson(url, '/v2/models/ids/infer', { inputs: [{ name: 'ids', shape: [2, 2], datatype: 'INT64', data: ids }] });
      expect(json.status, json.text).toBe(200);
      expect(json.json.model_version).toBe('1');
      expect(integerTokens(json.text, 'scaled')).toEqual(ids.map((v) => v * 2n));
      const bytes = toBytes('INT64', ids);
      const binary = await postBinary(
        url,
        '/v2/models/ids/infer',
        {
          inputs: [{ name: 'ids', shape: [2, 2], datatype: 'INT64', parameters: { binary_data_size: 32 } }],
          outputs: [{ name: 'scaled', parameters: { binary_data: true } }],
        },
        [bytes],
      );
      expect(binary.status, binary.text).toBe(200);
      const { header, rest } = splitBinary(binary);
      expect(header.outputs).toEqual([{ name: 'scaled', shape: [2, 2], datatype: 'INT64', parameters: { binary_data_size: 32 } }]);
      expect(
        rest.equals(
          toBytes(
            'INT64',
            ids.map((v) => v * 2n),
          ),
        ),
      ).toBe(true);
    });

    it('runs FP16, BYTES and BOOL through real ONNX models', async () => {
      const half = await postJson(url, '/v2/models/half/infer', {
        inputs: [{ name: 'x', shape: [2, 2], datatype: 'FP16', data: [1, -2, 0.5, 65_504] }],
      });
      expect(half.status, half.text).toBe(200);
      expect(half.json.outputs[0]).toEqual({ name: 'y', shape: [2, 2], datatype: 'FP16', data: [1, -2, 0.5, 65_504] });
      const text = await postJson(url, '/v2/models/text/infer', {
        inputs: [{ name: 'x', shape: [1, 2], datatype: 'BYTES', data: ['héllo', ''] }],
      });
      expect(text.status, text.text).toBe(200);
      expect(text.json.outputs[0]).toEqual({ name: 'y', shape: [1, 2], datatype: 'BYTES', data: ['héllo', ''] });
      const flags = await postJson(url, '/v2/models/flags/infer', {
        inputs: [{ name: 'x', shape: [1, 2], datatype: 'BOOL', data: [true, false] }],
      });
      expect(flags.status, flags.text).toBe(200);
      expect(flags.json.outputs[0]).toEqual({ name: 'y', shape: [1, 2], datatype: 'BOOL', data: [true, false] });
    });

    it('gives whole tensors of independent shapes to a model that takes whole tensors', async () => {
      const answer = await postJson(url, '/v2/models/whole/infer', {
        inputs: [
          { name: 'a', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
          { name: 'b', shape: [5], datatype: 'FP32', data: [1, 1, 1, 1, 1] },
        ],
      });
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json.outputs).toEqual([
        { name: 'sums', shape: [2], datatype: 'FP32', data: [21, 5] },
        { name: 'rank', shape: [2], datatype: 'INT32', data: [2, 1] },
      ]);
      // A fixed-shape ONNX model takes its one tensor whole, with no batch dimension added.
      const fixed = await postJson(url, '/v2/models/fixed/infer', {
        inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [0, 1, 2, 3, 4, 5] }],
      });
      expect(fixed.status, fixed.text).toBe(200);
      expect(fixed.json.outputs).toEqual([{ name: 'y', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }]);
      // A model that batches by rows still needs the shared first dimension.
      const rows = await postJson(url, '/v2/models/pair/infer', {
        inputs: [
          { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
          { name: 'b', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
        ],
      });
      expect(rows.status).toBe(400);
      expect(rows.json.error).toMatch(/first \(batch\) dimension/);
    });

    it("refuses FP64 data for an FP32 input with 400 and the spec's error body naming the input", async () => {
      const answer = await postJson(url, '/v2/models/pair/infer', {
        inputs: [
          { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
          { name: 'b', shape: [1, 3], datatype: 'FP64', data: [1, 2, 3] },
        ],
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error).toBe('input "b" has datatype FP32, got FP64');
      expect(answer.json.code).toBe('INVALID_INPUT');
      expect(answer.headers['x-ballast-error-code']).toBe('INVALID_INPUT');
    });

    it('refuses malformed binary requests with 400 and a message', async () => {
      const short = await postBinary(
        url,
        '/v2/models/echo/infer',
        { inputs: [{ name: 'FP32', shape: [1, 2], datatype: 'FP32', parameters: { binary_data_size: 8 } }] },
        [toBytes('FP32', [1])],
      );
      expect(short.status).toBe(400);
      expect(short.json.error).toMatch(/binary_data_size 8 runs past the binary data/);
      const sized = await postBinary(
        url,
        '/v2/models/echo/infer',
        { inputs: [{ name: 'FP32', shape: [1, 3], datatype: 'FP32', parameters: { binary_data_size: 8 } }] },
        [toBytes('FP32', [1, 2])],
      );
      expect(sized.status).toBe(400);
      expect(typeof sized.json.error).toBe('string');
      const header = await send(url, 'POST', '/v2/models/echo/infer', Buffer.from('{}'), {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': '99',
      });
      expect(header.status).toBe(400);
      expect(header.json.error).toMatch(/inference-header-content-length/);
    });
  });
}
