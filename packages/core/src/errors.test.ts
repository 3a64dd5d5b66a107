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
