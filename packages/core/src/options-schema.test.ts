import { describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { closestKey, type OptionsSchema, parseOptions, type SchemaIssue } from './options-schema.js';

// A schema in zod's shape, written by hand: core takes schemas structurally and has no zod.
function schemaFailing(issues: SchemaIssue[], def?: unknown): OptionsSchema<never> & { def?: unknown } {
  return { safeParse: () => ({ success: false, error: { issues } }), ...(def === undefined ? {} : { def }) };
}

const objectDef = (shape: Record<string, unknown>) => ({ type: 'object', shape });

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('parseOptions', () => {
  it('returns the parsed value', () => {
    const schema: OptionsSchema<{ n: number }> = { safeParse: (value) => ({ success: true, data: value as { n: number } }) };
    expect(parseOptions('owner', schema, { n: 1 })).toEqual({ n: 1 });
  });

  it('throws CONFIG naming the owner, the dotted path and the message, with every issue', () => {
    const error = thrown(() =>
      parseOptions(
        'retry',
        schemaFailing([
          { code: 'too_small', path: ['budget', 'windowMs'], message: 'too small' },
          { code: 'invalid_type', path: ['random'], message: 'expected a function' },
        ]),
        {},
      ),
    );
    expect(isBallastError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'CONFIG',
      message: 'retry: budget.windowMs: too small',
      details: {
        path: 'budget.windowMs',
        issues: [
          { path: 'budget.windowMs', message: 'too small' },
          { path: 'random', message: 'expected a function' },
        ],
      },
    });
  });

  it('names an unknown key in its path and suggests the closest known key at that depth', () => {
    const def = objectDef({ retry: { def: { type: 'optional', innerType: { def: objectDef({ maxAttempts: {} }) } } }, breaker: {} });
    const top = thrown(() =>
      parseOptions('createClient', schemaFailing([{ code: 'unrecognized_keys', path: [], keys: ['retries'], message: 'x' }], def), {}),
    );
    expect(top).toMatchObject({
      message: 'createClient: retries: unknown option "retries"; did you mean "retry"?',
      details: { path: 'retries', suggestion: 'retry' },
    });
    const nested = thrown(() =>
      parseOptions(
        'createClient',
        schemaFailing([{ code: 'unrecognized_keys', path: ['retry'], keys: ['maxAttempt'], message: 'x' }], def),
        {},
      ),
    );
    expect(nested).toMatchObject({ details: { path: 'retry.maxAttempt', suggestion: 'maxAttempts' } });
    const far = thrown(() =>
      parseOptions('createClient', schemaFailing([{ code: 'unrecognized_keys', path: [], keys: ['colour'], message: 'x' }], def), {}),
    );
    expect((far as { details: Record<string, unknown> }).details.suggestion).toBeUndefined();
  });

  it('says "options" when the whole value is wrong', () => {
    expect(thrown(() => parseOptions('timeout', schemaFailing([{ path: [], message: 'expected object' }]), 7))).toMatchObject({
      message: 'timeout: options: expected object',
      details: { path: '' },
    });
  });
});

describe('closestKey', () => {
  it('matches by edit distance or by a shared stem, and not otherwise', () => {
    expect(closestKey('retries', ['retry', 'breaker'])).toBe('retry');
    expect(closestKey('reserve', ['reserveMs', 'when'])).toBe('reserveMs');
    expect(closestKey('bulkhed', ['bulkhead', 'cache'])).toBe('bulkhead');
    expect(closestKey('colour', ['retry', 'cache'])).toBeUndefined();
  });
});
