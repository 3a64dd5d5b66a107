import { BallastError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { errorType } from './error-type.js';
import { errorType as exported } from './index.js';

describe('errorType()', () => {
  it('names error types: Ballast codes, error names, _OTHER', () => {
    expect(exported).toBe(errorType);
    expect(errorType(new BallastError('RATE_LIMITED', 'slow down'))).toBe('RATE_LIMITED');
    expect(errorType(new RangeError('bad'))).toBe('RangeError');
    expect(errorType('a string')).toBe('_OTHER');
    expect(errorType(undefined)).toBe('_OTHER');
  });
});
