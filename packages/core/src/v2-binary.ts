import { BallastError } from './errors.js';

/*
 * The raw bytes of Triton's binary tensor data extension of the Open Inference Protocol v2
 * (little-endian elements; BOOL one byte each; BYTES each a 4-byte little-endian length, then its
 * bytes), shared by the serving side and the client.
 */

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

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
 * readBinaryTensor('FP32', 1, new Uint8Array(new Float32Array([1.5]).buffer), 'inputs[0]'); // [1.5]
 */
export function readBinaryTensor(datatype: string, count: number, bytes: Uint8Array, at: string): unknown[] {
  const size = ELEMENT_BYTES[datatype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (datatype === 'BYTES') {
    const out: string[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      if (offset + 4 > bytes.length) throw binaryInvalid(`BYTES element ${out.length} has a truncated length prefix`, at);
      const length = view.getUint32(offset, true);
      offset += 4;
      if (offset + length > bytes.length) throw binaryInvalid(`BYTES element ${out.length} runs past the tensor's bytes`, at);
      out.push(utf8.decode(bytes.subarray(offset, offset + length)));
      offset += length;
    }
    if (out.length !== count) throw binaryInvalid(`the shape holds ${count} values but the bytes hold ${out.length}`, at);
    return out;
  }
  if (size === undefined) throw binaryInvalid(`unknown datatype "${datatype}"`, at);
  if (bytes.length !== count * size) {
    throw binaryInvalid(`the shape holds ${count} ${datatype} values (${count * size} bytes) but binary_data_size is ${bytes.length}`, at);
  }
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
export function writeBinaryTensor(datatype: string, data: ArrayLike<unknown>): Uint8Array {
  if (datatype === 'BYTES') {
    const texts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < data.length; i++) {
      const text = utf8Encoder.encode(String(data[i]));
      texts.push(text);
      total += 4 + text.length;
    }
    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    let offset = 0;
    for (const text of texts) {
      view.setUint32(offset, text.length, true);
      out.set(text, offset + 4);
      offset += 4 + text.length;
    }
    return out;
  }
  const size = ELEMENT_BYTES[datatype];
  if (size === undefined) throw new BallastError('INTERNAL', `cannot write datatype "${datatype}" as binary data`);
  const bytes = new Uint8Array(data.length * size);
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
