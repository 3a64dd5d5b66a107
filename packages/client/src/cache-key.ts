import { BallastError } from '@ballast/core';

/*
 * The result-cache key: `<model name>@<version>:<canonical input>`.
 *
 * Canonical form (stable across processes and key orders):
 * - strings as JSON strings; finite numbers as JSON numbers; NaN/Infinity/-Infinity by name;
 *   -0 as 0; booleans and null as JSON; undefined as `u`; bigints as `<digits>n`;
 * - arrays as `[a,b]`; plain objects as `{"k":v}` with keys sorted and undefined values dropped;
 * - typed arrays as `<TypeName>(<byte length>:<their bytes as latin1 chars>)` (so a Float32Array of
 *   16 values is 64 chars of data), ArrayBuffers as `ArrayBuffer(<byte length>:<latin1>)`, Dates as
 *   `Date(<ISO>)`.
 * Anything else (Maps, class instances, functions, cycles) has no canonical form: the call is not
 * cached unless the caller passes `options.cacheKey`.
 */

// latin1 maps each byte to one char (0-255): the shortest exact string of the bytes, and the
// cheapest for the cache's Map to hash. The byte length is written first, so the form stays
// unambiguous inside arrays and objects.
function bytesOf(view: ArrayBufferView): string {
  return `${view.byteLength}:${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('latin1')}`;
}

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? (Object.is(value, -0) ? '0' : String(value)) : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'u';
    case 'bigint':
      return `${value}n`;
    case 'object': {
      if (value === null) return 'null';
      if (depth > 64) throw new BallastError('INVALID_INPUT', 'cache key: input nests too deeply');
      if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${bytesOf(value)})`;
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i], depth + 1);
        return `${out}]`;
      }
      if (value instanceof ArrayBuffer) return `ArrayBuffer(${bytesOf(new Uint8Array(value))})`;
      if (value instanceof Date) return `Date(${value.toISOString()})`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new BallastError('INVALID_INPUT', `cache key: no canonical form for ${proto?.constructor?.name ?? 'this object'}`);
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = record[key];
        if (item === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(key)}:${write(item, depth + 1)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new BallastError('INVALID_INPUT', `cache key: no canonical form for a ${typeof value}`);
  }
}

/**
 * The canonical string of an input (see the rules above). Throws `INVALID_INPUT` for values with
 * no canonical form.
 *
 * @example
 * canonicalKey({ b: 1, a: [true, 'x'] }); // '{"a":[true,"x"],"b":1}'
 * canonicalKey(new Float32Array([1])); // 'Float32Array(4:\x00\x00\x80?)'
 */
export function canonicalKey(input: unknown): string {
  return write(input, 0);
}

/** @internal `<model name>@<version>:`, the part of a cache key that names the model. */
export function keyPrefix(model: { readonly name: string; readonly version?: string | undefined }): string {
  return `${model.name}@${model.version ?? ''}:`;
}

/**
 * @internal The key for a part given by the caller (`options.cacheKey`) or a key function. The
 * `#` keeps it apart from canonical inputs, none of which starts with one.
 */
export function givenKey(prefix: string, part: string): string {
  return `${prefix}#${part}`;
}

/**
 * The full cache key of a call: model name and version, then `options.cacheKey` when given
 * (prefixed with `#`) or the canonical input.
 *
 * @example
 * cacheKeyOf({ name: 'scorer', version: '3' }, [1, 2]); // 'scorer@3:[1,2]'
 */
export function cacheKeyOf(
  model: { readonly name: string; readonly version?: string | undefined },
  input: unknown,
  cacheKey?: string,
): string {
  const prefix = keyPrefix(model);
  return cacheKey === undefined ? prefix + write(input, 0) : givenKey(prefix, cacheKey);
}
