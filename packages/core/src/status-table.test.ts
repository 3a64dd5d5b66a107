import { describe, expect, it } from 'vitest';
import { codeForHttpStatus, ERROR_CODES, httpStatusFor } from './index.js';
import { isV2Element, V2_INTEGER_RANGES } from './tensor.js';

describe('codeForHttpStatus', () => {
  it('reads every status core answers with back as a code with that status', () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusFor(code);
      if (status === 500) continue;
      const meaning = codeForHttpStatus(status);
      expect(meaning, `${code} → ${status}`).toBeDefined();
      expect(httpStatusFor(meaning?.code ?? 'INTERNAL')).toBe(status);
    }
  });

  it('reads 414, 415 and 422 as a malformed request and 499 as a cancelled one', () => {
    expect(codeForHttpStatus(414)?.code).toBe('INVALID_INPUT');
    expect(codeForHttpStatus(415)?.code).toBe('INVALID_INPUT');
    expect(codeForHttpStatus(422)?.code).toBe('INVALID_INPUT');
    expect(codeForHttpStatus(499)?.code).toBe('CANCELLED');
    expect(codeForHttpStatus(418)).toBeUndefined();
  });
});

describe('V2_INTEGER_RANGES', () => {
  it('bounds 64-bit integers to exact JSON numbers, unsigned ones from 0', () => {
    expect(V2_INTEGER_RANGES.int64).toEqual([Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    expect(isV2Element('int64', 2 ** 53)).toBe(false);
    expect(isV2Element('uint64', -1)).toBe(false);
    expect(isV2Element('uint8', 255)).toBe(true);
    expect(isV2Element('uint8', 256)).toBe(false);
    expect(isV2Element('float32', Number.NaN)).toBe(false);
  });
});
