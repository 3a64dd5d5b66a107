import { BallastError, type V2InferResponse } from '@ballast/core';
import { isInteger, isSafeNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

/*
 * The bytes of the Open Inference Protocol v2 on the wire: JSON with exact 64-bit integers, and
 * Triton's binary tensor data extension (a JSON header of `Inference-Header-Content-Length` bytes,
 * then each binary tensor's raw little-endian bytes, in the order of the tensors that carry
 * `parameters.binary_data_size`).
 */

/** The header holding the JSON header's length in a binary request or response (lower case, as Node reads it). */
export const V2_HEADER_LENGTH = 'inference-header-content-length';

/** The content type of a binary request or response. */
export const V2_BINARY_CONTENT_TYPE = 'application/octet-stream';

/**
 * A request body of the binary tensor data extension: the JSON header and the bytes after it.
 * What `readJsonBody` gives for a request with `Inference-Header-Content-Length`.
 */
export class V2BinaryBody {
  /**
   * @param header the parsed JSON header.
   * @param binary the bytes after the header (every binary input, in order).
   */
  constructor(
    readonly header: unknown,
    readonly binary: Buffer,
  ) {}
}

// An integer token of 16 or more digits is the only JSON number JSON.parse may round (2^53 has
// 16 digits); a body without one parses exactly with JSON.parse, the fast path.
const LONG_DIGITS = /\d{16}/;

function exactNumber(token: string): number | bigint {
  if (isInteger(token) && !isSafeNumber(token)) return BigInt(token);
  return Number(token);
}

/**
 * Parses JSON keeping integer literals beyond 2^53 exact, as `bigint` (64-bit tensors carry them);
 * every other number is a `number`. `JSON.parse` rounds them, and its reviver sees the source text
 * only from Node 21 (Node 20 is supported), so a body with a long digit run is parsed with
 * `lossless-json` (maintained, one small dependency) instead; other bodies take `JSON.parse`.
 *
 * @example
 * parseExactJson('{"data":[9007199254740993]}'); // { data: [9007199254740993n] }
 */
export function parseExactJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return parseLossless(text, null, exactNumber);
}

/**
 * Writes JSON with `bigint` values as exact integer literals (`JSON.stringify` throws on them).
 *
 * @example
 * stringifyExactJson({ data: [2n ** 63n - 1n] }); // '{"data":[9223372036854775807]}'
 */
export function stringifyExactJson(value: unknown): string {
  return stringifyLossless(value) as string;
}

/**
 * Parses a request body: JSON (exact 64-bit integers, see {@link parseExactJson}), or, when
 * `headerLength` (the `Inference-Header-Content-Length` header) is given, a binary request
 * ({@link V2BinaryBody}). Malformed input is `INVALID_INPUT` with `details.reason`.
 *
 * @example
 * parseV2Body(Buffer.from('{"inputs":[]}'), undefined); // { inputs: [] }
 */
export function parseV2Body(bytes: Buffer, headerLength: string | string[] | undefined): unknown {
  if (headerLength === undefined) {
    const text = bytes.toString('utf8');
    if (text.trim() === '') throw new BallastError('INVALID_INPUT', 'a JSON request body is required');
    return parseJsonText(text);
  }
  const length = Number(headerLength);
  if (typeof headerLength !== 'string' || !/^\d+$/.test(headerLength.trim()) || length > bytes.length) {
    throw new BallastError('INVALID_INPUT', `${V2_HEADER_LENGTH} must be a byte count within the body (${bytes.length} bytes)`, {
      details: { reason: 'binary-header-length', headerLength, bodyBytes: bytes.length },
    });
  }
  const header = parseJsonText(bytes.toString('utf8', 0, length));
  return new V2BinaryBody(header, bytes.subarray(length));
}

function parseJsonText(text: string): unknown {
  try {
    return parseExactJson(text);
  } catch (error) {
    throw new BallastError('INVALID_INPUT', 'the request body is not valid JSON', { cause: error, details: { reason: 'malformed-json' } });
  }
}

