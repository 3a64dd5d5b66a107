import { describe, expect, it } from 'vitest';
import { BallastError, ERROR_CODES, httpStatusFor, isBallastError, isRetryableCode, toBallastError } from './errors.js';

describe('BallastError', () => {
  it('carries code, retryable default, retryAfterMs, cause and details', () => {
    const cause = new Error('socket hang up');
    const error = new BallastError('RATE_LIMITED', 'slow down', { retryAfterMs: 250, cause, details: { key: 'k1' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(250);
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ key: 'k1' });
    expect(error.status).toBe(429);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'RATE_LIMITED',
      message: 'slow down',
      details: { key: 'k1' },
      retryAfterMs: 250,
    });
  });

  it('lets the thrower override retryable', () => {
    expect(new BallastError('UPSTREAM', 'x').retryable).toBe(false);
    expect(new BallastError('UPSTREAM', 'x', { retryable: true }).retryable).toBe(true);
    expect(new BallastError('OVERLOADED', 'x', { retryable: false }).retryable).toBe(false);
  });

  it('maps every code to one HTTP status', () => {
    const table = Object.fromEntries(ERROR_CODES.map((code) => [code, httpStatusFor(code)]));
    expect(table).toEqual({
      TIMEOUT: 504,
      CANCELLED: 499,
      CIRCUIT_OPEN: 503,
      RATE_LIMITED: 429,
      OVERLOADED: 503,
      INVALID_INPUT: 400,
      NOT_FOUND: 404,
      PAYLOAD_TOO_LARGE: 413,
      MODEL_UNAVAILABLE: 503,
      UPSTREAM: 502,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      INTEGRITY: 500,
      CONFIG: 500,
      INTERNAL: 500,
    });
    expect(ERROR_CODES.filter(isRetryableCode)).toEqual(['RATE_LIMITED', 'OVERLOADED', 'MODEL_UNAVAILABLE']);
  });

  it('is recognised across duplicated copies of the package', async () => {
    // A query string gives a second, independent instance of the module, as a duplicated
    // dependency would.
    const duplicate = './errors.ts?duplicate';
    const copy = (await import(/* @vite-ignore */ duplicate)) as typeof import('./errors.js');
    expect(copy.BallastError).not.toBe(BallastError);
    const foreign = new copy.BallastError('TIMEOUT', 'from the other copy');
    expect(foreign instanceof BallastError).toBe(false);
    expect(isBallastError(foreign)).toBe(true);
    expect(copy.isBallastError(new BallastError('CANCELLED', 'x'))).toBe(true);
  });

  it('does not mistake other values for Ballast errors', () => {
    for (const value of [null, undefined, 0, 'TIMEOUT', new Error('x'), { code: 'TIMEOUT' }]) {
      expect(isBallastError(value)).toBe(false);
    }
  });

  it('wraps unknown thrown values, keeping the original as cause', () => {
    const original = new TypeError('boom');
    const wrapped = toBallastError(original, 'UPSTREAM');
    expect(wrapped.code).toBe('UPSTREAM');
    expect(wrapped.message).toBe('boom');
    expect(wrapped.cause).toBe(original);
    const already = new BallastError('FORBIDDEN', 'no');
    expect(toBallastError(already)).toBe(already);
    expect(toBallastError('text').code).toBe('INTERNAL');
  });
});

describe('toBallastError classifies errors thrown by HTTP SDKs', () => {
  const sdkError = (status: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`HTTP ${status}`), { status, ...extra });

  it('reads status or statusCode: 429 RATE_LIMITED, 502/503/504 retryable, other 4xx not retryable, the original as cause', () => {
    const table = [429, 502, 503, 504, 400, 401, 403, 404, 409, 413, 422, 500].map((status) => {
      const original = status === 409 ? Object.assign(new Error('conflict'), { statusCode: status }) : sdkError(status);
      const error = toBallastError(original);
      expect(error.cause).toBe(original);
      expect(error.details).toMatchObject({ status });
      return [status, error.code, error.retryable];
    });
    expect(table).toEqual([
      [429, 'RATE_LIMITED', true],
      [502, 'UPSTREAM', true],
      [503, 'MODEL_UNAVAILABLE', true],
      [504, 'UPSTREAM', true],
      [400, 'INVALID_INPUT', false],
      [401, 'UNAUTHENTICATED', false],
      [403, 'FORBIDDEN', false],
      [404, 'NOT_FOUND', false],
      [409, 'UPSTREAM', false],
      [413, 'PAYLOAD_TOO_LARGE', false],
      [422, 'INVALID_INPUT', false],
      [500, 'UPSTREAM', false],
    ]);
    expect(toBallastError(sdkError(503)).message).toBe('HTTP 503');
  });

  it('reads Retry-After from plain headers, a Headers object, retry-after-ms, and axios/got response headers', () => {
    expect(toBallastError(sdkError(429, { headers: { 'Retry-After': '2' } })).retryAfterMs).toBe(2000);
    expect(toBallastError(sdkError(503, { headers: new Headers({ 'retry-after': '3' }) })).retryAfterMs).toBe(3000);
    expect(toBallastError(sdkError(429, { headers: new Headers({ 'retry-after-ms': '150', 'retry-after': '1' }) })).retryAfterMs).toBe(150);
    // axios: no status on the error itself; response.status and response.headers (lower-case keys, with get()).
    const axiosHeaders = Object.assign(
      Object.create({
        get(this: Record<string, string>, name: string) {
          return this[name.toLowerCase()];
        },
      }),
      {
        'retry-after': '4',
      },
    );
    const axios = Object.assign(new Error('Request failed with status code 503'), {
      isAxiosError: true,
      response: { status: 503, headers: axiosHeaders },
    });
    expect(toBallastError(axios)).toMatchObject({ code: 'MODEL_UNAVAILABLE', retryable: true, retryAfterMs: 4000 });
    // got: response.statusCode and plain response.headers.
    const got = Object.assign(new Error('Response code 429 (Too Many Requests)'), {
      response: { statusCode: 429, headers: { 'retry-after': '5' } },
    });
    expect(toBallastError(got)).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 5000 });
  });

  it('leaves values without an HTTP error status to the given code', () => {
    expect(toBallastError(Object.assign(new Error('x'), { status: 200 })).code).toBe('INTERNAL');
    expect(toBallastError(Object.assign(new Error('x'), { status: '503' })).code).toBe('INTERNAL');
    expect(toBallastError(new Error('x'), 'UPSTREAM').code).toBe('UPSTREAM');
    expect(toBallastError('plain')).toMatchObject({ code: 'INTERNAL', message: 'plain' });
  });
});
