import { describe, expect, it } from 'vitest';
import { apiKeys } from './api-keys.js';
import { createGuard, credentialOf } from './guard.js';
import { memoryKeyStore } from './key-store.js';

const secret = 'server-secret-of-at-least-32-bytes!!';

describe('credentialOf', () => {
  it('reads Bearer, ApiKey, x-api-key, Fetch headers and raw strings', () => {
    expect(credentialOf({ headers: { authorization: 'Bearer abc' } })).toBe('abc');
    expect(credentialOf({ headers: { authorization: 'ApiKey abc' } })).toBe('abc');
    expect(credentialOf({ headers: { 'x-api-key': ['abc', 'def'] } })).toBe('abc');
    expect(credentialOf({ headers: new Headers({ 'X-Api-Key': 'abc' }) })).toBe('abc');
    expect(credentialOf('Bearer  abc ')).toBe('abc');
    expect(credentialOf('abc')).toBe('abc');
    expect(credentialOf({ headers: { authorization: 'Basic dXNlcjpwYXNz' } })).toBe('');
    expect(credentialOf({ headers: {} })).toBeUndefined();
  });
});

describe('createGuard', () => {
  it('authenticates requests, authorizes, limits, checks input and filters output', async () => {
    const keys = apiKeys({ secret, store: memoryKeyStore() });
    const { key } = await keys.create({ principalId: 'app', roles: ['infer'] });
    const guard = createGuard({
      keys,
      limits: { rate: { ratePerSecond: 1, burst: 1 } },
      input: { maxTextLength: 10 },
      models: { big: { input: { maxBodyBytes: 5_000_000 } } },
      output: { fields: ['secret'] },
    });
    const principal = await guard.authenticate({ headers: { authorization: `Bearer ${key}` } });
    expect(principal.id).toBe('app');
    expect(() => guard.authorize(principal, 'infer', 'm')).not.toThrow();
    expect(() => guard.authorize(principal, 'admin')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    guard.admit(principal, 'm');
    expect(() => guard.admit(principal, 'm')).toThrow(expect.objectContaining({ code: 'RATE_LIMITED' }));
    // Synchronous without a schema or classifier, like admit() with in-process limits.
    expect(() => guard.checkInput('m', { text: 'x'.repeat(11) })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(guard.checkInput('m', { text: 'short' })).toEqual({ text: 'short' });
    expect(guard.filterOutput('m', { secret: 's', ok: 1 })).toEqual({ secret: '[REDACTED]', ok: 1 });
    expect(guard.maxBodyBytes('m')).toBe(1024 * 1024);
    expect(guard.maxBodyBytes()).toBe(5_000_000);
    await expect(guard.authenticate({ headers: {} })).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'missing' } });
    await expect(guard.authenticate('Basic abc')).rejects.toMatchObject({ details: { reason: 'malformed' } });
  });

  it('supports a custom authenticator and an anonymous principal', async () => {
    const guard = createGuard({
      authenticate: (credential) => (credential === 'token-1' ? { id: 'jwt-user', roles: ['read'] } : undefined),
      anonymous: { id: 'anonymous', roles: [] },
    });
    await expect(guard.authenticate('Bearer token-1')).resolves.toMatchObject({ id: 'jwt-user' });
    await expect(guard.authenticate(undefined)).resolves.toMatchObject({ id: 'anonymous' });
    await expect(guard.authenticate('Bearer other')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'invalid' } });
    expect(() => createGuard({})).toThrow(/keys/);
  });
});

describe('credentialOf white space', () => {
  it('reads a credential with white space around it and after the scheme as trim() would', () => {
    expect(credentialOf('  Bearer \t abc \u00a0')).toBe('abc');
    expect(credentialOf('\u2028bearer abc\ufeff')).toBe('abc');
    expect(credentialOf('BEARER abc')).toBe('abc');
    expect(credentialOf('apikey abc')).toBe('abc');
    expect(credentialOf('Bearer    ')).toBe('Bearer');
    expect(credentialOf('Bearer \u0001abc')).toBe('\u0001abc');
    expect(credentialOf('Basic abc')).toBe('');
    expect(credentialOf('Bearers abc')).toBe('');
    expect(credentialOf('   ')).toBeUndefined();
  });
});

describe('credentialOf, the plain Bearer form', () => {
  // The rule every credential follows (trim, the scheme case-insensitively, trim again), written
  // out: the quick path for `Bearer <key>` must give what it gives.
  const byTheRule = (value: string): string | undefined => {
    const trimmed = value.trim();
    if (trimmed === '') return undefined;
    const space = trimmed.indexOf(' ');
    if (space === -1) return trimmed;
    const scheme = trimmed.slice(0, space).toLowerCase();
    if (scheme === 'bearer' || scheme === 'apikey') return trimmed.slice(space + 1).trim() || undefined;
    return '';
  };
  it('gives what trimming gives for every white space around the key', () => {
    const blanks = [
      ' ',
      '\t',
      '\n',
      '\r',
      '\v',
      '\f',
      '\u00a0',
      '\ufeff',
      '\u1680',
      '\u2000',
      '\u200a',
      '\u2028',
      '\u2029',
      '\u202f',
      '\u205f',
      '\u3000',
    ];
    const values = ['Bearer abc', 'Bearer a b', 'Bearer ', 'Bearer', 'Bearer \u0001x\u0001'];
    for (const blank of blanks) values.push(`Bearer ${blank}abc`, `Bearer abc${blank}`, `${blank}Bearer abc`, `Bearer ${blank}`);
    for (const value of values) expect(credentialOf(value), JSON.stringify(value)).toBe(byTheRule(value));
  });
});

describe('authenticateNow', () => {
  it('answers a cached key and the anonymous principal at once, throws what fails at once, and waits for the rest', async () => {
    const keys = apiKeys({ secret, store: memoryKeyStore() });
    const { key } = await keys.create({ principalId: 'app', roles: ['infer'] });
    const guard = createGuard({ keys });
    const request = { headers: { authorization: `Bearer ${key}` } };
    const first = guard.authenticateNow(request);
    expect(first).toBeInstanceOf(Promise);
    const principal = await first;
    expect(guard.authenticateNow(request)).toEqual(principal);
    expect(() => guard.authenticateNow({ headers: {} })).toThrow(expect.objectContaining({ details: { reason: 'missing' } }));
    expect(() => guard.authenticateNow('Basic abc')).toThrow(expect.objectContaining({ details: { reason: 'malformed' } }));
    const open = createGuard({ anonymous: { id: 'anyone', roles: ['infer'] } });
    expect(open.authenticateNow(undefined)).toEqual({ id: 'anyone', roles: ['infer'] });
    // The promise form still rejects rather than throws.
    await expect(guard.authenticate({ headers: {} })).rejects.toMatchObject({ details: { reason: 'missing' } });
  });
});