/** Bytes per element of the fixed-size v2 datatypes. */
const ELEMENT_BYTES: Record<string, number> = {
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

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

// Rounds to nearest even through a Float32 (exact for every half value).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function numberToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  const mantissa = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - exponent;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (rest > midpoint || (rest === midpoint && half & 1) ? half + 1 : half);
  }
  const half = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half);
}

/**
 * Reads the `count` elements of one binary tensor (`bytes`, little-endian) as flat values: numbers,
 * `bigint` for INT64/UINT64, booleans for BOOL, strings for BYTES (each a 4-byte little-endian
 * length, then its bytes, read as UTF-8). `at` names the tensor in errors.
 *
 * @example
 * readBinaryTensor('FP32', 1, Buffer.from(new Float32Array([1.5]).buffer), 'inputs[0]'); // [1.5]
 */
export function readBinaryTensor(datatype: string, count: number, bytes: Buffer, at: string): unknown[] {
  const size = ELEMENT_BYTES[datatype];
  if (datatype === 'BYTES') {
    const out: string[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      if (offset + 4 > bytes.length) throw binaryInvalid(`BYTES element ${out.length} has a truncated length prefix`, at);
      const length = bytes.readUInt32LE(offset);
      offset += 4;
      if (offset + length > bytes.length) throw binaryInvalid(`BYTES element ${out.length} runs past the tensor's bytes`, at);
      out.push(bytes.toString('utf8', offset, offset + length));
      offset += length;
    }
    if (out.length !== count) throw binaryInvalid(`the shape holds ${count} values but the bytes hold ${out.length}`, at);
    return out;
  }
  if (size === undefined) throw binaryInvalid(`unknown datatype "${datatype}"`, at);
  if (bytes.length !== count * size) {
    throw binaryInvalid(`the shape holds ${count} ${datatype} values (${count * size} bytes) but binary_data_size is ${bytes.length}`, at);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (datatype) {
      case 'BOOL':
        out[i] = view.getUint8(o) !== 0;
        break;
      case 'UINT8':
        out[i] = view.getUint8(o);
        break;
      case 'INT8':
        out[i] = view.getInt8(o);
        break;
      case 'UINT16':
        out[i] = view.getUint16(o, true);
        break;
      case 'INT16':
        out[i] = view.getInt16(o, true);
        break;
      case 'FP16':
        out[i] = halfToNumber(view.getUint16(o, true));
        break;
      case 'UINT32':
        out[i] = view.getUint32(o, true);
        break;
      case 'INT32':
        out[i] = view.getInt32(o, true);
        break;
      case 'FP32':
        out[i] = view.getFloat32(o, true);
        break;
      case 'UINT64':
        out[i] = view.getBigUint64(o, true);
        break;
      case 'INT64':
        out[i] = view.getBigInt64(o, true);
        break;
      default:
        out[i] = view.getFloat64(o, true);
    }
  }
  return out;
}

function binaryInvalid(message: string, at: string): BallastError {
  return new BallastError('INVALID_INPUT', message, {
    details: { issues: [{ path: `${at}.parameters.binary_data_size`, message, code: 'binary' }] },
  });
}

/**
 * Writes one tensor's flat data as the extension's raw bytes (little-endian; BYTES as 4-byte
 * length-prefixed UTF-8; BOOL one byte each; FP16 rounded to nearest even).
 *
 * @example
 * writeBinaryTensor('INT32', [1, 2]).length; // 8
 */
