import { BallastError, type V2InferResponse, writeBinaryTensor } from '@ballast/core';
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

// An integer token of 16 or more digits is the only JSON number JSON.parse may round where an
// exact value is wanted (2^53 has 16 digits); a body without one parses exactly with JSON.parse,
// the fast path. A run of digits counts only at the start of a token (after a delimiter, an
// optional minus) and not followed by a fraction or an exponent: a float's own digits (a float64
// printed in full has 16-17 of them, as nearly every client's floats are) need no exact parse,
// and taking lossless-json's parser for them costs a JSON request twice its parse time.
const LONG_INTEGER = /(?:^|[^\w.+-])-?\d{16,}(?![\d.eE])/;

/** @internal Whether `text` holds an integer literal JSON.parse may round (see {@link parseExactJson}). */
export function hasLongInteger(text: string): boolean {
  return LONG_INTEGER.test(text);
}
// Stops at the first character that is not white space: cheap on every real body.
const BLANK = /^\s*$/;

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
  if (!LONG_INTEGER.test(text)) return JSON.parse(text);
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
    // Not `text.trim() === ''`: trimming copies the whole body (about 0.6 µs for a small request).
    // A body that starts with `{` (every v2 request) is not blank: the pattern runs only otherwise.
    if (text.charCodeAt(0) !== 0x7b && BLANK.test(text)) throw new BallastError('INVALID_INPUT', 'a JSON request body is required');
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
  // Most requests ask for nothing: no map and no array for them.
  if (request.parameters === undefined && request.outputs === undefined) return undefined;
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
    parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
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