export function writeBinaryTensor(datatype: string, data: ArrayLike<unknown>): Buffer {
  if (datatype === 'BYTES') {
    const parts: Buffer[] = [];
    for (let i = 0; i < data.length; i++) {
      const text = Buffer.from(String(data[i]), 'utf8');
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeUInt32LE(text.length, 0);
      parts.push(prefix, text);
    }
    return Buffer.concat(parts);
  }
  const size = ELEMENT_BYTES[datatype];
  if (size === undefined) throw new BallastError('INTERNAL', `cannot write datatype "${datatype}" as binary data`);
  const bytes = Buffer.alloc(data.length * size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const o = i * size;
    switch (datatype) {
      case 'BOOL':
        view.setUint8(o, v ? 1 : 0);
        break;
      case 'UINT8':
        view.setUint8(o, Number(v));
        break;
      case 'INT8':
        view.setInt8(o, Number(v));
        break;
      case 'UINT16':
        view.setUint16(o, Number(v), true);
        break;
      case 'INT16':
        view.setInt16(o, Number(v), true);
        break;
      case 'FP16':
        view.setUint16(o, numberToHalf(Number(v)), true);
        break;
      case 'UINT32':
        view.setUint32(o, Number(v), true);
        break;
      case 'INT32':
        view.setInt32(o, Number(v), true);
        break;
      case 'FP32':
        view.setFloat32(o, Number(v), true);
        break;
      case 'UINT64':
        view.setBigUint64(o, BigInt(v as number | bigint), true);
        break;
      case 'INT64':
        view.setBigInt64(o, BigInt(v as number | bigint), true);
        break;
      default:
        view.setFloat64(o, Number(v), true);
    }
  }
  return bytes;
}

/** An encoded v2 infer answer: a JSON object to write as is, or bytes with their headers. */
export type V2Answer =
  | { readonly json: V2InferResponse; readonly bytes?: undefined }
  | { readonly bytes: Buffer; readonly contentType: string; readonly headerLength?: number; readonly json?: undefined };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The outputs a request asks for as binary data: `parameters.binary_data_output: true` asks for
 * every output, `outputs[].parameters.binary_data` for one (overriding the request's default).
 */
function binaryOutputChoice(body: unknown): { all: boolean; named: Map<string, boolean> } | undefined {
  const request = body instanceof V2BinaryBody ? body.header : body;
  if (!isRecord(request)) return undefined;
  const all = isRecord(request.parameters) && request.parameters.binary_data_output === true;
  const named = new Map<string, boolean>();
  if (Array.isArray(request.outputs)) {
    for (const output of request.outputs) {
      if (isRecord(output) && typeof output.name === 'string' && isRecord(output.parameters)) {
        const flag = output.parameters.binary_data;
        if (typeof flag === 'boolean') named.set(output.name, flag);
      }
    }
  }
  if (!all && ![...named.values()].some(Boolean)) return undefined;
  return { all, named };
}

function hasBigInt(response: V2InferResponse): boolean {
  for (const output of response.outputs) {
    if (output.datatype !== 'INT64' && output.datatype !== 'UINT64') continue;
    for (const v of output.data as unknown[]) if (typeof v === 'bigint') return true;
  }
  return false;
}

/**
 * Encodes an infer response for the request `body` it answers: the response as is (the fast path),
 * JSON text with exact 64-bit integers when an output holds one beyond 2^53, or the binary tensor
 * data extension when the request asked for binary outputs (the JSON header, whose binary outputs
 * carry `parameters.binary_data_size` and no `data`, then their bytes; `headerLength` is the
 * `Inference-Header-Content-Length` to answer).
 *
 * @example
 * const answer = encodeV2Answer(response, body);
 * if (answer.json !== undefined) res.json(answer.json);
 */
export function encodeV2Answer(response: V2InferResponse, body: unknown): V2Answer {
  const choice = binaryOutputChoice(body);
  if (choice === undefined) {
    if (!hasBigInt(response)) return { json: response };
    return { bytes: Buffer.from(stringifyExactJson(response), 'utf8'), contentType: 'application/json' };
  }
  const parts: Buffer[] = [];
  const outputs = response.outputs.map((output) => {
    const binary = choice.named.get(output.name) ?? choice.all;
    if (!binary) return output;
    const bytes = writeBinaryTensor(output.datatype, output.data);
    parts.push(bytes);
    const { data: _data, ...rest } = output;
    return { ...rest, parameters: { ...output.parameters, binary_data_size: bytes.length } };
  });
  const header = Buffer.from(stringifyExactJson({ ...response, outputs }), 'utf8');
  return {
    bytes: Buffer.concat([header, ...parts]),
    contentType: V2_BINARY_CONTENT_TYPE,
    headerLength: header.length,
  };
}
